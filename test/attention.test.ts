import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { attentionBackward, attentionDropoutKeeps, attentionForward, type AttentionOptions, type AttentionShape } from '../src/kernels/attention.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { attentionBackwardRef, attentionForwardRef, causalMask, noMask, type AttentionDropoutFactor, type AttentionMask, type AttentionRefOptions } from './reference/attention.ts';

const label = (s: AttentionShape): string => `batch ${s.batch}, heads ${s.heads}, T ${s.seq}, D ${s.headDim}`;
const elements = (s: AttentionShape): number => s.batch * s.heads * s.seq * s.headDim;
const rowCount = (s: AttentionShape): number => s.batch * s.heads * s.seq;

const SHAPES: AttentionShape[] = [
  { batch: 1, heads: 1, seq: 1, headDim: 1 },     // T = 1: the one weight is 1
  { batch: 1, heads: 1, seq: 1, headDim: 5 },
  { batch: 2, heads: 3, seq: 7, headDim: 5 },     // under one key block
  { batch: 1, heads: 2, seq: 17, headDim: 3 },    // one key past a block
  { batch: 2, heads: 1, seq: 65, headDim: 16 },   // one query past a workgroup
  { batch: 1, heads: 2, seq: 100, headDim: 64 },
  { batch: 1, heads: 1, seq: 33, headDim: 128 },  // the widest head supported
  { batch: 3, heads: 2, seq: 130, headDim: 7 },
  { batch: 1, heads: 2, seq: 301, headDim: 32 },  // several workgroups of row pairs, the widest unrolled head
];

interface AttentionData { q: Float32Array; k: Float32Array; v: Float32Array; dO: Float32Array }

function attentionData(s: AttentionShape, seed: number): AttentionData {
  const n = elements(s);
  // q and k in ±2 give scores of a few units after the 1/√D scale: peaked rows, not flat ones.
  return { q: randomArray(n, seed, -2, 2), k: randomArray(n, seed + 1, -2, 2), v: randomArray(n, seed + 2), dO: randomArray(n, seed + 3) };
}

interface AttentionResult { o: Float32Array; lse: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array }

/** Forward then backward on the GPU in one submit, everything read back. */
async function gpuAttention(gpu: Gpu, s: AttentionShape, data: AttentionData, options: AttentionOptions): Promise<AttentionResult> {
  const buffers = new TestBuffers(gpu);
  const n = elements(s), rows = rowCount(s);
  const io = {
    q: buffers.upload(data.q), k: buffers.upload(data.k), v: buffers.upload(data.v), dO: buffers.upload(data.dO),
    o: buffers.output(n), lse: buffers.output(rows), dq: buffers.output(n), dk: buffers.output(n), dv: buffers.output(n), delta: buffers.output(2 * rows),
  };
  await runDispatches(gpu, [...attentionForward(gpu, s, { ...io, ...options }), ...attentionBackward(gpu, s, { ...io, ...options })]);
  const result = {
    o: await readFloat32(gpu, io.o, n), lse: await readFloat32(gpu, io.lse, rows),
    dq: await readFloat32(gpu, io.dq, n), dk: await readFloat32(gpu, io.dk, n), dv: await readFloat32(gpu, io.dv, n),
  };
  buffers.destroy();
  return result;
}

/**
 * Element (b, h, t, d) of a [batch, heads, T, D] tensor moved to the token-major layout: part `part`
 * of `parts` per token row, [batch, T, parts, heads, D] (q, k, v are parts 0, 1, 2 of three; o is
 * the one part of one).
 */
function tokenMajorIndex(s: AttentionShape, parts: number, part: number, i: number): number {
  const d = i % s.headDim, t = Math.floor(i / s.headDim) % s.seq, h = Math.floor(i / (s.headDim * s.seq)) % s.heads, b = Math.floor(i / elements({ ...s, batch: 1 }));
  return (((b * s.seq + t) * parts + part) * s.heads + h) * s.headDim + d;
}

