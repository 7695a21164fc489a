// Cost of dynamic loss scaling per training step: unscaling and checking every gradient of a model
// (one dispatch per tensor) plus the one-invocation update, against the same work composed from
// TF.js ops (mul by 1/scale, then all(isFinite)). `npx tsx bench/loss_scale.ts`; writes
// bench/results/loss_scale.json.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, createLossScaleState, unscaleGradients, updateLossScale, uploadBuffer } from 'webgrad';

/** Gradient tensor sizes of the default cnn (conv1, conv2, fc weights and biases) and of a 1M-parameter model in 8 tensors. */
const MODELS = [
  { name: 'cnn: 6 tensors, 222k values', sizes: [288, 32, 18_432, 64, 204_800, 10] },
  { name: '8 tensors of 128k values', sizes: Array.from({ length: 8 }, () => 131_072) },
];

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows = [];
for (const model of MODELS) {
  const state = createLossScaleState(gpu, { initScale: 1 });
  const grads = model.sizes.map((count, i) => ({ buffer: uploadBuffer(gpu, randomArray(count, i + 1), `grad${i}`), count }));
  // Scale 1 keeps the gradients unchanged across the repeated timing runs.
  const webgradMs = await timeDispatches(gpu, [...unscaleGradients(gpu, state, grads), ...updateLossScale(gpu, state)]);
  const tensors = model.sizes.map((count, i) => tf.tensor1d(randomArray(count, i + 1)));
  const tfjsMs = await timeTfjs(() => tf.tidy(() => tf.stack(tensors.map((t) => tf.all(tf.isFinite(tf.mul(t, 1))))).all()), 10, 5);
  rows.push({ case: model.name, webgradMs, tfjsMs });
  for (const t of tensors) t.dispose();
  for (const g of grads) gpu.destroyBuffer(g.buffer);
  gpu.destroyBuffer(state);
}
reportComparison('loss_scale', gpu, adapter, rows);
gpu.destroy();
process.exit(0);
