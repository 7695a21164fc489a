// Token (and learned positional) embeddings: a gather of table rows by u32 id, and its gradient as a
// deterministic per-row sum. Positional embeddings are the same op over position ids; weight tying
// binds the same table buffer to the embedding and to the output projection.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

/** ids has `tokens` u32 values; the table is row-major [vocab, width]; out is [tokens, width]. */
export interface EmbeddingShape { tokens: number; vocab: number; width: number }

function embeddingParams(who: string, s: EmbeddingShape): Record<string, number> {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${value}`);
  }
  return { tokens: s.tokens, vocab: s.vocab, width: s.width };
}

/** out[i, :] = table[ids[i], :]; an id ≥ vocab gives a zero row (it never reads past the table). */
export function embeddingForward(gpu: Gpu, s: EmbeddingShape, io: { ids: BufferRef; table: BufferRef; out: BufferRef }): Dispatch[] {
  const params = embeddingParams('embeddingForward', s);
  const k = kernel(gpu, 'embedding', 'forward');
  return [k.dispatch({ ids: io.ids, table: io.table, out: io.out, params }, grid1d(gpu, s.tokens, 1), 'embeddingForward')];
}

/**
 * dTable[v, :] = Σ_{i: ids[i] = v} dOut[i, :], overwriting dTable (rows no id names become zero);
 * ids ≥ vocab contribute nothing. Work is vocab·width·tokens comparisons (see embedding.wgsl).
 */
export function embeddingBackward(gpu: Gpu, s: EmbeddingShape, io: { ids: BufferRef; dOut: BufferRef; dTable: BufferRef }): Dispatch[] {
  const params = embeddingParams('embeddingBackward', s);
  const k = kernel(gpu, 'embedding', 'backward');
  return [k.dispatch({ ids: io.ids, dOut: io.dOut, dTable: io.dTable, params }, grid1d(gpu, s.vocab, 1), 'embeddingBackward')];
}