function toTokenMajor(s: AttentionShape, tensors: Float32Array[]): Float32Array {
  const out = new Float32Array(tensors.length * elements(s));
  tensors.forEach((tensor, part) => tensor.forEach((value, i) => { out[tokenMajorIndex(s, tensors.length, part, i)] = value; }));
  return out;
}

function fromTokenMajor(s: AttentionShape, packed: Float32Array, parts: number, part: number): Float32Array {
  return Float32Array.from({ length: elements(s) }, (_, i) => packed[tokenMajorIndex(s, parts, part, i)]!);
}

/** gpuAttention in the token-major layout: one qkv tensor (and one dqkv), o and dO [batch, T, heads·D]. */
async function gpuAttentionTokenMajor(gpu: Gpu, s: AttentionShape, data: AttentionData, options: AttentionOptions): Promise<AttentionResult> {
  const buffers = new TestBuffers(gpu);
  const n = elements(s), rows = rowCount(s);
  const shape = { ...s, layout: 'tokens' as const };
  const qkv = buffers.upload(toTokenMajor(s, [data.q, data.k, data.v])), dqkv = buffers.output(3 * n);
  const io = { q: qkv, k: qkv, v: qkv, dO: buffers.upload(toTokenMajor(s, [data.dO])), o: buffers.output(n), lse: buffers.output(rows), dq: dqkv, dk: dqkv, dv: dqkv, delta: buffers.output(2 * rows) };
  await runDispatches(gpu, [...attentionForward(gpu, shape, { ...io, ...options }), ...attentionBackward(gpu, shape, { ...io, ...options })]);
  const grads = await readFloat32(gpu, dqkv, 3 * n);
  const result = {
    o: fromTokenMajor(s, await readFloat32(gpu, io.o, n), 1, 0), lse: await readFloat32(gpu, io.lse, rows),
    dq: fromTokenMajor(s, grads, 3, 0), dk: fromTokenMajor(s, grads, 3, 1), dv: fromTokenMajor(s, grads, 3, 2),
  };
  buffers.destroy();
  return result;
}

function expectMatchesReference(s: AttentionShape, data: AttentionData, got: AttentionResult, options: AttentionRefOptions): void {
  const forward = attentionForwardRef(s, data.q, data.k, data.v, options);
  const backward = attentionBackwardRef(s, data.q, data.k, data.v, data.dO, options);
  // o is a convex combination of O(1) values and lse is O(1 + log T): f32 sums over ≤ 130 keys
  // and exp's few ulp stay near 1e-6 relative (floor 1).
  expect(maxRelativeError(got.o, forward.o)).toBeLessThan(1e-5);
  expect(maxRelativeError(got.lse, forward.lse)).toBeLessThan(1e-5);
  // The gradients are sums over T of products of O(1) terms (dS itself a difference of O(1)
  // quantities): a few 1e-6 of their O(1) scale; 1e-4 is the fp32 budget (floor 1).
  expect(maxRelativeError(got.dq, backward.dq)).toBeLessThan(1e-4);
  expect(maxRelativeError(got.dk, backward.dk)).toBeLessThan(1e-4);
  expect(maxRelativeError(got.dv, backward.dv)).toBeLessThan(1e-4);
}

const SEED = 1234, STEP = 5, STREAM = 3;

/** The kernels' dropout factors as the reference takes them. */
function dropoutFactors(s: AttentionShape, rate: number): AttentionDropoutFactor {
  return (head, i, j) => (attentionDropoutKeeps(SEED, STEP, STREAM, head, s.seq, i, j, rate) ? 1 / (1 - rate) : 0);
}

