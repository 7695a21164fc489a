// Fused multi-head scaled-dot-product attention, forward and backward, with an optional causal mask
// and optional dropout on the attention weights, scale = 1/√D. Two layouts: 'heads', q, k, v and o
// row-major [batch, heads, T, D] (each head's rows contiguous); 'tokens', q, k and v one fused qkv
// projection's output [batch, T, 3, heads, D] bound once for all three (dq, dk, dv likewise) and o
// [batch, T, heads, D], which is what the projections around attention read and write.
import type { Gpu } from '../gpu/device.ts';
import { storageBuffer } from '../gpu/buffers.ts';
import { bindingBytes, holdsVec4s, kernel, type BufferRef, type Dispatch, type Workgroups } from '../gpu/kernel.ts';
import { rngU32, rngUniform } from './rng.ts';

export interface AttentionShape {
  batch: number; heads: number; seq: number; headDim: number;
  /** 'heads' (the default) or 'tokens'; see the top of this file. */
  layout?: AttentionLayout;
}

export type AttentionLayout = 'heads' | 'tokens';

/** The widest head the kernels hold in private arrays (4·MAX_CHUNKS in attention.wgsl). */
export const MAX_HEAD_DIM = 128;
/** Heads of up to this many vec4 chunks get a pipeline with the chunk count built in (see attention.wgsl). */
const UNROLLED_CHUNKS = 8;
/** Invocations per workgroup (WG in attention.wgsl). */
const ROWS_PER_GROUP = 64;
/** Query rows each forward invocation owns (two, register-blocked, in attention.wgsl's forward). */
const FORWARD_ROWS_PER_INVOCATION = 2;

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
  for (const name of ['batch', 'heads', 'seq', 'headDim'] as const) {
    if (!Number.isInteger(s[name]) || s[name] < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${s[name]}`);
  }
  if (s.layout !== undefined && s.layout !== 'heads' && s.layout !== 'tokens') throw new Error(`${who}: layout must be 'heads' or 'tokens', got ${JSON.stringify(s.layout)}`);
  if (s.headDim > MAX_HEAD_DIM) throw new Error(`${who}: headDim ${s.headDim} exceeds the supported maximum of ${MAX_HEAD_DIM}`);
}

function attentionParams(who: string, s: AttentionShape, dropout: AttentionDropout | undefined): Record<string, number> {
  const rate = dropout?.rate ?? 0;
  if (!(rate >= 0 && rate < 1)) throw new Error(`${who}: dropout rate must be in [0, 1), got ${rate}`);
  const stream = dropout?.stream ?? 0;
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) throw new Error(`${who}: dropout stream must be a u32, got ${stream}`);
  return { heads: s.batch * s.heads, seq: s.seq, dim: s.headDim, chunks: Math.ceil(s.headDim / 4), scale: 1 / Math.sqrt(s.headDim), rate, keepScale: 1 / (1 - rate), stream, ...layoutParams(s) };
}

/** Row strides and offsets of the two layouts (attention.wgsl's rowStart functions). */
function layoutParams(s: AttentionShape): { headsPerItem: number; inStride: number; outStride: number; qOffset: number; kOffset: number; vOffset: number } {
  if (s.layout !== 'tokens') return { headsPerItem: 1, inStride: s.headDim, outStride: s.headDim, qOffset: 0, kOffset: 0, vOffset: 0 };
  const width = s.heads * s.headDim;
  return { headsPerItem: s.heads, inStride: 3 * width, outStride: width, qOffset: 0, kOffset: width, vOffset: 2 * width };
}

/**
 * The pipelines of one attention call, one per entry for (chunk count, alignment, mask, dropout), and the
 * vec4 views they bind. ALIGNED reads rows as vec4s, which needs D % 4 = 0 and every row tensor
 * bound as whole vec4s; otherwise the views are never read and a 16-byte placeholder fills them (a
 * binding cannot be left empty, and a vec4 array needs 16 bytes).
 */
function attentionPasses(gpu: Gpu, s: AttentionShape, rowTensors: Record<'q' | 'k' | 'v' | 'dO' | 'oIn', BufferRef>, written: BufferRef[], options: AttentionOptions) {
  // Every row stride and offset is a multiple of D in either layout, so D % 4 = 0 keeps rows on vec4s.
  const elements = s.batch * s.heads * s.seq * s.headDim;
  const aligned = s.headDim % 4 === 0 && [...Object.values(rowTensors), ...written].every((ref) => holdsVec4s(ref, elements));
  const chunks = Math.ceil(s.headDim / 4);
  const constants = {
    CHUNKS: chunks <= UNROLLED_CHUNKS ? chunks : 0, ALIGNED: Number(aligned), CAUSAL: Number(options.causal ?? false), DROPOUT: Number(options.dropout !== undefined),
    TOKEN_MAJOR: Number(s.layout === 'tokens'),
  };
  const view = (ref: BufferRef): BufferRef => (aligned ? ref : placeholder(gpu, 'unreadVec4View'));
  return {
    kernel: (entry: string) => kernel(gpu, 'attention', entry, constants),
    views: { q4: view(rowTensors.q), k4: view(rowTensors.k), v4: view(rowTensors.v), dO4: view(rowTensors.dO), oIn4: view(rowTensors.oIn) },
  };
}

/** A 16-byte buffer for a binding the pipeline never touches; one per role, so two never alias. */
function placeholder(gpu: Gpu, role: 'unreadVec4View' | 'unwrittenDv'): GPUBuffer {
  const key = `attention:${role}`;
  let buffer = gpu.caches.get(key) as GPUBuffer | undefined;
  if (!buffer) {
    buffer = storageBuffer(gpu, 16, `attention.${role}`);
    gpu.caches.set(key, buffer);
  }
  return buffer;
}

/** Whether two bindings name the same range of one buffer. */
function sameRange(a: BufferRef, b: BufferRef): boolean {
  const range = (ref: BufferRef) => ('buffer' in ref ? [ref.buffer, ref.offset ?? 0, bindingBytes(ref)] : [ref, 0, bindingBytes(ref)]);
  const [x, y] = [range(a), range(b)];
  return x.every((part, i) => part === y[i]);
}

/** `rowsPerInvocation` rows per invocation: row blocks along x, batch·heads along y. */
function rowGrid(s: AttentionShape, rowsPerInvocation = 1): Workgroups {
  return [Math.ceil(s.seq / (ROWS_PER_GROUP * rowsPerInvocation)), s.batch * s.heads, 1];
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
  // The forward reads no dO: q fills its unread views.
  const { kernel: pass, views: { q4, k4, v4 } } = attentionPasses(gpu, s, { q: io.q, k: io.k, v: io.v, dO: io.q, oIn: io.q }, [io.o], io);
  // Without dropout the shader never reads the seed; q stands in because a binding cannot be left empty.
  const seed = io.dropout?.seed ?? io.q;
  return [pass('forward').dispatch({ q: io.q, k: io.k, v: io.v, q4, k4, v4, o: io.o, lse: io.lse, seed, params }, rowGrid(s, FORWARD_ROWS_PER_INVOCATION), 'attentionForward')];
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
  if (s.layout === 'tokens' && !(sameRange(io.dq, io.dk) && sameRange(io.dk, io.dv))) {
    throw new Error('attentionBackward: the token-major layout writes dq, dk and dv into one tensor [batch, T, 3·heads·D]; bind the same range for all three');
  }
  const params = attentionParams('attentionBackward', s, io.dropout);
  const seed = io.dropout?.seed ?? io.q;
  const grid = rowGrid(s);
  const { kernel: pass, views } = attentionPasses(gpu, s, { q: io.q, k: io.k, v: io.v, dO: io.dO, oIn: io.o }, [io.dq, io.dk, io.dv], io);
  const rows = { q: io.q, k: io.k, v: io.v, dO: io.dO, q4: views.q4, k4: views.k4, v4: views.v4, dO4: views.dO4, lseIn: io.lse, deltaIn: io.delta, seed, params };
  return [
    pass('backwardDelta').dispatch({ dO: io.dO, oIn: io.o, dO4: views.dO4, oIn4: views.oIn4, delta: io.delta, params }, grid, 'attentionBackward.delta'),
    pass('backwardKeys').dispatch({ ...rows, dk: io.dk, dv: s.layout === 'tokens' ? placeholder(gpu, 'unwrittenDv') : io.dv }, grid, 'attentionBackward.keys'),
    pass('backwardQueries').dispatch({ ...rows, dq: io.dq }, grid, 'attentionBackward.queries'),
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
