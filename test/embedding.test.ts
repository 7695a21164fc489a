import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { embeddingBackward, embeddingForward, embeddingScratchWords, type EmbeddingShape } from '../src/kernels/embedding.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { embeddingBackwardRef, embeddingForwardRef } from './reference/embedding.ts';

const label = (s: EmbeddingShape): string => `${s.tokens} tokens, vocab ${s.vocab}, width ${s.width}`;

const SHAPES: EmbeddingShape[] = [
  { tokens: 1, vocab: 1, width: 1 },
  { tokens: 5, vocab: 3, width: 7 },
  { tokens: 64, vocab: 65, width: 63 },     // a character vocabulary, width just under a workgroup
  { tokens: 257, vocab: 11, width: 130 },   // lanes own three columns, many repeats per id
  { tokens: 2048, vocab: 96, width: 48 },
  { tokens: 300, vocab: 1000, width: 5 },   // most table rows get no token
  { tokens: 70_000, vocab: 2, width: 1 },   // more token rows than workgroups per grid dimension
];

function randomIds(count: number, vocab: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length: count }, () => Math.floor(next() * vocab));
}

describe('CPU embedding backward matches float64 finite differences', () => {
  it('with repeated ids and an id past the table', () => {
    const s: EmbeddingShape = { tokens: 6, vocab: 4, width: 3 };
    const ids = [2, 0, 2, 3, 9, 2]; // id 1 unused, id 9 out of range
    const table = Float64Array.from(randomArray(s.vocab * s.width, 1));
    const dOut = Float64Array.from(randomArray(s.tokens * s.width, 2));
    // The forward is linear in the table: central differences are exact up to rounding.
    expect(maxRelativeError(embeddingBackwardRef(s, ids, dOut), numericGradient((t) => embeddingForwardRef(s, ids, t), table, dOut))).toBeLessThan(1e-8);
  });
});

describe('embedding on the GPU matches the CPU reference', () => {
  it.each(SHAPES.map((s) => [label(s), s] as const))('forward and backward: %s', async (_name, s) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const ids = randomIds(s.tokens, s.vocab, s.tokens + s.vocab);
    const table = randomArray(s.vocab * s.width, 3), dOut = randomArray(s.tokens * s.width, 4);
    const idsBuffer = buffers.upload(ids);
    const out = buffers.output(s.tokens * s.width), dTable = buffers.output(s.vocab * s.width);
    await runDispatches(gpu, [
      ...embeddingForward(gpu, s, { ids: idsBuffer, table: buffers.upload(table), out }),
      ...embeddingBackward(gpu, s, { ids: idsBuffer, dOut: buffers.upload(dOut), dTable, scratch: buffers.output(embeddingScratchWords(s)) }),
    ]);
    // The gather copies bits.
    expect(Array.from(await readFloat32(gpu, out, s.tokens * s.width))).toEqual(Array.from(embeddingForwardRef(s, ids, table)));
    // Each sum adds up to tokens/vocab O(1) terms in f32 (35,000 here for vocab 2): relative to the
    // √count random-walk size, fp32 rounding stays under 1e-5.
    const perRow = Math.sqrt(s.tokens / s.vocab);
    expect(maxRelativeError(await readFloat32(gpu, dTable, s.vocab * s.width), embeddingBackwardRef(s, ids, dOut), perRow)).toBeLessThan(1e-5);
    buffers.destroy();
  });

  it('gives out-of-range ids a zero row and drops their gradient', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s: EmbeddingShape = { tokens: 4, vocab: 3, width: 2 };
    const ids = Uint32Array.from([1, 3, 0xffffffff, 2]);
    const table = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const out = buffers.output(8), dTable = buffers.output(6);
    await runDispatches(gpu, [
      ...embeddingForward(gpu, s, { ids: buffers.upload(ids), table: buffers.upload(table), out }),
      ...embeddingBackward(gpu, s, { ids: buffers.upload(ids), dOut: buffers.upload(Float32Array.from([1, 1, 10, 10, 100, 100, 2, 2])), dTable, scratch: buffers.output(embeddingScratchWords(s)) }),
    ]);
    expect(Array.from(await readFloat32(gpu, out, 8))).toEqual([3, 4, 0, 0, 0, 0, 5, 6]);
    expect(Array.from(await readFloat32(gpu, dTable, 6))).toEqual([0, 0, 1, 1, 2, 2]);
    buffers.destroy();
  });

  it('rejects an empty vocabulary', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    expect(() => embeddingForward(gpu, { tokens: 4, vocab: 0, width: 1 }, { ids: b, table: b, out: b })).toThrow(/embeddingForward: vocab must be a positive integer/);
    buffers.destroy();
  });
});
