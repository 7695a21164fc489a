import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, uploadBuffer } from '../src/gpu/buffers.ts';
import { BINARY_OPS, UNARY_OPS, binaryOp, broadcastShape, collapseBroadcast, fillBuffer, sumToShape, unaryOp } from '../src/kernels/elementwise.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { binaryRef, broadcastRef, sumToShapeRef, unaryRef } from './reference/elementwise.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// Pairs of full shapes: equal, row and column vectors, scalars, leading axes of 1, both operands
// broadcasting at once, odd sizes, past one workgroup, and five alternating axes (rank 5 collapsed).
const PAIRS: [number[], number[]][] = [
  [[7], [7]], [[5, 7], [7]], [[5, 7], [5, 1]], [[1], [13]], [[3, 1, 5], [4, 1]], [[2, 3, 4, 5], [3, 1, 1]],
  [[4, 3, 1, 1], [1, 3, 9, 11]], [[33, 65], [33, 65]], [[6, 1, 8, 1, 3], [1, 7, 1, 2, 1]], [[2, 300, 3], [1, 300, 1]], [[1, 1], [1, 1]],
];

describe('broadcasting', () => {
  it('follows NumPy and names both shapes when they do not broadcast', () => {
    expect(broadcastShape([5, 1, 3], [4, 1])).toEqual([5, 4, 3]);
    expect(broadcastShape([2], [])).toEqual([2]);
    expect(() => broadcastShape([5, 3], [4], 'layer add1 (Add)')).toThrow('layer add1 (Add): shapes [5, 3] and [4] do not broadcast (3 vs 4 at axis -1)');
  });

  it('collapses axes that broadcast alike and refuses more than six alternations', () => {
    expect(collapseBroadcast([2, 3, 4, 5], [[2, 3, 4, 5], [3, 1, 1]])).toEqual({ dims: [2, 3, 20], strides: [[60, 20, 1], [0, 1, 0]] });
    expect(collapseBroadcast([1, 1], [[1, 1], [1]])).toEqual({ dims: [1], strides: [[0], [0]] });
    expect(() => collapseBroadcast([2, 2, 2, 2, 2, 2, 2], [[2, 1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2, 1]])).toThrow('alternates too often');
  });
});

describe('elementwise kernels', () => {
  it.each(PAIRS)('binary ops on %j and %j match the float64 reference', async (aShape, bShape) => {
    const gpu = await testGpu();
    const outShape = broadcastRef(aShape, bShape);
    const a = randomArray(count(aShape), count(aShape) + 1);
    // b away from zero so division is well conditioned.
    const b = randomArray(count(bShape), count(bShape) + 2, 0.5, 2);
    const aBuffer = uploadBuffer(gpu, a, 'a');
    const bBuffer = uploadBuffer(gpu, b, 'b');
    for (const op of BINARY_OPS) {
      const out = uploadBuffer(gpu, new Float32Array(count(outShape)).fill(NaN), 'out');
      await runDispatches(gpu, binaryOp(gpu, { op, a: aBuffer, b: bBuffer, out, aShape, bShape, alpha: -1.5 }));
      expect(maxRelativeError(await readFloat32(gpu, out, count(outShape)), binaryRef(op, a, aShape, b, bShape, -1.5)), op).toBeLessThan(1e-6);
      gpu.destroyBuffer(out);
    }
    gpu.destroyBuffer(aBuffer);
    gpu.destroyBuffer(bBuffer);
  });

  it.each(PAIRS)('sums a %j-by-%j broadcast back to each operand shape', async (aShape, bShape) => {
    const gpu = await testGpu();
    const outShape = broadcastRef(aShape, bShape);
    const src = randomArray(count(outShape), count(outShape) + 3);
    const srcBuffer = uploadBuffer(gpu, src, 'src');
    for (const shape of [aShape, bShape]) {
      const dst = uploadBuffer(gpu, new Float32Array(count(shape)).fill(NaN), 'dst');
      await runDispatches(gpu, sumToShape(gpu, { src: srcBuffer, dst, srcShape: outShape, dstShape: shape, alpha: 0.5 }));
      expect(maxRelativeError(await readFloat32(gpu, dst, count(shape)), sumToShapeRef(src, outShape, shape, 0.5))).toBeLessThan(1e-5);
      gpu.destroyBuffer(dst);
    }
    gpu.destroyBuffer(srcBuffer);
  });

  it.each([1, 255, 256, 1000, 70_001])('unary ops and fill over %i elements match the reference', async (n) => {
    const gpu = await testGpu();
    const x = randomArray(n, n, 0.1, 3);
    const xBuffer = uploadBuffer(gpu, x, 'x');
    const y = uploadBuffer(gpu, new Float32Array(n).fill(NaN), 'y');
    for (const op of UNARY_OPS) {
      await runDispatches(gpu, unaryOp(gpu, { op, x: xBuffer, y, count: n, alpha: 0.75, beta: 0.25 }));
      expect(maxRelativeError(await readFloat32(gpu, y, n), unaryRef(op, x, 0.75, 0.25)), op).toBeLessThan(2e-6);
    }
    await runDispatches(gpu, fillBuffer(gpu, { out: y, count: n, value: -2.5 }));
    expect(new Set(await readFloat32(gpu, y, n))).toEqual(new Set([-2.5]));
    gpu.destroyBuffer(xBuffer);
    gpu.destroyBuffer(y);
  });

  it('sumToShape refuses a shape that does not broadcast to the source', async () => {
    const gpu = await testGpu();
    const buffer = uploadBuffer(gpu, new Float32Array(12), 'x');
    expect(() => sumToShape(gpu, { src: buffer, dst: buffer, srcShape: [3, 4], dstShape: [2, 4] })).toThrow('do not broadcast');
    expect(() => sumToShape(gpu, { src: buffer, dst: buffer, srcShape: [4], dstShape: [3, 4] })).toThrow('does not broadcast to [4]');
    gpu.destroyBuffer(buffer);
  });
});
