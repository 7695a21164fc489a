// Activations on the MNIST CNN's conv1 output (64×32×26×26) and a Dense layer (64×128), and row
// softmax on logits: webgrad against TensorFlow.js WebGPU on the same adapter.
// `npx tsx bench/activation.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, activationBackward, activationForward, softmaxRows, type ActivationKind } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const [name, count] of [['conv1 output 64×32×26×26', 64 * 32 * 26 * 26], ['Dense 64×128', 64 * 128]] as const) {
  const x = uploadBuffer(gpu, randomArray(count, 1, -3, 3), 'x'), dy = uploadBuffer(gpu, randomArray(count, 2), 'dy');
  const y = storageBuffer(gpu, count * 4, 'y'), dx = storageBuffer(gpu, count * 4, 'dx');
  const tx = tf.tensor1d(randomArray(count, 1, -3, 3)), tdy = tf.tensor1d(randomArray(count, 2));
  for (const kind of ['relu', 'sigmoid', 'tanh'] as ActivationKind[]) {
    const tfForward = { relu: tf.relu, sigmoid: tf.sigmoid, tanh: tf.tanh }[kind];
    rows.push({ case: `${kind} forward, ${name}`, webgradMs: await timeDispatches(gpu, activationForward(gpu, kind, { x, y, count })), tfjsMs: await timeTfjs(() => tfForward(tx), 10) });
    // TF.js has no output-based backward op; its relu gradient is dy·step(x), one fused kernel too.
    if (kind === 'relu') {
      rows.push({ case: `relu backward, ${name}`, webgradMs: await timeDispatches(gpu, activationBackward(gpu, kind, { y: x, dy, dx, count })), tfjsMs: await timeTfjs(() => tf.mul(tdy, tf.step(tx)), 10) });
    }
  }
  for (const b of [x, dy, y, dx]) gpu.destroyBuffer(b);
  tf.dispose([tx, tdy]);
}
const [logitRows, classes] = [128, 10];
const logits = uploadBuffer(gpu, randomArray(logitRows * classes, 3, -5, 5), 'logits'), probabilities = storageBuffer(gpu, logitRows * classes * 4, 'probabilities');
const tlogits = tf.tensor2d(randomArray(logitRows * classes, 3, -5, 5), [logitRows, classes]);
rows.push({ case: `softmax ${logitRows}×${classes}`, webgradMs: await timeDispatches(gpu, softmaxRows(gpu, { x: logits, y: probabilities, rows: logitRows, cols: classes })), tfjsMs: await timeTfjs(() => tf.softmax(tlogits), 10) });
reportComparison('activation', gpu, adapter, rows);
gpu.destroy();
