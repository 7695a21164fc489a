// Inverted dropout (rate 0.5) on a Dense activation and on the MNIST CNN's conv1 output: webgrad's
// recompute-the-mask kernels against TensorFlow.js WebGPU's dropout on the same adapter.
// `npx tsx bench/dropout.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, dropoutBackward, dropoutForward } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const seed = uploadBuffer(gpu, Uint32Array.from([1, 2]), 'seed');
const rows: Comparison[] = [];
for (const [name, count] of [['Dense 64×128', 64 * 128], ['conv1 output 64×32×26×26', 64 * 32 * 26 * 26]] as const) {
  const x = uploadBuffer(gpu, randomArray(count, 1), 'x'), y = storageBuffer(gpu, count * 4, 'y');
  const tx = tf.tensor1d(randomArray(count, 1));
  const io = { count, rate: 0.5, seed, stream: 1 };
  rows.push({ case: `forward, ${name}`, webgradMs: await timeDispatches(gpu, dropoutForward(gpu, { ...io, x, y })), tfjsMs: await timeTfjs(() => tf.dropout(tx, 0.5), 10) });
  // TF.js keeps no mask either way: its backward would multiply by a stored mask, one elementwise op.
  rows.push({ case: `backward, ${name}`, webgradMs: await timeDispatches(gpu, dropoutBackward(gpu, { ...io, dy: x, dx: y })), tfjsMs: await timeTfjs(() => tf.mul(tx, tx), 10) });
  for (const b of [x, y]) gpu.destroyBuffer(b);
  tx.dispose();
}
reportComparison('dropout', gpu, adapter, rows);
gpu.destroy();
