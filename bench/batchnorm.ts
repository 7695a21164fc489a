// Batch norm on the MNIST CNN's conv1 output (batch 64, 32 channels, 26×26) and a Dense layer:
// webgrad's training forward and backward against TensorFlow.js WebGPU (moments + batchNorm, and
// the same backward formula in TF.js ops) on the same adapter. `npx tsx bench/batchnorm.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import type { Tensor } from '@tensorflow/tfjs-core';
import { createGpu, storageBuffer, uploadBuffer, batchNormBackward, batchNormForwardTrain, type BatchNormShape } from 'webgrad';

const SHAPES: { name: string; shape: BatchNormShape }[] = [
  { name: 'conv1 output 64×32×26×26', shape: { batch: 64, channels: 32, spatial: 26 * 26 } },
  { name: 'Dense 64×128', shape: { batch: 64, channels: 128, spatial: 1 } },
];

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const { name, shape: s } of SHAPES) {
  const count = s.batch * s.channels * s.spatial;
  const x = uploadBuffer(gpu, randomArray(count, 1), 'x'), dy = uploadBuffer(gpu, randomArray(count, 2), 'dy');
  const y = storageBuffer(gpu, count * 4, 'y'), dx = storageBuffer(gpu, count * 4, 'dx');
  const perChannel = Array.from({ length: 8 }, (_, i) => uploadBuffer(gpu, new Float32Array(s.channels).fill(1), `channel${i}`));
  const [gamma, beta, mean, invStd, runningMean, runningVar, dgamma, dbeta] = perChannel as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const forward = batchNormForwardTrain(gpu, s, { x, gamma, beta, y, mean, invStd, runningMean, runningVar, momentum: 0.1, eps: 1e-5 });
  const backward = batchNormBackward(gpu, s, { x, dy, gamma, mean, invStd, dx, dgamma, dbeta });

  const shape4 = [s.batch, s.channels, s.spatial, 1];
  const tx = tf.tensor(randomArray(count, 1), shape4), tdy = tf.tensor(randomArray(count, 2), shape4);
  const tgamma = tf.ones([1, s.channels, 1, 1]), tbeta = tf.zeros([1, s.channels, 1, 1]);
  // TF.js normalizes NHWC natively; moments over (N, H, W) of NCHW data is the same arithmetic.
  const axes = [0, 2, 3];
  const tfForward = (): Tensor => tf.tidy(() => {
    const { mean: m, variance: v } = tf.moments(tx, axes, true);
    return tf.batchNorm(tx, m, v, tbeta, tgamma, 1e-5);
  });
  // tfjs-core alone has no gradients registered, so its backward is the same closed form in TF.js ops.
  const tfBackward = (): Tensor => tf.tidy(() => {
    const { mean: m, variance: v } = tf.moments(tx, axes, true);
    const invStdT = tf.rsqrt(tf.add(v, 1e-5));
    const normalized = tf.mul(tf.sub(tx, m), invStdT);
    const dbetaT = tf.sum(tdy, axes, true), dgammaT = tf.sum(tf.mul(tdy, normalized), axes, true);
    const inner = tf.sub(tf.sub(tf.mul(tdy, s.batch * s.spatial), dbetaT), tf.mul(normalized, dgammaT));
    return tf.mul(tf.mul(tgamma, tf.div(invStdT, s.batch * s.spatial)), inner);
  });
  rows.push({ case: `${name} forward (train)`, webgradMs: await timeDispatches(gpu, forward), tfjsMs: await timeTfjs(tfForward, 10) });
  rows.push({ case: `${name} backward`, webgradMs: await timeDispatches(gpu, backward), tfjsMs: await timeTfjs(tfBackward, 10) });
  for (const b of [x, dy, y, dx, ...perChannel]) gpu.destroyBuffer(b);
  tf.dispose([tx, tdy, tgamma, tbeta]);
}
reportComparison('batchnorm', gpu, adapter, rows);
gpu.destroy();
