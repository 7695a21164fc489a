import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { batchNormBackward, batchNormForwardInference, batchNormForwardTrain, type BatchNormShape } from '../src/kernels/batchnorm.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { batchNormBackwardRef, batchNormForwardInferenceRef, batchNormForwardTrainRef } from './reference/batchnorm.ts';

const MOMENTUM = 0.1, EPS = 1e-5;
const sizeOf = (s: BatchNormShape): number => s.batch * s.channels * s.spatial;
const label = (s: BatchNormShape): string => `batch ${s.batch}, channels ${s.channels}, spatial ${s.spatial}`;

const SHAPES: BatchNormShape[] = [
  { batch: 2, channels: 1, spatial: 1 },      // the smallest batch PyTorch accepts
  { batch: 1, channels: 3, spatial: 17 },     // batch 1 of an image
  { batch: 64, channels: 10, spatial: 1 },    // Dense features
  { batch: 17, channels: 129, spatial: 1 },
  { batch: 3, channels: 3, spatial: 784 },
  { batch: 32, channels: 16, spatial: 169 },  // 5408 values per channel: many per lane
  { batch: 10, channels: 784, spatial: 3 },
  { batch: 2, channels: 70_000, spatial: 1 }, // more channels than workgroups per grid dimension: folds into y
];

/** Channel-dependent offsets and spreads, so mean and variance differ from channel to channel. */
function batchInput(s: BatchNormShape, seed: number): Float32Array {
  const x = randomArray(sizeOf(s), seed, -1, 1);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / s.spatial) % s.channels;
    x[i] = x[i]! * (0.5 + (c % 5)) + (c % 7) - 3;
  }
  return x;
}

describe('CPU batch-norm backward matches float64 finite differences of the training forward', () => {
  const s: BatchNormShape = { batch: 3, channels: 2, spatial: 4 };
  const x = Float64Array.from(batchInput(s, 1));
  const gamma = Float64Array.from(randomArray(2, 2, 0.5, 1.5)), beta = Float64Array.from(randomArray(2, 3));
  const dy = Float64Array.from(randomArray(sizeOf(s), 4));
  const running = { mean: [0, 0], var: [1, 1] };
  const forward = (xv: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>): Float64Array => batchNormForwardTrainRef(s, xv, g, b, running, MOMENTUM, EPS).y;
  const saved = batchNormForwardTrainRef(s, x, gamma, beta, running, MOMENTUM, EPS);
  const got = batchNormBackwardRef(s, x, dy, gamma, saved.mean, saved.invStd);
  // Smooth O(1) functions with step 1e-6: agreement to ~1e-9; 1e-7 leaves room.
  it('dx', () => expect(maxRelativeError(got.dx, numericGradient((p) => forward(p, gamma, beta), x, dy))).toBeLessThan(1e-7));
  it('dgamma', () => expect(maxRelativeError(got.dgamma, numericGradient((p) => forward(x, p, beta), gamma, dy))).toBeLessThan(1e-7));
  it('dbeta', () => expect(maxRelativeError(got.dbeta, numericGradient((p) => forward(x, gamma, p), beta, dy))).toBeLessThan(1e-7));
});

