import { describe, expect, it } from 'vitest';
import { readFloat32, readUint32, runDispatches, storageBuffer, uploadBuffer } from '../src/gpu/buffers.ts';
import {
  avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward, pool2dOutputSize, type Pool2dShape,
} from '../src/kernels/pool.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { avgPool2dBackwardRef, avgPool2dForwardRef, maxPool2dBackwardRef, maxPool2dForwardRef } from './reference/pool.ts';

function pool(batch: number, channels: number, height: number, width: number, window: [number, number], stride: [number, number], pad: [number, number] = [0, 0]): Pool2dShape {
  return { batch, channels, height, width, windowH: window[0], windowW: window[1], strideH: stride[0], strideW: stride[1], padH: pad[0], padW: pad[1] };
}

const SHAPES: Pool2dShape[] = [
  pool(4, 32, 26, 26, [2, 2], [2, 2]),        // MNIST CNN after conv1
  pool(3, 64, 11, 11, [2, 2], [2, 2]),        // after conv2: the last row and column reach no window
  pool(2, 3, 28, 28, [2, 2], [2, 2]),
  pool(1, 1, 7, 9, [3, 3], [2, 2], [1, 1]),   // overlapping windows with padding
  pool(3, 5, 17, 17, [3, 3], [1, 1], [1, 1]), // stride 1: every input in up to nine windows
  pool(2, 3, 9, 7, [2, 3], [1, 2], [1, 1]),   // non-square window, stride and padding
  pool(1, 1, 5, 5, [5, 5], [1, 1]),           // one output
  pool(2, 1, 3, 3, [1, 1], [1, 1]),           // identity
  pool(1, 2, 129, 3, [4, 2], [3, 1], [2, 1]), // stride past the window along y, padding of half the window
  pool(2, 3, 10, 8, [3, 3], [3, 3]),          // tiling 3×3 windows leave one row and two columns over
  pool(1, 2, 7, 9, [2, 3], [2, 3]),           // tiling non-square windows, one row over
];

const name = (s: Pool2dShape): string =>
  `${s.batch}x${s.channels}x${s.height}x${s.width} window ${s.windowH}x${s.windowW} stride ${s.strideH}x${s.strideW} pad ${s.padH}x${s.padW}`;

const sizes = (s: Pool2dShape): { inputs: number; outputs: number } => {
  const { outH, outW } = pool2dOutputSize(s);
  return { inputs: s.batch * s.channels * s.height * s.width, outputs: s.batch * s.channels * outH * outW };
};

/** A dx buffer prefilled with NaN, so an element the kernel forgets to write fails the comparison. */
function poisonedBuffer(gpu: Awaited<ReturnType<typeof testGpu>>, count: number): GPUBuffer {
  return uploadBuffer(gpu, new Float32Array(count).fill(NaN), 'dx');
}

describe('pool2dOutputSize', () => {
  it('floors like PyTorch', () => {
    expect(pool2dOutputSize(pool(1, 1, 11, 11, [2, 2], [2, 2]))).toEqual({ outH: 5, outW: 5 });
    expect(pool2dOutputSize(pool(1, 1, 7, 9, [3, 3], [2, 2], [1, 1]))).toEqual({ outH: 4, outW: 5 });
  });

  it('rejects padding over half the window', async () => {
    const gpu = await testGpu();
    const b = storageBuffer(gpu, 64, 'b');
    expect(() => avgPool2dForward(gpu, pool(1, 1, 4, 4, [2, 2], [1, 1], [2, 0]), { x: b, y: b })).toThrow(/padding/);
    gpu.destroyBuffer(b);
  });
});

describe('CPU pooling backward references match float64 finite differences', () => {
  const small = [pool(1, 2, 5, 6, [3, 3], [2, 2], [1, 1]), pool(2, 1, 4, 5, [2, 3], [1, 2], [1, 1]), pool(1, 1, 4, 4, [2, 2], [2, 2])];
  it.each(small.map((s) => [name(s), s] as const))('%s', (_label, s) => {
    const { inputs, outputs } = sizes(s);
    // Distinct values far apart compared with the step, so no window's maximum changes under it.
    const x = Float64Array.from(randomArray(inputs, 11), (v, i) => v + i * 1e-3);
    const dy = Float64Array.from(randomArray(outputs, 12));
    const { argmax } = maxPool2dForwardRef(s, x);
    // Both forwards are piecewise linear in x, so central differences are exact up to rounding.
    expect(maxRelativeError(maxPool2dBackwardRef(s, dy, argmax), numericGradient((p) => maxPool2dForwardRef(s, p).y, x, dy))).toBeLessThan(1e-7);
    expect(maxRelativeError(avgPool2dBackwardRef(s, dy), numericGradient((p) => avgPool2dForwardRef(s, p), x, dy))).toBeLessThan(1e-7);
  });
});

describe('GPU pooling matches the CPU references', () => {
  it.each(SHAPES.map((s) => [name(s), s] as const))('%s', async (_label, s) => {
    const gpu = await testGpu();
    const { inputs, outputs } = sizes(s);
    const x = randomArray(inputs, inputs + 1), dy = randomArray(outputs, outputs + 2);
    const xb = uploadBuffer(gpu, x, 'x'), dyb = uploadBuffer(gpu, dy, 'dy');
    const y = storageBuffer(gpu, outputs * 4, 'y'), argmax = storageBuffer(gpu, outputs * 4, 'argmax');
    const dx = poisonedBuffer(gpu, inputs);

    await runDispatches(gpu, [...maxPool2dForward(gpu, s, { x: xb, y, argmax }), ...maxPool2dBackward(gpu, s, { dy: dyb, argmax, dx })]);
    const maxRef = maxPool2dForwardRef(s, x);
    // The maximum is one of the inputs, chosen by the same first-wins rule: exact.
    expect(Array.from(await readFloat32(gpu, y, outputs))).toEqual(Array.from(maxRef.y));
    expect(Array.from(await readUint32(gpu, argmax, outputs))).toEqual(Array.from(maxRef.argmax));
    // dx sums at most ceil(window/stride)² float32 gradients per axis pair: a few roundings.
    expect(maxRelativeError(await readFloat32(gpu, dx, inputs), maxPool2dBackwardRef(s, dy, maxRef.argmax))).toBeLessThan(1e-6);

    const dxAvg = poisonedBuffer(gpu, inputs);
    await runDispatches(gpu, [...avgPool2dForward(gpu, s, { x: xb, y }), ...avgPool2dBackward(gpu, s, { dy: dyb, dx: dxAvg })]);
    // Sums of at most windowH·windowW (≤ 25) float32 terms in [-1, 1]: well inside 1e-5 relative to max(|ref|, 1).
    expect(maxRelativeError(await readFloat32(gpu, y, outputs), avgPool2dForwardRef(s, x))).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, dxAvg, inputs), avgPool2dBackwardRef(s, dy))).toBeLessThan(1e-5);

    for (const b of [xb, dyb, y, argmax, dx, dxAvg]) gpu.destroyBuffer(b);
    gpu.check();
  });
});
