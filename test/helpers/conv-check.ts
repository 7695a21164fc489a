// Runs every pass of one convolution on the GPU with a named algorithm and compares each result
// (forward with and without bias + ReLU, input, weight and bias gradients) with the float64 references.
import { expect } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import { readFloat32, runDispatches, storageBuffer, uploadBuffer } from '../../src/gpu/buffers.ts';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dScratchBytes, type Conv2dShape, type ConvAlgorithm } from '../../src/kernels/conv.ts';
import { maxRelativeError, randomArray } from './random.ts';
import { conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dForwardRef, outputCount } from '../reference/conv.ts';

/**
 * Every output is an fp32 sum of K = C·KH·KW (forward), OC·taps-in-reach (input gradient) or
 * N·OH·OW (weight gradient) products of values in [-1, 1]. Rounding grows like √K·2⁻²⁴ relative
 * to the terms; 1e-4 relative to max(|ref|, 1) leaves a wide margin for K up to a few thousand.
 */
export const CONV_TOLERANCE = 1e-4;

/** An output buffer prefilled with NaN, so an element the kernels forget to write fails the comparison. */
export function poisoned(gpu: Gpu, count: number, label: string): GPUBuffer {
  return uploadBuffer(gpu, new Float32Array(count).fill(NaN), label);
}

export async function expectConvMatchesReference(gpu: Gpu, s: Conv2dShape, algorithm: ConvAlgorithm): Promise<void> {
  const inputs = s.batch * s.inChannels * s.height * s.width;
  const weights = s.outChannels * s.inChannels * s.kernelH * s.kernelW;
  const outputs = outputCount(s);
  const x = randomArray(inputs, inputs + 1), w = randomArray(weights, weights + 2);
  const bias = randomArray(s.outChannels, 3), dy = randomArray(outputs, outputs + 4);
  const xb = uploadBuffer(gpu, x, 'x'), wb = uploadBuffer(gpu, w, 'weight'), bb = uploadBuffer(gpu, bias, 'bias'), dyb = uploadBuffer(gpu, dy, 'dy');
  const scratch = conv2dScratchBytes(s, { algorithm }).map((bytes, i) => storageBuffer(gpu, bytes, `scratch${i}`));
  const yRelu = poisoned(gpu, outputs, 'yRelu'), yPlain = poisoned(gpu, outputs, 'yPlain');
  const dx = poisoned(gpu, inputs, 'dx'), dw = poisoned(gpu, weights, 'dweight'), db = poisoned(gpu, s.outChannels, 'dbias');

  // Each launcher may reuse the whole scratch buffer, so they run one after another in one pass.
  await runDispatches(gpu, [
    ...conv2dForward(gpu, s, { x: xb, weight: wb, bias: bb, y: yRelu, scratch, activation: 'relu', algorithm }),
    ...conv2dForward(gpu, s, { x: xb, weight: wb, y: yPlain, scratch, algorithm }),
    ...conv2dBackwardInput(gpu, s, { dy: dyb, weight: wb, dx, scratch, algorithm }),
    ...conv2dBackwardWeight(gpu, s, { x: xb, dy: dyb, dweight: dw, dbias: db, scratch, algorithm }),
  ]);
  const grads = conv2dBackwardWeightRef(s, x, dy);
  expect(maxRelativeError(await readFloat32(gpu, yRelu, outputs), conv2dForwardRef(s, x, w, bias, 'relu')), 'forward, bias + relu').toBeLessThan(CONV_TOLERANCE);
  expect(maxRelativeError(await readFloat32(gpu, yPlain, outputs), conv2dForwardRef(s, x, w)), 'forward').toBeLessThan(CONV_TOLERANCE);
  expect(maxRelativeError(await readFloat32(gpu, dx, inputs), conv2dBackwardInputRef(s, dy, w)), 'input gradient').toBeLessThan(CONV_TOLERANCE);
  expect(maxRelativeError(await readFloat32(gpu, dw, weights), grads.dweight), 'weight gradient').toBeLessThan(CONV_TOLERANCE);
  expect(maxRelativeError(await readFloat32(gpu, db, s.outChannels), grads.dbias), 'bias gradient').toBeLessThan(CONV_TOLERANCE);

  for (const b of [xb, wb, bb, dyb, ...scratch, yRelu, yPlain, dx, dw, db]) gpu.destroyBuffer(b);
  gpu.check();
}

/** A Conv2dShape from the PyTorch-style arguments. */
export function conv(batch: number, inChannels: number, height: number, width: number, outChannels: number, kernel: [number, number], stride: [number, number] = [1, 1], pad: [number, number] = [0, 0]): Conv2dShape {
  return { batch, inChannels, height, width, outChannels, kernelH: kernel[0], kernelW: kernel[1], strideH: stride[0], strideW: stride[1], padH: pad[0], padW: pad[1] };
}

export const convName = (s: Conv2dShape): string =>
  `${s.batch}x${s.inChannels}x${s.height}x${s.width} → ${s.outChannels} kernel ${s.kernelH}x${s.kernelW} stride ${s.strideH}x${s.strideW} pad ${s.padH}x${s.padW}`;
