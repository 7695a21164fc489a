import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, uploadBuffer } from '../src/gpu/buffers.ts';
import { copyBlocks, swapOuterAxes } from '../src/kernels/layout.ts';
import { testGpu } from './helpers/gpu.ts';
import { randomArray } from './helpers/random.ts';
import { copyBlocksRef, swapOuterAxesRef } from './reference/layout.ts';

// [outer, inner, width, offset]: widths below, at and above the 32 where the launcher switches from
// the 1-D grid to the row grid, rows longer than one workgroup span of 1024, a matrix transpose
// (width 1), 1×1 axes, and reads from an offset.
const CASES: [number, number, number, number][] = [
  [1, 1, 1, 0], [3, 5, 1, 0], [129, 17, 1, 0], [2, 3, 31, 0], [4, 3, 32, 0], [3, 4, 33, 0],
  [64, 3, 121, 0], [3, 64, 676, 0], [2, 3, 2500, 5], [3, 2, 1024, 0], [1, 7, 65, 0], [7, 1, 65, 0], [5, 6, 40, 13], [6, 5, 3, 7],
];

describe('swapOuterAxes', () => {
  it.each(CASES)('[%i][%i][%i] from offset %i matches the CPU reference exactly', async (outer, inner, width, offset) => {
    const gpu = await testGpu();
    const count = outer * inner * width;
    const src = randomArray(offset + count, count + offset);
    const srcBuffer = uploadBuffer(gpu, src, 'src');
    // NaN-filled, so an element the kernel forgets to write fails the comparison.
    const dst = uploadBuffer(gpu, new Float32Array(count).fill(NaN), 'dst');
    await runDispatches(gpu, [swapOuterAxes(gpu, { src: srcBuffer, dst, outer, inner, width, offset })]);
    // A pure copy: exact.
    expect(Array.from(await readFloat32(gpu, dst, count))).toEqual(Array.from(swapOuterAxesRef(src, outer, inner, width, offset)));
    gpu.destroyBuffer(srcBuffer);
    gpu.destroyBuffer(dst);
  });
});

// [outer, width, srcStride, srcOffset, dstStride, dstOffset]: a concatenation's half, a slice, one
// row broadcast to every row (source stride 0), a single word, and rows past one workgroup.
const BLOCKS: [number, number, number, number, number, number][] = [
  [3, 5, 5, 0, 12, 7], [4, 3, 10, 2, 3, 0], [6, 7, 0, 0, 9, 1], [1, 1, 1, 0, 1, 0], [5, 301, 400, 13, 301, 0], [129, 2, 2, 0, 4, 2],
];

describe('copyBlocks', () => {
  it.each(BLOCKS)('%i rows of %i words (strides %i from %i → %i from %i) match the CPU reference exactly', async (outer, width, srcStride, srcOffset, dstStride, dstOffset) => {
    const gpu = await testGpu();
    const io = { outer, width, srcStride, srcOffset, dstStride, dstOffset };
    const src = randomArray(srcOffset + (outer - 1) * srcStride + width, outer + width);
    const before = new Float32Array(dstOffset + (outer - 1) * dstStride + width).fill(NaN);
    const srcBuffer = uploadBuffer(gpu, src, 'src');
    const dst = uploadBuffer(gpu, before, 'dst');
    await runDispatches(gpu, copyBlocks(gpu, { src: srcBuffer, dst, ...io }));
    // Words between the rows keep their NaN: only the rows are written.
    expect(Array.from(await readFloat32(gpu, dst, before.length))).toEqual(Array.from(copyBlocksRef(src, before, io)));
    gpu.destroyBuffer(srcBuffer);
    gpu.destroyBuffer(dst);
  });
});
