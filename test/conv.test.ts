import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, storageBuffer, uploadBuffer, writeBuffer } from '../src/gpu/buffers.ts';
import {
  conv2dBackwardInput, conv2dBackwardWeight, conv2dColumns, conv2dColumnsCount, conv2dOutputSize, conv2dScratchBytes, samePadding, convAlgorithm, type Conv2dShape, type ConvAlgorithm, type ConvPass,
} from '../src/kernels/conv.ts';
import { testGpu } from './helpers/gpu.ts';
import { CONV_TOLERANCE, conv, convName, expectConvMatchesReference, poisoned } from './helpers/conv-check.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dForwardRef, im2colRef, outputCount } from './reference/conv.ts';

const SHAPES: Conv2dShape[] = [
  conv(4, 1, 28, 28, 32, [3, 3]),                 // MNIST CNN conv1
  conv(3, 32, 13, 13, 64, [3, 3]),                // MNIST CNN conv2
  conv(2, 1, 28, 28, 10, [5, 5]),                 // LeNet conv1
  conv(3, 10, 12, 12, 20, [5, 5]),                // LeNet conv2
  conv(1, 1, 7, 9, 1, [3, 3], [1, 1], [1, 1]),    // batch 1, one channel, 'same' padding, non-square image
  conv(3, 3, 17, 17, 5, [5, 5], [2, 2], [2, 2]),  // stride 2 with padding 2
  conv(2, 3, 9, 7, 4, [2, 3], [2, 1], [1, 0]),    // non-square kernel, stride and padding
  conv(2, 17, 5, 5, 3, [1, 1]),                   // pointwise: the image is its own column matrix
  conv(1, 3, 8, 7, 2, [1, 1], [2, 2]),            // 1×1 with stride: most inputs get no gradient
  conv(2, 3, 5, 5, 129, [5, 5]),                  // 1×1 output
  conv(1, 3, 28, 28, 8, [3, 3], [1, 1], [1, 1]),  // 'same' 3×3 on 28×28
  conv(1, 2, 6, 6, 3, [3, 3], [3, 3], [0, 0]),    // stride equal to the kernel: windows tile the image
];

/** Both ways every pass can run, each checked on every shape whatever the default would pick. */
const ALGORITHMS: readonly ConvAlgorithm[] = ['direct', 'columns'];

describe('conv2d shape helpers', () => {
  it('output size floors like PyTorch, and same padding keeps the size', () => {
    expect(conv2dOutputSize(conv(1, 1, 13, 13, 1, [3, 3]))).toEqual({ outH: 11, outW: 11 });
    expect(conv2dOutputSize(conv(1, 1, 17, 16, 1, [5, 5], [2, 2], [2, 2]))).toEqual({ outH: 9, outW: 8 });
    for (const k of [1, 3, 5, 7]) expect(conv2dOutputSize(conv(1, 1, 9, 10, 1, [k, k], [1, 1], [samePadding(k), samePadding(k)]))).toEqual({ outH: 9, outW: 10 });
    expect(() => samePadding(4)).toThrow(/even/);
  });

  it('picks the column path for deep passes whose column matrix fits 128 MiB, direct kernels otherwise', () => {
    const conv2 = conv(64, 32, 13, 13, 64, [3, 3]);
    expect(['forward', 'backwardInput', 'backwardWeight'].map((p) => convAlgorithm(conv2, p as ConvPass))).toEqual(['columns', 'columns', 'columns']);
    // conv1: a 9-deep forward and weight gradient; its input gradient sums over 32 channels.
    const conv1 = conv(64, 1, 28, 28, 32, [3, 3]);
    expect(['forward', 'backwardInput', 'backwardWeight'].map((p) => convAlgorithm(conv1, p as ConvPass))).toEqual(['direct', 'columns', 'direct']);
    // 288 × 1000·121 floats = 139 MB of columns.
    expect(convAlgorithm({ ...conv2, batch: 1000 }, 'forward')).toBe('direct');
  });

  it('rejects a scratch buffer smaller than conv2dScratchBytes', async () => {
    const gpu = await testGpu();
    const s = conv(4, 4, 8, 8, 8, [3, 3]);
    for (const algorithm of ALGORITHMS) {
      const sizes = conv2dScratchBytes(s, { pass: 'backwardWeight', algorithm });
      const small = sizes.map((bytes, i) => storageBuffer(gpu, bytes - 4 * i - 256, `scratch${i}`));
      const x = small[0]!;
      expect(() => conv2dBackwardWeight(gpu, s, { x, dy: x, dweight: x, scratch: small, algorithm }), algorithm).toThrow(/conv2dScratchBytes/);
      expect(() => conv2dBackwardWeight(gpu, s, { x, dy: x, dweight: x, scratch: [], algorithm }), algorithm).toThrow(/conv2dScratchBytes/);
      for (const b of small) gpu.destroyBuffer(b);
    }
  });
});

