// Token (and learned positional) embeddings: a gather of table rows by u32 id, and its gradient as a
// deterministic per-row sum. Positional embeddings are the same op over position ids; weight tying
// binds the same table buffer to the embedding and to the output projection.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

/** ids has `tokens` u32 values; the table is row-major [vocab, width]; out is [tokens, width]. */
export interface EmbeddingShape { tokens: number; vocab: number; width: number }

/** Ids per workgroup of the bucketing pass (WG in embedding.wgsl). */
const WORKGROUP_SIZE = 64;

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

/** u32 words of scratch embeddingBackward needs: the tokens bucketed by id. */
export function embeddingScratchWords(s: EmbeddingShape): number {
  return 2 * s.vocab + s.tokens;
}

/**
 * dTable[v, :] = Σ_{i: ids[i] = v} dOut[i, :] in token order, overwriting dTable (rows no id names
 * become zero); ids ≥ vocab contribute nothing. `scratch` holds embeddingScratchWords(s) u32s. Two
 * dispatches: a counting sort of the tokens by id, then one fixed-order sum per table element
 * (see embedding.wgsl for the cost).
 */
export function embeddingBackward(gpu: Gpu, s: EmbeddingShape, io: { ids: BufferRef; dOut: BufferRef; dTable: BufferRef; scratch: BufferRef }): Dispatch[] {
  const params = embeddingParams('embeddingBackward', s);
  return [
    kernel(gpu, 'embedding', 'bucketIds').dispatch({ ids: io.ids, buckets: io.scratch, params }, grid1d(gpu, s.vocab, WORKGROUP_SIZE), 'embeddingBackward.bucket'),
    kernel(gpu, 'embedding', 'backward').dispatch({ bucketsIn: io.scratch, dOut: io.dOut, dTable: io.dTable, params }, grid1d(gpu, s.vocab, 1), 'embeddingBackward'),
  ];
}
