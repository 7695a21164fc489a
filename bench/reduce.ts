// Bias gradients of the MNIST CNN's conv1 (64×32×26×26) and of Dense layers: webgrad's
// deterministic per-channel reduction against TensorFlow.js WebGPU's sum on the same adapter.
// `npx tsx bench/reduce.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, biasGradient } from 'webgrad';

const SHAPES = [
  { name: 'conv1 dy 64×32×26×26', batch: 64, channels: 32, spatial: 26 * 26 },
  { name: 'Dense dy 64×128', batch: 64, channels: 128, spatial: 1 },
  { name: 'Dense dy 64×10', batch: 64, channels: 10, spatial: 1 },
  { name: 'ViT MLP dy 1088×256 (64 samples of 17 tokens)', batch: 1088, channels: 256, spatial: 1 },
];

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const { name, batch, channels, spatial } of SHAPES) {
  const count = batch * channels * spatial;
  const dy = uploadBuffer(gpu, randomArray(count, 1), 'dy'), dbias = storageBuffer(gpu, channels * 4, 'dbias');
  const tdy = tf.tensor(randomArray(count, 1), [batch, channels, spatial]);
  rows.push({
    case: `biasGradient, ${name}`,
    webgradMs: await timeDispatches(gpu, biasGradient(gpu, { dy, dbias, batch, channels, spatial })),
    tfjsMs: await timeTfjs(() => tf.sum(tdy, [0, 2]), 10),
  });
  for (const b of [dy, dbias]) gpu.destroyBuffer(b);
  tdy.dispose();
}
reportComparison('reduce', gpu, adapter, rows);
gpu.destroy();
