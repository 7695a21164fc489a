// Layer norm over a transformer's token rows (batch·T = 4096 tokens of width 128, and 256 tokens of
// GPT-2's 768): webgrad's fused forward and backward against TensorFlow.js WebGPU (moments over the
// last axis then the affine map in TF.js ops, and the same backward formula in TF.js ops) on the same adapter.
// `npx tsx bench/layernorm.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import type { Tensor } from '@tensorflow/tfjs-core';
import { createGpu, storageBuffer, uploadBuffer, layerNormBackward, layerNormForward, type LayerNormShape } from 'webgrad';

const SHAPES: { name: string; shape: LayerNormShape }[] = [
  { name: '4096 tokens × 128', shape: { rows: 4096, cols: 128 } },
  { name: '256 tokens × 768', shape: { rows: 256, cols: 768 } },
];
const EPS = 1e-5;

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const { name, shape: s } of SHAPES) {
  const count = s.rows * s.cols;
  const x = uploadBuffer(gpu, randomArray(count, 1), 'x'), dy = uploadBuffer(gpu, randomArray(count, 2), 'dy');
  const [y, dx, scratch] = ['y', 'dx', 'scratch'].map((label) => storageBuffer(gpu, count * 4, label)) as [GPUBuffer, GPUBuffer, GPUBuffer];
  const [gamma, beta, dgamma, dbeta] = ['gamma', 'beta', 'dgamma', 'dbeta'].map((label) => uploadBuffer(gpu, new Float32Array(s.cols).fill(1), label)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const [mean, rstd] = ['mean', 'rstd'].map((label) => storageBuffer(gpu, s.rows * 4, label)) as [GPUBuffer, GPUBuffer];
  const forward = layerNormForward(gpu, s, { x, gamma, beta, y, mean, rstd, eps: EPS });
  const backward = layerNormBackward(gpu, s, { x, dy, gamma, mean, rstd, dx, dgamma, dbeta, scratch });

  const tx = tf.tensor2d(randomArray(count, 1), [s.rows, s.cols]), tdy = tf.tensor2d(randomArray(count, 2), [s.rows, s.cols]);
  const tgamma = tf.ones([s.cols]), tbeta = tf.zeros([s.cols]);
  const tfForward = (): Tensor => tf.tidy(() => {
    const { mean: m, variance: v } = tf.moments(tx, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(tx, m), tf.rsqrt(tf.add(v, EPS))), tgamma), tbeta);
  });
  // tfjs-core alone has no gradients registered: the same closed form in TF.js ops, all three outputs.
  const tfBackward = (): Tensor => tf.tidy(() => {
    const { mean: m, variance: v } = tf.moments(tx, -1, true);
    const rstdT = tf.rsqrt(tf.add(v, EPS));
    const normalized = tf.mul(tf.sub(tx, m), rstdT);
    const g = tf.mul(tdy, tgamma);
    const inner = tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(normalized, tf.mean(tf.mul(g, normalized), -1, true)));
    const dgammaT = tf.sum(tf.mul(tdy, normalized), 0), dbetaT = tf.sum(tdy, 0);
    return tf.concat([tf.reshape(tf.mul(rstdT, inner), [-1]), dgammaT, dbetaT]);
  });
  rows.push({ case: `${name} forward`, webgradMs: await timeDispatches(gpu, forward), tfjsMs: await timeTfjs(tfForward, 10) });
  rows.push({ case: `${name} backward`, webgradMs: await timeDispatches(gpu, backward), tfjsMs: await timeTfjs(tfBackward, 10) });
  for (const b of [x, dy, y, dx, scratch, gamma, beta, dgamma, dbeta, mean, rstd]) gpu.destroyBuffer(b);
  tf.dispose([tx, tdy, tgamma, tbeta]);
}
reportComparison('layernorm', gpu, adapter, rows);
gpu.destroy();
