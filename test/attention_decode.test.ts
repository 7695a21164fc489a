import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { appendKeyValue, attentionDecode, decodeCacheFloats, decodeCacheStride, type DecodeShape } from '../src/kernels/attention_decode.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { appendKeyValueRef, attentionDecodeRef } from './reference/attention_decode.ts';
import { attentionForwardRef, causalMask } from './reference/attention.ts';

interface DecodeCase { s: DecodeShape; positions: number[] }

const CASES: DecodeCase[] = [
  { s: { heads: 1, headDim: 1, context: 1, rows: 1 }, positions: [0] },          // t = 0: the one weight is 1
  { s: { heads: 3, headDim: 5, context: 7, rows: 1 }, positions: [0] },
  { s: { heads: 2, headDim: 3, context: 9, rows: 1 }, positions: [8] },          // the last slot of the cache
  { s: { heads: 2, headDim: 7, context: 70, rows: 1 }, positions: [64] },        // one key past a tile of 64
  { s: { heads: 4, headDim: 33, context: 130, rows: 1 }, positions: [129] },     // a ragged third tile
  { s: { heads: 1, headDim: 128, context: 65, rows: 1 }, positions: [40] },      // the widest head, two columns per lane
  { s: { heads: 2, headDim: 64, context: 20, rows: 1 }, positions: [19] },
  { s: { heads: 3, headDim: 9, context: 131, rows: 5 }, positions: [0, 3, 63, 64, 130] }, // a prompt's rows at once
];

const label = ({ s, positions }: DecodeCase): string => `heads ${s.heads}, headDim ${s.headDim}, context ${s.context}, positions [${positions.join(', ')}]`;

describe('attentionDecode and appendKeyValue match the float64 reference', () => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    const gpu = await testGpu();
    const { s, positions } = c;
    const width = s.heads * s.headDim, cacheFloats = decodeCacheFloats(s);
    const qkv = randomArray(s.rows * 3 * width, 11, -2, 2);
    // Earlier tokens' keys and values fill the slots before the last position; the slots after it
    // and the padding of every slot hold NaN, so a kernel that reads a key the mask hides, or lets
    // the padding into a sum, fails the comparison.
    const last = Math.max(...positions), stride = decodeCacheStride(s.headDim);
    const filled = (seed: number) => randomArray(cacheFloats, seed).map((v, i) => (Math.floor(i / stride) % s.context > last || i % stride >= s.headDim ? NaN : v));
    const kStart = filled(12), vStart = filled(13);
    const buffers = new TestBuffers(gpu);
    const io = { positions: buffers.upload(Uint32Array.from(positions)), qkv: buffers.upload(qkv), kCache: buffers.upload(kStart), vCache: buffers.upload(vStart) };
    const out = buffers.output(s.rows * width);
    await runDispatches(gpu, [...appendKeyValue(gpu, s, io), ...attentionDecode(gpu, s, { ...io, out })]);
    const got = { out: await readFloat32(gpu, out), k: await readFloat32(gpu, io.kCache), v: await readFloat32(gpu, io.vCache) };
    buffers.destroy();

    const kRef = Float64Array.from(kStart), vRef = Float64Array.from(vStart);
    appendKeyValueRef(s, positions, qkv, kRef, vRef);
    const outRef = attentionDecodeRef(s, positions, qkv, kRef, vRef);
    // The caches are copies: exact, NaN where nothing was written.
    expect(Array.from(got.k)).toEqual(Array.from(kRef, Math.fround));
    expect(Array.from(got.v)).toEqual(Array.from(vRef, Math.fround));
    // A convex combination of O(1) values after f32 sums over ≤ 131 keys: near 1e-6 relative (floor 1).
    expect(maxRelativeError(got.out, outRef)).toBeLessThan(1e-5);
  });

  it('a row whose position is at or past the cache writes nothing into it', async () => {
    const gpu = await testGpu();
    const s: DecodeShape = { heads: 2, headDim: 3, context: 4, rows: 2 };
    const start = randomArray(decodeCacheFloats(s), 5);
    const buffers = new TestBuffers(gpu);
    const io = { positions: buffers.upload(Uint32Array.from([4, 9])), qkv: buffers.upload(randomArray(s.rows * 18, 6)), kCache: buffers.upload(start), vCache: buffers.upload(start) };
    await runDispatches(gpu, appendKeyValue(gpu, s, io));
    expect(Array.from(await readFloat32(gpu, io.kCache))).toEqual(Array.from(start));
    expect(Array.from(await readFloat32(gpu, io.vCache))).toEqual(Array.from(start));
    buffers.destroy();
  });

  it('refuses heads wider than 128 and non-positive sizes by name', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const one = () => buffers.upload(new Float32Array(1));
    const bound = { positions: one(), qkv: one(), kCache: one(), vCache: one() };
    expect(() => attentionDecode(gpu, { heads: 1, headDim: 129, context: 2, rows: 1 }, { ...bound, out: bound.qkv })).toThrow(/attentionDecode: headDim 129 exceeds the supported maximum of 128/);
    expect(() => appendKeyValue(gpu, { heads: 1, headDim: 4, context: 0, rows: 1 }, bound)).toThrow(/appendKeyValue: context must be a positive integer, got 0/);
    buffers.destroy();
  });
});

describe('the decoding reference agrees with causal attention over the whole sequence', () => {
  it('every position decoded in turn gives the causal forward\'s rows', () => {
    const heads = 3, T = 11, D = 5, width = heads * D;
    const s: DecodeShape = { heads, headDim: D, context: T, rows: T };
    const qkv = randomArray(T * 3 * width, 21, -2, 2);
    // The same q, k, v in attention's [heads, T, D] layout.
    const part = (which: number) => Float64Array.from({ length: heads * T * D }, (_, i) => {
      const h = Math.floor(i / (T * D)), t = Math.floor(i / D) % T, d = i % D;
      return qkv[t * 3 * width + which * width + h * D + d]!;
    });
    const kCache = new Float64Array(decodeCacheFloats(s)), vCache = new Float64Array(decodeCacheFloats(s));
    const positions = Array.from({ length: T }, (_, t) => t);
    appendKeyValueRef(s, positions, qkv, kCache, vCache);
    const decoded = attentionDecodeRef(s, positions, qkv, kCache, vCache);
    const { o } = attentionForwardRef({ batch: 1, heads, seq: T, headDim: D }, part(0), part(1), part(2), { mask: causalMask });
    const joined = Float64Array.from({ length: T * width }, (_, i) => {
      const t = Math.floor(i / width), h = Math.floor((i % width) / D), d = i % D;
      return o[(h * T + t) * D + d]!;
    });
    expect(maxRelativeError(decoded, joined)).toBeLessThan(1e-12);
  });
});
