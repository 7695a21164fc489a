import { describe, expect, it } from 'vitest';
import { readFloat32, readUint32, runDispatches } from '../src/gpu/buffers.ts';
import { argmaxRows, biasGradient } from '../src/kernels/reduce.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { argmaxRowsRef, biasGradientRef } from './reference/reduce.ts';

describe('biasGradient', () => {
  // [batch, channels, spatial]: Dense (spatial 1) and NCHW conv outputs, including per-channel
  // counts far past one workgroup's 64 lanes and channel counts that are not powers of two.
  const shapes: [number, number, number][] = [
    [1, 1, 1], [3, 3, 1], [64, 10, 1], [17, 129, 1], [784, 3, 1], [2, 5, 3], [64, 32, 26 * 26], [3, 17, 784], [1, 784, 1],
    [2, 70_000, 1], // more channels than workgroups per grid dimension: the grid folds into y
    // Either side of where Dense bias gradients switch to one column per invocation, and a ViT's token rows.
    [300, 31, 1], [5, 32, 1], [1088, 64, 1], [130, 257, 1],
  ];
  it.each(shapes)('batch %i, channels %i, spatial %i matches the CPU reference', async (batch, channels, spatial) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const dy = randomArray(batch * channels * spatial, batch + 7 * channels + 13 * spatial);
    const dbias = buffers.output(channels);
    await runDispatches(gpu, biasGradient(gpu, { dy: buffers.upload(dy), dbias, batch, channels, spatial }));
    const got = await readFloat32(gpu, dbias, channels);
    // Sums of up to 43k terms in [-1, 1] in f32: the error grows like √n·ulp(partial sum), ~1e-5 of
    // the sum's scale √n, so compare relative to max(|sum|, √n).
    const expected = biasGradientRef(dy, batch, channels, spatial);
    expect(maxRelativeError(got, expected, Math.sqrt(batch * spatial))).toBeLessThan(1e-5);
    buffers.destroy();
  });

  it('gives the same bits on every run', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const [batch, channels, spatial] = [32, 8, 169];
    const dy = buffers.upload(randomArray(batch * channels * spatial, 5, -100, 100));
    const dbias = buffers.output(channels);
    const step = biasGradient(gpu, { dy, dbias, batch, channels, spatial });
    await runDispatches(gpu, step);
    const first = await readFloat32(gpu, dbias, channels);
    for (let run = 0; run < 3; run++) {
      await runDispatches(gpu, step);
      expect(await readFloat32(gpu, dbias, channels)).toEqual(first);
    }
    buffers.destroy();
  });
});

describe('argmaxRows', () => {
  const shapes: [number, number][] = [[1, 1], [1, 10], [3, 3], [10, 17], [129, 10], [17, 784], [1000, 10]];
  it.each(shapes)('%i × %i matches the CPU reference', async (rows, cols) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = randomArray(rows * cols, rows + 3 * cols);
    const indices = buffers.upload(new Uint32Array(rows).fill(0xffffffff));
    await runDispatches(gpu, argmaxRows(gpu, { x: buffers.upload(x), indices, rows, cols }));
    expect(await readUint32(gpu, indices, rows)).toEqual(argmaxRowsRef(x, rows, cols));
    buffers.destroy();
  });

  it('picks the first of tied maxima', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const x = Float32Array.from([1, 3, 3, 0, /**/ 5, 5, 5, 5, /**/ -2, -1, -3, -1]);
    const indices = buffers.upload(new Uint32Array(3));
    await runDispatches(gpu, argmaxRows(gpu, { x: buffers.upload(x), indices, rows: 3, cols: 4 }));
    expect(Array.from(await readUint32(gpu, indices, 3))).toEqual([1, 0, 1]);
    buffers.destroy();
  });
});