describe('batch norm on the GPU matches the CPU reference', () => {
  it.each(SHAPES.map((s) => [label(s), s] as const))('training forward, two steps of running statistics: %s', async (_name, s) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const gamma = randomArray(s.channels, 5, 0.5, 1.5), beta = randomArray(s.channels, 6);
    const runningMean = buffers.upload(new Float32Array(s.channels)), runningVar = buffers.upload(new Float32Array(s.channels).fill(1));
    const io = {
      gamma: buffers.upload(gamma), beta: buffers.upload(beta), runningMean, runningVar, momentum: MOMENTUM, eps: EPS,
      y: buffers.output(sizeOf(s)), mean: buffers.output(s.channels), invStd: buffers.output(s.channels),
    };
    let running = { mean: new Float64Array(s.channels) as ArrayLike<number>, var: new Float64Array(s.channels).fill(1) as ArrayLike<number> };
    for (const seed of [7, 8]) {
      const x = batchInput(s, seed + s.channels);
      await runDispatches(gpu, batchNormForwardTrain(gpu, s, { ...io, x: buffers.upload(x) }));
      const expected = batchNormForwardTrainRef(s, x, gamma, beta, running, MOMENTUM, EPS);
      running = { mean: expected.runningMean, var: expected.runningVar };
      // f32 sums over ≤ 5408 values per channel, two-pass variance: ~1e-6 relative; the normalized
      // output is O(1) (floor 1). 1e-4 is the fp32 budget.
      expect(maxRelativeError(await readFloat32(gpu, io.y, sizeOf(s)), expected.y)).toBeLessThan(1e-4);
      expect(maxRelativeError(await readFloat32(gpu, io.mean, s.channels), expected.mean)).toBeLessThan(1e-4);
      expect(maxRelativeError(await readFloat32(gpu, io.invStd, s.channels), expected.invStd)).toBeLessThan(1e-4);
      expect(maxRelativeError(await readFloat32(gpu, runningMean, s.channels), expected.runningMean)).toBeLessThan(1e-4);
      expect(maxRelativeError(await readFloat32(gpu, runningVar, s.channels), expected.runningVar)).toBeLessThan(1e-4);
    }
    buffers.destroy();
  });

  it('keeps the variance accurate when the mean dwarfs the spread', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s: BatchNormShape = { batch: 64, channels: 4, spatial: 169 };
    // Values 100 ± 0.5: E[x²] − E[x]² in f32 would lose every digit of the variance (≈ 0.08).
    const x = randomArray(sizeOf(s), 17, 99.5, 100.5);
    const gamma = new Float32Array(s.channels).fill(1), beta = new Float32Array(s.channels);
    const io = {
      x: buffers.upload(x), gamma: buffers.upload(gamma), beta: buffers.upload(beta), y: buffers.output(sizeOf(s)), mean: buffers.output(s.channels), invStd: buffers.output(s.channels),
      runningMean: buffers.upload(new Float32Array(s.channels)), runningVar: buffers.upload(new Float32Array(s.channels).fill(1)), momentum: MOMENTUM, eps: EPS,
    };
    await runDispatches(gpu, batchNormForwardTrain(gpu, s, io));
    const expected = batchNormForwardTrainRef(s, x, gamma, beta, { mean: new Float64Array(s.channels), var: new Float64Array(s.channels).fill(1) }, MOMENTUM, EPS);
    // x itself is only known to f32's 2^-17 ≈ 8e-6 at 100, i.e. 3e-5 of the spread; the mean's
    // accumulated rounding adds about as much. 1e-4 of the O(1) normalized output covers both.
    expect(maxRelativeError(await readFloat32(gpu, io.invStd, s.channels), expected.invStd)).toBeLessThan(1e-4);
    expect(maxRelativeError(await readFloat32(gpu, io.y, sizeOf(s)), expected.y)).toBeLessThan(1e-4);
    buffers.destroy();
  });

  it.each(SHAPES.map((s) => [label(s), s] as const))('inference uses the running statistics: %s', async (_name, s) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = batchInput(s, 9);
    const gamma = randomArray(s.channels, 10, 0.5, 1.5), beta = randomArray(s.channels, 11);
    // Running statistics far from this batch's own, so using batch statistics could not pass.
    const runningMean = randomArray(s.channels, 12, -5, 5), runningVar = randomArray(s.channels, 13, 0.1, 4);
    const y = buffers.output(sizeOf(s));
    await runDispatches(gpu, batchNormForwardInference(gpu, s, {
      x: buffers.upload(x), gamma: buffers.upload(gamma), beta: buffers.upload(beta), runningMean: buffers.upload(runningMean), runningVar: buffers.upload(runningVar), y, eps: EPS,
    }));
    // A handful of f32 operations per element: well inside 1e-5 relative (floor 1).
    expect(maxRelativeError(await readFloat32(gpu, y, sizeOf(s)), batchNormForwardInferenceRef(s, x, gamma, beta, runningMean, runningVar, EPS))).toBeLessThan(1e-5);
    buffers.destroy();
  });

  it.each(SHAPES.map((s) => [label(s), s] as const))('backward: %s', async (_name, s) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = batchInput(s, 14), dy = randomArray(sizeOf(s), 15);
    const gamma = randomArray(s.channels, 16, 0.5, 1.5);
    const stats = batchNormForwardTrainRef(s, x, gamma, new Float64Array(s.channels), { mean: new Float64Array(s.channels), var: new Float64Array(s.channels) }, MOMENTUM, EPS);
    const mean = Float32Array.from(stats.mean), invStd = Float32Array.from(stats.invStd);
    const io = {
      x: buffers.upload(x), dy: buffers.upload(dy), gamma: buffers.upload(gamma), mean: buffers.upload(mean), invStd: buffers.upload(invStd),
      dx: buffers.output(sizeOf(s)), dgamma: buffers.output(s.channels), dbeta: buffers.output(s.channels),
    };
    await runDispatches(gpu, batchNormBackward(gpu, s, io));
    const expected = batchNormBackwardRef(s, x, dy, gamma, mean, invStd);
    const perChannel = s.batch * s.spatial;
    // dgamma and dbeta are sums of up to 5408 O(1) terms: compare relative to √count, the size of
    // their random-walk magnitude. dx = gamma·invStd·(dy − mean terms) is O(1) here (floor 1); its
    // f32 error comes from the sums' rounding, well inside the 1e-4 fp32 budget.
    expect(maxRelativeError(await readFloat32(gpu, io.dbeta, s.channels), expected.dbeta, Math.sqrt(perChannel))).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, io.dgamma, s.channels), expected.dgamma, Math.sqrt(perChannel))).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, io.dx, sizeOf(s)), expected.dx, 1)).toBeLessThan(1e-4);
    buffers.destroy();
  });

  it('refuses a training batch with one value per channel, as PyTorch does', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    const io = { x: b, gamma: b, beta: b, y: b, mean: b, invStd: b, runningMean: b, runningVar: b, momentum: MOMENTUM, eps: EPS };
    expect(() => batchNormForwardTrain(gpu, { batch: 1, channels: 4, spatial: 1 }, io)).toThrow(/more than one value per channel/);
    buffers.destroy();
  });
});
