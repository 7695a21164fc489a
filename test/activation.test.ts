import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { activationBackward, activationForward, softmaxRows, type ActivationKind } from '../src/kernels/activation.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { activationBackwardRef, activationForwardRef, softmaxRowsRef } from './reference/activation.ts';

const KINDS: ActivationKind[] = ['relu', 'sigmoid', 'tanh'];
// Counts that are multiples of 4 take the vec4 kernels (784, and 4·(256·70 + 3) with a ragged last
// workgroup), the others the scalar ones (256·300 + 5 needs 301 workgroups and a ragged last one).
const COUNTS = [1, 3, 17, 129, 784, 4 * (256 * 70 + 3), 256 * 300 + 5];

describe('CPU activation backward matches float64 finite differences', () => {
  it.each(KINDS)('%s', (kind) => {
    // Keep x away from relu's kink at 0, where the central difference straddles two slopes.
    const x = Float64Array.from(randomArray(200, 3, -4, 4), (v) => (Math.abs(v) < 1e-3 ? 0.5 : v));
    const dy = Float64Array.from(randomArray(200, 4));
    const expected = numericGradient((p) => activationForwardRef(kind, p), x, dy);
    const got = activationBackwardRef(kind, activationForwardRef(kind, x), dy);
    // Step 1e-6 on smooth functions of size ≤ 4: truncation and cancellation errors stay below 1e-8.
    expect(maxRelativeError(got, expected)).toBeLessThan(1e-7);
  });
});

describe('activations on the GPU match the CPU reference', () => {
  for (const kind of KINDS) {
    it.each(COUNTS)(`${kind}, %i elements`, async (count) => {
      const gpu = await testGpu();
      const buffers = new TestBuffers(gpu);
      const x = randomArray(count, count, -12, 12); // reaches sigmoid's and tanh's saturated tails
      const dy = randomArray(count, count + 1);
      const y = Float32Array.from(activationForwardRef(kind, x));
      const xb = buffers.upload(x), yb = buffers.output(count), yRef = buffers.upload(y), dyb = buffers.upload(dy), dxb = buffers.output(count);
      await runDispatches(gpu, [
        ...activationForward(gpu, kind, { x: xb, y: yb, count }),
        ...activationBackward(gpu, kind, { y: yRef, dy: dyb, dx: dxb, count }),
      ]);
      // exp and tanh in WGSL are accurate to a few ulp (relative 1e-6 at most); relu is exact.
      const tolerance = kind === 'relu' ? 0 : 1e-5;
      expect(maxRelativeError(await readFloat32(gpu, yb, count), activationForwardRef(kind, x))).toBeLessThanOrEqual(tolerance);
      // The backward is one or two f32 multiplies of exactly known inputs: a few roundings.
      expect(maxRelativeError(await readFloat32(gpu, dxb, count), activationBackwardRef(kind, y, dy))).toBeLessThanOrEqual(kind === 'relu' ? 0 : 1e-6);
      buffers.destroy();
    });
  }
});

describe('softmaxRows', () => {
  const shapes: [number, number][] = [[1, 1], [1, 10], [3, 3], [10, 17], [17, 129], [129, 10], [3, 784], [1000, 10]];
  it.each(shapes)('%i × %i matches the CPU reference', async (rows, cols) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = randomArray(rows * cols, rows * 31 + cols, -8, 8);
    const y = buffers.output(rows * cols);
    await runDispatches(gpu, softmaxRows(gpu, { x: buffers.upload(x), y, rows, cols }));
    // Sums of up to 784 f32 terms and exp's few ulp: 1e-5 relative to the row's probabilities.
    expect(maxRelativeError(await readFloat32(gpu, y, rows * cols), softmaxRowsRef(x, rows, cols), 1e-3)).toBeLessThan(1e-5);
    buffers.destroy();
  });

  it('stays finite for logits of ±1000', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = Float32Array.from([1000, -1000, 999, 0, -1000, -999, -1000, -1000]);
    const y = buffers.output(8);
    await runDispatches(gpu, softmaxRows(gpu, { x: buffers.upload(x), y, rows: 2, cols: 4 }));
    const got = await readFloat32(gpu, y, 8);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(maxRelativeError(got, softmaxRowsRef(x, 2, 4), 1e-3)).toBeLessThan(1e-5);
    buffers.destroy();
  });
});
