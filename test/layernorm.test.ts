import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, storageBuffer } from '../src/gpu/buffers.ts';
import { LAYER_NORM_EPS, layerNormBackward, layerNormForward, type LayerNormShape } from '../src/kernels/layernorm.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { layerNormBackwardRef, layerNormForwardRef } from './reference/layernorm.ts';
import { spreadRows } from './helpers/row-checks.ts';
import { entryInfo, shaderSource } from '../src/gpu/reflect.ts';
import { expectSubgroupVariantBuilds, expectSubgroupVariantOnThisDevice, type SubgroupVariantCase } from './helpers/subgroup-gate.ts';

const EPS = LAYER_NORM_EPS;
const sizeOf = (s: LayerNormShape): number => s.rows * s.cols;
const label = (s: LayerNormShape): string => `${s.rows} rows × ${s.cols}`;

const SHAPES: LayerNormShape[] = [
  { rows: 1, cols: 1 },        // one value: x̂ = 0, y = beta
  { rows: 1, cols: 3 },
  { rows: 7, cols: 63 },       // just under a workgroup
  { rows: 5, cols: 65 },       // one lane takes two values
  { rows: 33, cols: 129 },
  { rows: 256, cols: 48 },     // a transformer's batch·T tokens of width 48
  { rows: 3, cols: 1000 },     // many values per lane
  { rows: 70_000, cols: 2 },   // more rows than workgroups per grid dimension: folds into y
];

function rowsInput(s: LayerNormShape, seed: number): Float32Array {
  return spreadRows(s.rows, s.cols, seed);
}

describe('CPU layer-norm backward matches float64 finite differences of the forward', () => {
  const s: LayerNormShape = { rows: 3, cols: 5 };
  const x = Float64Array.from(rowsInput(s, 1));
  const gamma = Float64Array.from(randomArray(s.cols, 2, 0.5, 1.5)), beta = Float64Array.from(randomArray(s.cols, 3));
  const dy = Float64Array.from(randomArray(sizeOf(s), 4));
  const forward = (xv: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>): Float64Array => layerNormForwardRef(s, xv, g, b, EPS).y;
  const saved = layerNormForwardRef(s, x, gamma, beta, EPS);
  const got = layerNormBackwardRef(s, x, dy, gamma, saved.mean, saved.rstd);
  // Smooth O(1) functions with step 1e-6: agreement to ~1e-9; 1e-7 leaves room.
  it('dx', () => expect(maxRelativeError(got.dx, numericGradient((p) => forward(p, gamma, beta), x, dy))).toBeLessThan(1e-7));
  it('dgamma', () => expect(maxRelativeError(got.dgamma, numericGradient((p) => forward(x, p, beta), gamma, dy))).toBeLessThan(1e-7));
  it('dbeta', () => expect(maxRelativeError(got.dbeta, numericGradient((p) => forward(x, gamma, p), beta, dy))).toBeLessThan(1e-7));
});

