// Fused multi-head scaled-dot-product attention, forward and backward, with an optional causal mask
// and optional dropout on the attention weights. q, k, v and o are row-major [batch, heads, T, D]
// (each head's rows contiguous, the layout the kernels stream over; a fused qkv projection output
// [batch, T, 3, heads, D] reaches it through one layout pass), scale = 1/√D.
import type { Gpu } from '../gpu/device.ts';
import { kernel, type BufferRef, type Dispatch, type Workgroups } from '../gpu/kernel.ts';
import { rngU32, rngUniform } from './rng.ts';

export interface AttentionShape { batch: number; heads: number; seq: number; headDim: number }

/** Head widths the kernels hold in private arrays (MAX_HEAD_DIM in attention.wgsl). */
export const MAX_HEAD_DIM = 128;
/** Rows (queries or keys) per workgroup (WG in attention.wgsl). */
const ROWS_PER_GROUP = 64;

export interface AttentionDropout {
  /** Probability of dropping each attention weight, in [0, 1). */
  rate: number;
  /** u32[2] = [seed, step], rewritten by the executor before each step. */
  seed: BufferRef;
  /** Distinct per attention layer, so layers draw independent masks. */
  stream: number;
}

export interface AttentionOptions {
  causal?: boolean;
  /** Forward and backward of one step must get the same dropout (same seed buffer contents). */
  dropout?: AttentionDropout;
}

function checkShape(who: string, s: AttentionShape): void {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${value}`);
  }
  if (s.headDim > MAX_HEAD_DIM) throw new Error(`${who}: headDim ${s.headDim} exceeds the supported maximum of ${MAX_HEAD_DIM}`);
}

function attentionParams(who: string, s: AttentionShape, dropout: AttentionDropout | undefined): Record<string, number> {
  const rate = dropout?.rate ?? 0;
  if (!(rate >= 0 && rate < 1)) throw new Error(`${who}: dropout rate must be in [0, 1), got ${rate}`);
  const stream = dropout?.stream ?? 0;
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) throw new Error(`${who}: dropout stream must be a u32, got ${stream}`);
  return { heads: s.batch * s.heads, seq: s.seq, dim: s.headDim, scale: 1 / Math.sqrt(s.headDim), rate, keepScale: 1 / (1 - rate), stream };
}

function attentionKernel(gpu: Gpu, entry: string, options: AttentionOptions) {
  return kernel(gpu, 'attention', entry, { CAUSAL: Number(options.causal ?? false), DROPOUT: Number(options.dropout !== undefined) });
}

/** One invocation per row: row blocks along x, batch·heads along y. */
function rowGrid(s: AttentionShape): Workgroups {
  return [Math.ceil(s.seq / ROWS_PER_GROUP), s.batch * s.heads, 1];
}

/**
 * o = softmax(q·kᵀ/√D + mask)·v per head, and lse (batch·heads·T floats) = each query row's
 * logsumexp of the masked, scaled scores, which the backward pass needs.
 */
export function attentionForward(gpu: Gpu, s: AttentionShape, io: AttentionOptions & {
  q: BufferRef; k: BufferRef; v: BufferRef; o: BufferRef; lse: BufferRef;
}): Dispatch[] {
  checkShape('attentionForward', s);
  const params = attentionParams('attentionForward', s, io.dropout);
  const k = attentionKernel(gpu, 'forward', io);
  // Without dropout the shader never reads the seed; q stands in because a binding cannot be left empty.
  const seed = io.dropout?.seed ?? io.q;
  return [k.dispatch({ q: io.q, k: io.k, v: io.v, o: io.o, lse: io.lse, seed, params }, rowGrid(s), 'attentionForward')];
}

/**
 * dq, dk and dv (overwritten) from the forward's inputs, its output o and lse, recomputing the
 * probabilities; `delta` is scratch for batch·heads·T floats. Three dispatches: the row terms, a key
 * pass (dk, dv) and a query pass (dq).
 */
export function attentionBackward(gpu: Gpu, s: AttentionShape, io: AttentionOptions & {
  q: BufferRef; k: BufferRef; v: BufferRef; o: BufferRef; lse: BufferRef; dO: BufferRef;
  dq: BufferRef; dk: BufferRef; dv: BufferRef; delta: BufferRef;
}): Dispatch[] {
  checkShape('attentionBackward', s);
  const params = attentionParams('attentionBackward', s, io.dropout);
  const seed = io.dropout?.seed ?? io.q;
  const grid = rowGrid(s);
  const rows = { q: io.q, k: io.k, v: io.v, dO: io.dO, lseIn: io.lse, deltaIn: io.delta, seed, params };
  return [
    attentionKernel(gpu, 'backwardDelta', io).dispatch({ dO: io.dO, oIn: io.o, delta: io.delta, params }, grid, 'attentionBackward.delta'),
    attentionKernel(gpu, 'backwardKeys', io).dispatch({ ...rows, dk: io.dk, dv: io.dv }, grid, 'attentionBackward.keys'),
    attentionKernel(gpu, 'backwardQueries', io).dispatch({ ...rows, dq: io.dq }, grid, 'attentionBackward.queries'),
  ];
}

/**
 * CPU twin of the shader's mask: whether weight (i, j) of query row i of head `head` (an index
 * into batch·heads) survives at (seed, step, stream) for sequence length `seq`.
 */
export function attentionDropoutKeeps(seed: number, step: number, stream: number, head: number, seq: number, i: number, j: number, rate: number): boolean {
  const rowSeed = rngU32(rngU32(seed, step, 0), stream, (head * seq + i) >>> 0);
  // The shader compares against the f32 rate from its uniform buffer.
  return rngUniform(rowSeed, 0, j) >= Math.fround(rate);
}