describe('CPU convolution backward references match float64 finite differences', () => {
  const small = [conv(1, 2, 5, 6, 3, [3, 3], [2, 2], [1, 1]), conv(2, 1, 4, 5, 2, [2, 3], [1, 1], [1, 0]), conv(1, 3, 3, 3, 2, [1, 1])];
  it.each(small.map((s) => [convName(s), s] as const))('%s', (_label, s) => {
    const x = Float64Array.from(randomArray(s.batch * s.inChannels * s.height * s.width, 21));
    const w = Float64Array.from(randomArray(s.outChannels * s.inChannels * s.kernelH * s.kernelW, 22));
    const b = Float64Array.from(randomArray(s.outChannels, 23));
    const dy = Float64Array.from(randomArray(outputCount(s), 24));
    const grads = conv2dBackwardWeightRef(s, x, dy);
    // Convolution is linear in each argument, so central differences are exact up to float64 rounding.
    expect(maxRelativeError(conv2dBackwardInputRef(s, dy, w), numericGradient((p) => conv2dForwardRef(s, p, w, b), x, dy))).toBeLessThan(1e-7);
    expect(maxRelativeError(grads.dweight, numericGradient((p) => conv2dForwardRef(s, x, p, b), w, dy))).toBeLessThan(1e-7);
    expect(maxRelativeError(grads.dbias, numericGradient((p) => conv2dForwardRef(s, x, w, p), b, dy))).toBeLessThan(1e-7);
  });
});

describe('GPU convolution matches the CPU references', () => {
  const cases = SHAPES.flatMap((s) => ALGORITHMS.map((algorithm) => [`${convName(s)}, ${algorithm}`, s, algorithm] as const));
  it.each(cases)('%s', async (_label, s, algorithm) => {
    await expectConvMatchesReference(await testGpu(), s, algorithm);
  });

  it('conv2dColumns writes the im2col matrix exactly', async () => {
    const gpu = await testGpu();
    for (const s of [conv(2, 3, 9, 7, 4, [2, 3], [2, 1], [1, 0]), conv(3, 2, 6, 5, 1, [3, 3], [1, 1], [1, 1]), conv(1, 1, 5, 5, 1, [5, 5])]) {
      const x = randomArray(s.batch * s.inChannels * s.height * s.width, 8);
      const xb = uploadBuffer(gpu, x, 'x'), columns = poisoned(gpu, conv2dColumnsCount(s), 'columns');
      await runDispatches(gpu, [conv2dColumns(gpu, s, { x: xb, columns })]);
      // A pure copy with zeros for padding: exact.
      expect(Array.from(await readFloat32(gpu, columns)), convName(s)).toEqual(Array.from(im2colRef(s, x)));
      gpu.destroyBuffer(xb); gpu.destroyBuffer(columns);
    }
  });

  it.each(ALGORITHMS)('works on tensors placed at offsets inside larger buffers (%s)', async (algorithm) => {
    const gpu = await testGpu();
    const s = conv(2, 3, 9, 7, 4, [3, 3], [2, 1], [1, 1]);
    const inputs = s.batch * s.inChannels * s.height * s.width, outputs = outputCount(s);
    const weights = s.outChannels * s.inChannels * s.kernelH * s.kernelW;
    const x = randomArray(inputs, 5), w = randomArray(weights, 6), dy = randomArray(outputs, 7);
    // Like the memory planner's placements: each tensor 512 bytes into a buffer with room to spare.
    // (WebGPU forbids one buffer being both read and written in a dispatch, so they stay separate.)
    const OFFSET = 512;
    const placed = (data: Float32Array | number, label: string): GPUBufferBinding => {
      const count = typeof data === 'number' ? data : data.length;
      const buffer = storageBuffer(gpu, OFFSET + count * 4 + 1024, label);
      if (typeof data !== 'number') writeBuffer(gpu, buffer, data, OFFSET);
      return { buffer, offset: OFFSET, size: count * 4 };
    };
    const xr = placed(x, 'x'), wr = placed(w, 'weight'), dyr = placed(dy, 'dy'), dxr = placed(inputs, 'dx'), dwr = placed(weights, 'dweight');
    const scratch = conv2dScratchBytes(s, { algorithm }).map((bytes, i) => placed(bytes / 4, `scratch${i}`));
    await runDispatches(gpu, [
      ...conv2dBackwardInput(gpu, s, { dy: dyr, weight: wr, dx: dxr, scratch, algorithm }),
      ...conv2dBackwardWeight(gpu, s, { x: xr, dy: dyr, dweight: dwr, scratch, algorithm }),
    ]);
    expect(maxRelativeError(await readFloat32(gpu, dxr.buffer, inputs, OFFSET / 4), conv2dBackwardInputRef(s, dy, w))).toBeLessThan(CONV_TOLERANCE);
    expect(maxRelativeError(await readFloat32(gpu, dwr.buffer, weights, OFFSET / 4), conv2dBackwardWeightRef(s, x, dy).dweight)).toBeLessThan(CONV_TOLERANCE);
    for (const r of [xr, wr, dyr, dxr, dwr, ...scratch]) gpu.destroyBuffer(r.buffer);
  });
});
