// The three passes of one convolution layer on random data, recorded once, for the convolution
// benchmarks to time with an algorithm forced or the tuned default.
import { randomArray } from '../../test/helpers/random.ts';
import {
  storageBuffer, uploadBuffer, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize, conv2dScratchBytes,
  type Gpu, type Dispatch, type Conv2dShape, type ConvAlgorithm,
} from 'webgrad';

export const CONV_PASSES = ['forward', 'backwardInput', 'backwardWeight'] as const;
export type ConvPass = (typeof CONV_PASSES)[number];

/** Forward (bias + ReLU), input gradient and weight gradient of `s`; `destroy` frees their buffers. */
export function convPasses(gpu: Gpu, s: Conv2dShape, algorithm?: ConvAlgorithm): { ops: Record<ConvPass, Dispatch[]>; destroy: () => void } {
  const { outH, outW } = conv2dOutputSize(s);
  const inputs = s.batch * s.inChannels * s.height * s.width, outputs = s.batch * s.outChannels * outH * outW;
  const weights = s.outChannels * s.inChannels * s.kernelH * s.kernelW;
  const x = uploadBuffer(gpu, randomArray(inputs, 1), 'x'), weight = uploadBuffer(gpu, randomArray(weights, 2), 'weight');
  const bias = uploadBuffer(gpu, randomArray(s.outChannels, 3), 'bias'), dy = uploadBuffer(gpu, randomArray(outputs, 4), 'dy');
  const y = storageBuffer(gpu, outputs * 4, 'y'), dx = storageBuffer(gpu, inputs * 4, 'dx');
  const dweight = storageBuffer(gpu, weights * 4, 'dweight'), dbias = storageBuffer(gpu, s.outChannels * 4, 'dbias');
  const choice = algorithm ? { algorithm } : {};
  const scratch = conv2dScratchBytes(s, choice).map((bytes, i) => storageBuffer(gpu, bytes, `scratch${i}`));
  const ops: Record<ConvPass, Dispatch[]> = {
    forward: conv2dForward(gpu, s, { x, weight, bias, y, scratch, activation: 'relu', ...choice }),
    backwardInput: conv2dBackwardInput(gpu, s, { dy, weight, dx, scratch, ...choice }),
    backwardWeight: conv2dBackwardWeight(gpu, s, { x, dy, dweight, dbias, scratch, ...choice }),
  };
  return { ops, destroy: () => { for (const b of [x, weight, bias, dy, y, dx, dweight, dbias, ...scratch]) gpu.destroyBuffer(b); } };
}
