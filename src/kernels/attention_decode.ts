// Attention for incremental decoding: new query rows against a key/value cache [heads, context,
// headDim] (see shaders/attention_decode.wgsl). The rows are read straight from the fused q|k|v
// projection [rows, 3·heads·headDim] and the output is [rows, heads·headDim]; each row's position
// comes from a u32 buffer, so one recorded dispatch serves every token.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { MAX_HEAD_DIM } from './attention.ts';

export interface DecodeShape {
  heads: number;
  headDim: number;
  /** Positions each head's cache holds. */
  context: number;
  /** Query rows per call (1 for a generated token, more for a prompt). */
  rows: number;
}

export interface DecodeIo {
  /** u32[rows]: each row's position in the sequence. */
  positions: BufferRef;
  /** [rows, 3·heads·headDim]: q, then k, then v of each row. */
  qkv: BufferRef;
  kCache: BufferRef;
  vCache: BufferRef;
}

function decodeParams(who: string, s: DecodeShape): Record<string, number> {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${value}`);
  }
  // The shader holds a query in MAX_DIM floats of workgroup memory, the same bound as attention.wgsl's.
  if (s.headDim > MAX_HEAD_DIM) throw new Error(`${who}: headDim ${s.headDim} exceeds the supported maximum of ${MAX_HEAD_DIM}`);
  return { heads: s.heads, dim: s.headDim, width: s.heads * s.headDim, context: s.context, rows: s.rows, scale: 1 / Math.sqrt(s.headDim) };
}

/** Floats of one cache (keys or values): heads · context · headDim. */
export function decodeCacheFloats(s: Pick<DecodeShape, 'heads' | 'headDim' | 'context'>): number {
  return s.heads * s.context * s.headDim;
}

/**
 * Writes each row's k and v into the caches at its position; a row whose position is at or past
 * `context` writes nothing.
 */
export function appendKeyValue(gpu: Gpu, s: DecodeShape, io: DecodeIo): Dispatch[] {
  const params = decodeParams('appendKeyValue', s);
  const k = kernel(gpu, 'attention_decode', 'appendKeyValue');
  const grid = grid1d(gpu, s.rows * s.heads * s.headDim, k.info.workgroupSize[0]);
  return [k.dispatch({ ...io, params }, grid, 'appendKeyValue')];
}

/**
 * out[row] = softmax(q·kᵀ/√headDim)·v of each row's query over the cached keys 0..position (causal:
 * the row's own key included, so appendKeyValue must run first). Positions must be below `context`.
 */
export function attentionDecode(gpu: Gpu, s: DecodeShape, io: DecodeIo & { out: BufferRef }): Dispatch[] {
  const params = decodeParams('attentionDecode', s);
  return [kernel(gpu, 'attention_decode', 'decode').dispatch({ ...io, params }, [s.heads, s.rows, 1], 'attentionDecode')];
}