describe('layer norm on the GPU matches the CPU reference', () => {
  it.each(SHAPES.map((s) => [label(s), s] as const))('forward: %s', async (_name, s) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = rowsInput(s, 5 + s.cols);
    const gamma = randomArray(s.cols, 6, 0.5, 1.5), beta = randomArray(s.cols, 7);
    const io = {
      x: buffers.upload(x), gamma: buffers.upload(gamma), beta: buffers.upload(beta),
      y: buffers.output(sizeOf(s)), mean: buffers.output(s.rows), rstd: buffers.output(s.rows),
    };
    await runDispatches(gpu, layerNormForward(gpu, s, io));
    const expected = layerNormForwardRef(s, x, gamma, beta, EPS);
    // f32 two-pass sums over ≤ 1000 values per row: ~1e-6 relative; the normalized output is O(1)
    // (floor 1). 1e-4 is the fp32 budget. rstd is up to 1/√eps ≈ 316 for the one-value rows.
    expect(maxRelativeError(await readFloat32(gpu, io.y, sizeOf(s)), expected.y)).toBeLessThan(1e-4);
    expect(maxRelativeError(await readFloat32(gpu, io.mean, s.rows), expected.mean)).toBeLessThan(1e-4);
    expect(maxRelativeError(await readFloat32(gpu, io.rstd, s.rows), expected.rstd)).toBeLessThan(1e-4);
    buffers.destroy();
  });

  it('keeps the variance accurate when the mean dwarfs the spread', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s: LayerNormShape = { rows: 4, cols: 768 };
    // Values 100 ± 0.5: E[x²] − E[x]² in f32 would lose every digit of the variance (≈ 0.08).
    const x = randomArray(sizeOf(s), 17, 99.5, 100.5);
    const gamma = new Float32Array(s.cols).fill(1), beta = new Float32Array(s.cols);
    const io = { x: buffers.upload(x), gamma: buffers.upload(gamma), beta: buffers.upload(beta), y: buffers.output(sizeOf(s)), mean: buffers.output(s.rows), rstd: buffers.output(s.rows) };
    await runDispatches(gpu, layerNormForward(gpu, s, io));
    const expected = layerNormForwardRef(s, x, gamma, beta, EPS);
    // x itself is only known to f32's 2^-17 ≈ 8e-6 at 100, i.e. 3e-5 of the spread: 1e-4 of the
    // O(1) normalized output covers it and the mean's rounding.
    expect(maxRelativeError(await readFloat32(gpu, io.rstd, s.rows), expected.rstd)).toBeLessThan(1e-4);
    expect(maxRelativeError(await readFloat32(gpu, io.y, sizeOf(s)), expected.y)).toBeLessThan(1e-4);
    buffers.destroy();
  });

  it.each(SHAPES.map((s) => [label(s), s] as const))('backward: %s', async (_name, s) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = rowsInput(s, 8), dy = randomArray(sizeOf(s), 9);
    const gamma = randomArray(s.cols, 10, 0.5, 1.5);
    const stats = layerNormForwardRef(s, x, gamma, new Float64Array(s.cols), EPS);
    const mean = Float32Array.from(stats.mean), rstd = Float32Array.from(stats.rstd);
    const io = {
      x: buffers.upload(x), dy: buffers.upload(dy), gamma: buffers.upload(gamma), mean: buffers.upload(mean), rstd: buffers.upload(rstd),
      dx: buffers.output(sizeOf(s)), dgamma: buffers.output(s.cols), dbeta: buffers.output(s.cols), scratch: buffers.output(sizeOf(s)),
    };
    await runDispatches(gpu, layerNormBackward(gpu, s, io));
    const expected = layerNormBackwardRef(s, x, dy, gamma, mean, rstd);
    // dgamma and dbeta sum up to 70,000 O(1) terms: compare relative to √rows, their random-walk
    // size. dx is rstd times O(1) terms; rstd reaches 316 for one-value rows, so relative to
    // max(|dx|, rstd).
    expect(maxRelativeError(await readFloat32(gpu, io.dbeta, s.cols), expected.dbeta, Math.sqrt(s.rows))).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, io.dgamma, s.cols), expected.dgamma, Math.sqrt(s.rows))).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, io.dx, sizeOf(s)), expected.dx, Math.max(...rstd))).toBeLessThan(1e-4);
    buffers.destroy();
  });

  it('gives the same dgamma and dbeta bits on a second run', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const s: LayerNormShape = { rows: 1000, cols: 37 };
    const x = rowsInput(s, 11);
    const stats = layerNormForwardRef(s, x, new Float64Array(s.cols).fill(1), new Float64Array(s.cols), EPS);
    const io = {
      x: buffers.upload(x), dy: buffers.upload(randomArray(sizeOf(s), 12)), gamma: buffers.upload(randomArray(s.cols, 13)),
      mean: buffers.upload(Float32Array.from(stats.mean)), rstd: buffers.upload(Float32Array.from(stats.rstd)),
      dx: buffers.output(sizeOf(s)), dgamma: buffers.output(s.cols), dbeta: buffers.output(s.cols), scratch: buffers.output(sizeOf(s)),
    };
    const runs: Float32Array[] = [];
    for (let run = 0; run < 2; run++) {
      await runDispatches(gpu, layerNormBackward(gpu, s, io));
      runs.push(Float32Array.of(...await readFloat32(gpu, io.dgamma, s.cols), ...await readFloat32(gpu, io.dbeta, s.cols)));
    }
    expect(runs[1]).toEqual(runs[0]);
    buffers.destroy();
  });

  it('rejects an empty row and a non-positive eps', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    const io = { x: b, gamma: b, beta: b, y: b, mean: b, rstd: b };
    expect(() => layerNormForward(gpu, { rows: 4, cols: 0 }, io)).toThrow(/layerNormForward: cols must be a positive integer/);
    expect(() => layerNormForward(gpu, { rows: 4, cols: 1 }, { ...io, eps: 0 })).toThrow(/eps must be positive/);
    buffers.destroy();
  });
});

function layerNormCase(pass: 'forward' | 'backward'): SubgroupVariantCase {
  const s = { rows: 3, cols: 5 };
  const launch = (gpu: Gpu, variant?: 'subgroup') => {
    const b = storageBuffer(gpu, 256, 'layernorm.any');
    return pass === 'forward'
      ? layerNormForward(gpu, s, { x: b, gamma: b, beta: b, y: b, mean: b, rstd: b, variant })
      : layerNormBackward(gpu, s, { x: b, dy: b, gamma: b, mean: b, rstd: b, dx: b, dgamma: b, dbeta: b, scratch: b, variant });
  };
  return {
    kernels: [pass === 'forward' ? 'layerNorm' : 'layerNormBackward'],
    shader: 'layernorm_subgroup',
    forced: (gpu) => launch(gpu, 'subgroup'),
    byDefault: (gpu) => launch(gpu),
    subgroupKernel: ['layernorm_subgroup', `${pass}Subgroup`],
    invocationKernel: ['layernorm', pass],
  };
}

describe('layer norm, subgroup variants (a workgroup per row)', () => {
  it('are reflected: the invocation kernels\' bindings, in a workgroup of whole subgroups of any size (4 to 128)', () => {
    expect(shaderSource('layernorm_subgroup')).toMatch(/^enable subgroups;/m);
    for (const pass of ['forward', 'backward']) {
      const info = entryInfo('layernorm_subgroup', `${pass}Subgroup`);
      expect(info.bindings.map((b) => `${b.name}:${b.kind}`)).toEqual(entryInfo('layernorm', pass).bindings.map((b) => `${b.name}:${b.kind}`));
      expect(info.workgroupSize[0] % 128).toBe(0);
    }
  });

  it.each(['forward', 'backward'] as const)('%s: matches the reference over odd row lengths where the device has subgroups, and is refused where it does not', async (pass) => {
    await expectSubgroupVariantOnThisDevice(await testGpu(), layerNormCase(pass));
  });

  it.each(['forward', 'backward'] as const)('%s: builds, and is the default, on Dawn\'s null backend, which offers subgroups', async (pass) => {
    await expectSubgroupVariantBuilds(layerNormCase(pass));
  });
});
