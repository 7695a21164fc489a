import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, writeBuffer } from '../src/gpu/buffers.ts';
import { dropoutBackward, dropoutForward, dropoutKeeps } from '../src/kernels/dropout.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { dropoutRef } from './reference/dropout.ts';

type TestGpu = Awaited<ReturnType<typeof testGpu>>;

/** The GPU forward of all-ones input: kept units read 1/(1 − rate), dropped ones 0. */
async function gpuMask(gpu: TestGpu, buffers: TestBuffers, count: number, rate: number, seed: GPUBuffer, stream: number): Promise<Float32Array> {
  const y = buffers.output(count);
  await runDispatches(gpu, dropoutForward(gpu, { x: buffers.upload(new Float32Array(count).fill(1)), y, count, rate, seed, stream }));
  return readFloat32(gpu, y, count);
}

const differences = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
};

describe('dropout', () => {
  it.each([
    [1, 0.5, 1, 0, 0], [17, 0.3, 7, 3, 1], [784, 0.5, 42, 1000, 2], [256 * 300 + 5, 0.1, 0xffffffff, 0xfffffffe, 0xffffffff],
  ])('GPU mask of %i elements at rate %f equals dropoutKeeps bit for bit (seed %i, step %i, stream %i)', async (count, rate, seedValue, step, stream) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const got = await gpuMask(gpu, buffers, count, rate, buffers.upload(Uint32Array.from([seedValue, step])), stream);
    const scale = Math.fround(1 / (1 - rate));
    const expected = Float32Array.from({ length: count }, (_, i) => (dropoutKeeps(seedValue, step, stream, i, rate) ? scale : 0));
    expect(differences(got, expected)).toBe(0);
    buffers.destroy();
  });

  it('repeats a mask for the same (seed, step, stream) and changes it with step, stream or seed', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const count = 4096;
    const mask = (seed: number, step: number, stream: number): Promise<Float32Array> => gpuMask(gpu, buffers, count, 0.5, buffers.upload(Uint32Array.from([seed, step])), stream);
    const base = await mask(5, 10, 1);
    expect(differences(await mask(5, 10, 1), base)).toBe(0);
    // Independent masks at rate 0.5 disagree on half the units; 40% leaves a margin of ~13σ.
    for (const other of [await mask(5, 11, 1), await mask(5, 10, 2), await mask(6, 10, 1)]) {
      expect(differences(other, base)).toBeGreaterThan(0.4 * count);
    }
    buffers.destroy();
  });

  it('follows the step the executor writes into the seed buffer, without re-recording', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const count = 1000, rate = 0.4, stream = 3;
    const seed = buffers.upload(Uint32Array.from([99, 0]));
    const y = buffers.output(count);
    const step = dropoutForward(gpu, { x: buffers.upload(new Float32Array(count).fill(1)), y, count, rate, seed, stream });
    for (const stepNumber of [1, 2, 3]) {
      writeBuffer(gpu, seed, Uint32Array.from([99, stepNumber]));
      await runDispatches(gpu, step);
      const kept = Array.from(await readFloat32(gpu, y, count), (v) => v !== 0);
      expect(kept).toEqual(Array.from({ length: count }, (_, i) => dropoutKeeps(99, stepNumber, stream, i, rate)));
    }
    buffers.destroy();
  });

  it.each([0.1, 0.5])('keeps a fraction within 1%% of 1 − %f over 2^21 draws', async (rate) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const count = 1 << 21;
    const got = await gpuMask(gpu, buffers, count, rate, buffers.upload(Uint32Array.from([2024, 7])), 5);
    let kept = 0;
    for (const v of got) if (v !== 0) kept++;
    // The binomial standard deviation of the fraction is ≤ 3.5e-4, so 1% of (1 − rate) is ≥ 14σ.
    expect(Math.abs(kept / count - (1 - rate))).toBeLessThan(0.01 * (1 - rate));
    buffers.destroy();
  });

  it('is the identity at rate 0, forward and backward', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const count = 777;
    const x = randomArray(count, 8, -50, 50);
    const seed = buffers.upload(Uint32Array.from([1, 2]));
    const y = buffers.output(count), dx = buffers.output(count), xb = buffers.upload(x);
    await runDispatches(gpu, [
      ...dropoutForward(gpu, { x: xb, y, count, rate: 0, seed, stream: 0 }),
      ...dropoutBackward(gpu, { dy: xb, dx, count, rate: 0, seed, stream: 0 }),
    ]);
    expect(await readFloat32(gpu, y, count)).toEqual(x);
    expect(await readFloat32(gpu, dx, count)).toEqual(x);
    buffers.destroy();
  });

  it('rejects rates outside [0, 1)', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    for (const rate of [1, -0.1, NaN]) expect(() => dropoutForward(gpu, { x: b, y: b, count: 4, rate, seed: b, stream: 0 })).toThrow(/rate/);
    buffers.destroy();
  });

  it('CPU backward (dropoutRef of dy) matches float64 finite differences of the forward', () => {
    const x = Float64Array.from(randomArray(300, 9));
    const dy = randomArray(300, 10);
    const expected = numericGradient((p) => dropoutRef(p, 0.3, 4, 5, 6), x, dy);
    // The forward is linear, so central differences are exact up to rounding of x ± 1e-6.
    expect(maxRelativeError(dropoutRef(dy, 0.3, 4, 5, 6), expected)).toBeLessThan(1e-8);
  });

  it.each([1, 129, 784, 256 * 300 + 5])('GPU backward of %i elements matches the CPU reference', async (count) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const dy = randomArray(count, count);
    const dx = buffers.output(count);
    const rate = 0.25; // scale 4/3 is not a power of two, so the multiply rounds
    await runDispatches(gpu, dropoutBackward(gpu, { dy: buffers.upload(dy), dx, count, rate, seed: buffers.upload(Uint32Array.from([11, 12])), stream: 13 }));
    // One f32 multiply by the f32-rounded scale: within 2 ulp of the float64 value.
    expect(maxRelativeError(await readFloat32(gpu, dx, count), dropoutRef(dy, rate, 11, 12, 13), 1e-30)).toBeLessThan(2.5e-7);
    buffers.destroy();
  });
});
