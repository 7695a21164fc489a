import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { geluBackward, geluForward } from '../src/kernels/gelu.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { geluBackwardRef, geluForwardRef } from './reference/gelu.ts';

// Multiples of 4 take the vec4 kernels (784, and 4·(256·70 + 3) with a ragged last workgroup), the
// others the scalar ones (256·300 + 5 needs 301 workgroups and a ragged last one).
const COUNTS = [1, 3, 17, 129, 784, 4 * (256 * 70 + 3), 256 * 300 + 5];

describe('CPU GELU backward matches float64 finite differences', () => {
  it('over [−6, 6]', () => {
    const x = Float64Array.from(randomArray(300, 3, -6, 6));
    const dy = Float64Array.from(randomArray(300, 4));
    // Step 1e-6 on a smooth function of size ≤ 6: truncation and cancellation stay below 1e-8.
    expect(maxRelativeError(geluBackwardRef(x, dy), numericGradient(geluForwardRef, x, dy))).toBeLessThan(1e-7);
  });

  it('is the tanh form, not the erf form', () => {
    // At x = 1 the tanh form gives 0.841192; the exact (erf) GELU gives 0.841345.
    expect(geluForwardRef([1])[0]).toBeCloseTo(0.841192, 6);
  });
});

describe('GELU on the GPU matches the CPU reference', () => {
  it.each(COUNTS)('%i elements', async (count) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = randomArray(count, count, -12, 12); // reaches both saturated tails
    const dy = randomArray(count, count + 1);
    const xb = buffers.upload(x), y = buffers.output(count), dyb = buffers.upload(dy), dx = buffers.output(count);
    await runDispatches(gpu, [...geluForward(gpu, { x: xb, y, count }), ...geluBackward(gpu, { x: xb, dy: dyb, dx, count })]);
    // tanh in WGSL is good to a few ulp of 1 (absolute ~1e-7 on 1 + t); with |x| ≤ 12 that is
    // ~1e-6 relative to max(|y|, 1). The slope's (1 − t²) term cancels near the tails, so absolute
    // error ~1e-6 there, again under 1e-5 with the floor of 1.
    expect(maxRelativeError(await readFloat32(gpu, y, count), geluForwardRef(x))).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, dx, count), geluBackwardRef(x, dy))).toBeLessThan(1e-5);
    buffers.destroy();
  });

  it('stays finite and exact in the tails (x = ±1000)', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = Float32Array.from([1000, -1000, 0, 50]);
    const y = buffers.output(4), dx = buffers.output(4);
    const xb = buffers.upload(x);
    await runDispatches(gpu, [...geluForward(gpu, { x: xb, y, count: 4 }), ...geluBackward(gpu, { x: xb, dy: buffers.upload(new Float32Array(4).fill(1)), dx, count: 4 })]);
    expect(Array.from(await readFloat32(gpu, y, 4))).toEqual([1000, -0, 0, 50]);
    expect(Array.from(await readFloat32(gpu, dx, 4))).toEqual([1, 0, 0.5, 1]);
    buffers.destroy();
  });
});