describe('CPU attention backward matches float64 finite differences of the forward', () => {
  const s: AttentionShape = { batch: 1, heads: 2, seq: 4, headDim: 3 };
  const data = attentionData(s, 1);
  const fixedDropout: AttentionDropoutFactor = (h, i, j) => ((h + 2 * i + 3 * j) % 3 === 0 ? 0 : 1.5);
  const cases: [string, AttentionRefOptions][] = [['no mask', {}], ['causal', { mask: causalMask }], ['causal with dropout', { mask: causalMask, dropout: fixedDropout }]];
  it.each(cases)('%s', (_name, options) => {
    const q = Float64Array.from(data.q), k = Float64Array.from(data.k), v = Float64Array.from(data.v);
    const got = attentionBackwardRef(s, q, k, v, data.dO, options);
    // Smooth O(1) functions with step 1e-6: agreement to ~1e-9; 1e-7 leaves room.
    expect(maxRelativeError(got.dq, numericGradient((p) => attentionForwardRef(s, p, k, v, options).o, q, data.dO))).toBeLessThan(1e-7);
    expect(maxRelativeError(got.dk, numericGradient((p) => attentionForwardRef(s, q, p, v, options).o, k, data.dO))).toBeLessThan(1e-7);
    expect(maxRelativeError(got.dv, numericGradient((p) => attentionForwardRef(s, q, k, p, options).o, v, data.dO))).toBeLessThan(1e-7);
  });
});

