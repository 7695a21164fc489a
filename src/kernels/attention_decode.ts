// Attention for incremental decoding: new query rows against a key/value cache [heads, context,
// stride], each head's row padded to stride = 4·⌈headDim/4⌉ floats (see shaders/attention_decode.wgsl). The rows are read straight from the fused q|k|v
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

/** Heads of up to this many vec4 chunks get a pipeline with the chunk count built in, as in attention.ts. */
const UNROLLED_CHUNKS = 8;

function decodeParams(who: string, s: DecodeShape): Record<string, number> {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${value}`);
  }
  // The shader holds a query in MAX_DIM floats of workgroup memory, the same bound as attention.wgsl's.
  if (s.headDim > MAX_HEAD_DIM) throw new Error(`${who}: headDim ${s.headDim} exceeds the supported maximum of ${MAX_HEAD_DIM}`);
  return { heads: s.heads, dim: s.headDim, chunks: Math.ceil(s.headDim / 4), width: s.heads * s.headDim, context: s.context, rows: s.rows, scale: 1 / Math.sqrt(s.headDim) };
}

/** Floats between consecutive positions of a head in the cache: headDim rounded up to whole vec4s. */
export function decodeCacheStride(headDim: number): number {
  return 4 * Math.ceil(headDim / 4);
}

/** Floats of one cache (keys or values): heads · context · stride. */
export function decodeCacheFloats(s: Pick<DecodeShape, 'heads' | 'headDim' | 'context'>): number {
  return s.heads * s.context * decodeCacheStride(s.headDim);
}

function decodeKernel(gpu: Gpu, s: DecodeShape, entry: string) {
  const chunks = Math.ceil(s.headDim / 4);
  return kernel(gpu, 'attention_decode', entry, { CHUNKS: chunks <= UNROLLED_CHUNKS ? chunks : 0 });
}

/**
 * Writes each row's k and v into the caches at its position; a row whose position is at or past
 * `context` writes nothing.
 */
export function appendKeyValue(gpu: Gpu, s: DecodeShape, io: DecodeIo): Dispatch[] {
  const params = decodeParams('appendKeyValue', s);
  const k = decodeKernel(gpu, s, 'appendKeyValue');
  const grid = grid1d(gpu, s.rows * s.heads * s.headDim, k.info.workgroupSize[0]);
  return [k.dispatch({ ...io, params }, grid, 'appendKeyValue')];
}

/**
 * out[row] = softmax(q·kᵀ/√headDim)·v of each row's query over the cached keys 0..position (causal:
 * the row's own key included, so appendKeyValue must run first). Positions must be below `context`.
 */
export function attentionDecode(gpu: Gpu, s: DecodeShape, io: DecodeIo & { out: BufferRef }): Dispatch[] {
  const params = decodeParams('attentionDecode', s);
  const k = decodeKernel(gpu, s, 'decode');
  // Rows along x, heads along y: the lanes of a workgroup read the same key at each step.
  const grid = [Math.ceil(s.rows / k.info.workgroupSize[0]), s.heads, 1] as const;
  return [k.dispatch({ positions: io.positions, qkv: io.qkv, kCache4: io.kCache, vCache4: io.vCache, out: io.out, params }, grid, 'attentionDecode')];
}
