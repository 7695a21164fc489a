// GELU (tanh form) on a transformer MLP's hidden activations (4096 tokens × 512, and an odd-sized
// 1000 × 129 that takes the scalar kernels): webgrad against the same formula in TensorFlow.js
// WebGPU ops on the same adapter (tfjs-core has no GELU op). `npx tsx bench/gelu.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs, type Tf } from './tfjs.ts';
import type { Tensor } from '@tensorflow/tfjs-core';
import { createGpu, storageBuffer, uploadBuffer, geluBackward, geluForward } from 'webgrad';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function tfInnerTanh(tf: Tf, x: Tensor): Tensor {
  return tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI));
}

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const [name, count] of [['4096 tokens × 512', 4096 * 512], ['1000 × 129', 1000 * 129]] as const) {
  const x = uploadBuffer(gpu, randomArray(count, 1, -3, 3), 'x'), dy = uploadBuffer(gpu, randomArray(count, 2), 'dy');
  const y = storageBuffer(gpu, count * 4, 'y'), dx = storageBuffer(gpu, count * 4, 'dx');
  const tx = tf.tensor1d(randomArray(count, 1, -3, 3)), tdy = tf.tensor1d(randomArray(count, 2));
  const tfForward = (): Tensor => tf.tidy(() => tf.mul(tf.mul(tx, 0.5), tf.add(tfInnerTanh(tf, tx), 1)));
  const tfBackward = (): Tensor => tf.tidy(() => {
    const t = tfInnerTanh(tf, tx);
    const slope = tf.add(tf.mul(tf.add(t, 1), 0.5),
      tf.mul(tf.mul(tf.mul(tx, 0.5), tf.sub(1, tf.square(t))), tf.mul(tf.add(tf.mul(tf.square(tx), 3 * 0.044715), 1), SQRT_2_OVER_PI)));
    return tf.mul(tdy, slope);
  });
  rows.push({ case: `forward, ${name}`, webgradMs: await timeDispatches(gpu, geluForward(gpu, { x, y, count })), tfjsMs: await timeTfjs(tfForward, 10) });
  rows.push({ case: `backward, ${name}`, webgradMs: await timeDispatches(gpu, geluBackward(gpu, { x, dy, dx, count })), tfjsMs: await timeTfjs(tfBackward, 10) });
  for (const b of [x, dy, y, dx]) gpu.destroyBuffer(b);
  tf.dispose([tx, tdy]);
}
reportComparison('gelu', gpu, adapter, rows);
gpu.destroy();