describe('fused attention on the GPU matches the CPU reference', () => {
  for (const causal of [false, true]) {
    it.each(SHAPES.map((s) => [label(s), s] as const))(`${causal ? 'causal' : 'unmasked'}, forward and backward: %s`, async (_name, s) => {
      const gpu = await testGpu();
      const data = attentionData(s, s.seq * 7 + s.headDim);
      const got = await gpuAttention(gpu, s, data, { causal });
      expectMatchesReference(s, data, got, { mask: causal ? causalMask : noMask });
    });
  }

  // The token-major layout reads q, k and v from one fused projection's rows and writes o by token.
  const TOKEN_MAJOR: AttentionShape[] = [
    { batch: 1, heads: 1, seq: 1, headDim: 1 }, { batch: 2, heads: 3, seq: 7, headDim: 5 }, { batch: 3, heads: 4, seq: 17, headDim: 16 },
    { batch: 2, heads: 2, seq: 130, headDim: 7 }, { batch: 1, heads: 3, seq: 67, headDim: 40 },
  ];
  for (const causal of [false, true]) {
    it.each(TOKEN_MAJOR.map((s) => [label(s), s] as const))(`token-major, ${causal ? 'causal' : 'unmasked'}: %s`, async (_name, s) => {
      const gpu = await testGpu();
      const data = attentionData(s, s.seq * 5 + s.heads);
      const got = await gpuAttentionTokenMajor(gpu, s, data, { causal });
      expectMatchesReference(s, data, got, { mask: causal ? causalMask : noMask });
    });
  }

  it('token-major with dropout draws the same mask as the head-major layout', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s: AttentionShape = { batch: 2, heads: 3, seq: 19, headDim: 8 };
    const data = attentionData(s, 77);
    const dropout = { rate: 0.3, stream: STREAM, seed: buffers.upload(Uint32Array.of(SEED, STEP)) };
    const got = await gpuAttentionTokenMajor(gpu, s, data, { causal: true, dropout });
    expectMatchesReference(s, data, got, { mask: causalMask, dropout: dropoutFactors(s, 0.3) });
    buffers.destroy();
  });

  it.each([false, true])('with dropout 0.3 on the weights, causal %s', async (causal) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s: AttentionShape = { batch: 2, heads: 2, seq: 37, headDim: 9 };
    const rate = 0.3;
    const data = attentionData(s, 21);
    const dropout = { rate, stream: STREAM, seed: buffers.upload(Uint32Array.of(SEED, STEP)) };
    const got = await gpuAttention(gpu, s, data, { causal, dropout });
    const factors = dropoutFactors(s, rate);
    expectMatchesReference(s, data, got, { mask: causal ? causalMask : noMask, dropout: factors });
    // The mask the reference was given drops about `rate` of the weights; with no dropout the
    // result would differ, so the comparison above is about the mask too.
    let dropped = 0;
    for (let h = 0; h < 4; h++) for (let i = 0; i < s.seq; i++) for (let j = 0; j < s.seq; j++) dropped += factors(h, i, j) === 0 ? 1 : 0;
    expect(dropped / (4 * s.seq * s.seq)).toBeCloseTo(rate, 1);
    expect(maxRelativeError(got.o, attentionForwardRef(s, data.q, data.k, data.v, { mask: causal ? causalMask : noMask }).o)).toBeGreaterThan(1e-2);
    buffers.destroy();
  });

  it('a causal check fails against a mask that leaks one future position', async () => {
    const gpu = await testGpu();
    const s: AttentionShape = { batch: 1, heads: 2, seq: 20, headDim: 8 };
    const data = attentionData(s, 31);
    const got = await gpuAttention(gpu, s, data, { causal: true });
    const leaky: AttentionMask = (i, j) => j <= i + 1;
    const leakyRef = attentionForwardRef(s, data.q, data.k, data.v, { mask: leaky });
    // The same tolerance that passes against the true causal mask fails against the leaky one.
    expect(maxRelativeError(got.o, attentionForwardRef(s, data.q, data.k, data.v, { mask: causalMask }).o)).toBeLessThan(1e-5);
    expect(maxRelativeError(got.o, leakyRef.o)).toBeGreaterThan(1e-2);
  });

  it('causal outputs before the last position ignore the last key and value', async () => {
    const gpu = await testGpu();
    const s: AttentionShape = { batch: 1, heads: 1, seq: 19, headDim: 6 };
    const data = attentionData(s, 41);
    const changed = { ...data, k: Float32Array.from(data.k), v: Float32Array.from(data.v) };
    for (let d = 0; d < s.headDim; d++) {
      changed.k[(s.seq - 1) * s.headDim + d] = 50;
      changed.v[(s.seq - 1) * s.headDim + d] = -50;
    }
    const [before, after] = [await gpuAttention(gpu, s, data, { causal: true }), await gpuAttention(gpu, s, changed, { causal: true })];
    const earlier = (s.seq - 1) * s.headDim;
    expect(after.o.subarray(0, earlier)).toEqual(before.o.subarray(0, earlier));
    expect(after.o.subarray(earlier)).not.toEqual(before.o.subarray(earlier));
  });

  it('repeats its gradients bit for bit', async () => {
    const gpu = await testGpu();
    const s: AttentionShape = { batch: 1, heads: 2, seq: 70, headDim: 12 };
    const data = attentionData(s, 51);
    const [first, second] = [await gpuAttention(gpu, s, data, { causal: true }), await gpuAttention(gpu, s, data, { causal: true })];
    expect(second).toEqual(first);
  });

  it('rejects heads wider than 128 and a dropout rate of 1', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    const io = { q: b, k: b, v: b, o: b, lse: b };
    expect(() => attentionForward(gpu, { batch: 1, heads: 1, seq: 4, headDim: 129 }, io)).toThrow(/attentionForward: headDim 129 exceeds the supported maximum of 128/);
    expect(() => attentionForward(gpu, { batch: 1, heads: 1, seq: 4, headDim: 8 }, { ...io, dropout: { rate: 1, seed: b, stream: 0 } })).toThrow(/dropout rate must be in \[0, 1\)/);
    buffers.destroy();
  });

  it('rejects a delta scratch without room for each row\'s lse and delta', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s = { batch: 1, heads: 2, seq: 3, headDim: 4 };
    const n = elements(s), rows = rowCount(s);
    const [q, dO, o, dq, dk, dv] = [0, 1, 2, 3, 4, 5].map(() => buffers.output(n)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
    const io = { q, k: q, v: q, dO, o, dq, dk, dv, lse: buffers.output(rows) };
    expect(() => attentionBackward(gpu, s, { ...io, delta: buffers.output(rows) })).toThrow(/attentionBackward: delta holds 24 bytes; it needs 48/);
    expect(attentionBackward(gpu, s, { ...io, delta: buffers.output(2 * rows) })).toHaveLength(3);
    buffers.destroy();
  });
});
