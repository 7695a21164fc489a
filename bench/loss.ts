// The fused softmax cross-entropy (loss, gradient and correctness in one dispatch) and the metric
// totals on a 128×10 batch of logits, against the same work as TensorFlow.js WebGPU ops on the same
// adapter; and the elementwise losses (L1, Huber, BCE with logits) on a 128×10 output. `npx tsx bench/loss.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, accumulateMetrics, softmaxCrossEntropy, l1Loss, huberLoss, binaryCrossEntropyWithLogits } from 'webgrad';

const [ROWS, CLASSES] = [128, 10];

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const labelValues = Uint32Array.from({ length: ROWS }, (_, r) => r % CLASSES);
const logits = uploadBuffer(gpu, randomArray(ROWS * CLASSES, 1, -5, 5), 'logits'), labels = uploadBuffer(gpu, labelValues, 'labels');
const dlogits = storageBuffer(gpu, ROWS * CLASSES * 4, 'dlogits'), rowLoss = storageBuffer(gpu, ROWS * 4, 'rowLoss');
const rowCorrect = storageBuffer(gpu, ROWS * 4, 'rowCorrect'), totals = storageBuffer(gpu, 16, 'totals');

const tlogits = tf.tensor2d(randomArray(ROWS * CLASSES, 1, -5, 5), [ROWS, CLASSES]);
const tlabels = tf.tensor1d(Int32Array.from(labelValues), 'int32');
const onehot = tf.oneHot(tlabels, CLASSES);
// TF.js: per-row loss, (softmax − onehot)/rows and argmax == label, as separate ops.
const tfCrossEntropy = () => tf.tidy(() => {
  const logP = tf.logSoftmax(tlogits);
  const loss = tf.neg(tf.sum(tf.mul(onehot, logP), 1));
  const gradient = tf.div(tf.sub(tf.exp(logP), onehot), ROWS);
  const correct = tf.cast(tf.equal(tf.argMax(tlogits, 1), tlabels), 'float32');
  return tf.concat([loss, correct, tf.reshape(gradient, [-1])]);
});
const tloss = tf.tensor1d(randomArray(ROWS, 2, 0, 3)), tcorrect = tf.tensor1d(randomArray(ROWS, 3, 0, 1));
const tfMetrics = () => tf.tidy(() => tf.stack([tf.sum(tloss), tf.sum(tcorrect), tf.sum(tf.cast(tf.logicalNot(tf.isFinite(tloss)), 'float32'))]));

// The elementwise losses: loss rows and the gradient of the mean, as TF.js ops.
const targetValues = randomArray(ROWS * CLASSES, 4, 0, 1);
const targets = uploadBuffer(gpu, targetValues, 'targets'), rowCorrectLabels = storageBuffer(gpu, ROWS * CLASSES * 4, 'rowMetrics');
const ttargets = tf.tensor2d(targetValues, [ROWS, CLASSES]);
const scale = 1 / (ROWS * CLASSES);
const tfL1 = () => tf.tidy(() => { const d = tf.sub(tlogits, ttargets); return tf.concat([tf.mean(tf.abs(d), 1), tf.reshape(tf.mul(tf.sign(d), scale), [-1])]); });
const tfHuber = () => tf.tidy(() => {
  const d = tf.sub(tlogits, ttargets), size = tf.abs(d);
  const loss = tf.where(tf.lessEqual(size, 1), tf.mul(tf.square(d), 0.5), tf.sub(size, 0.5));
  return tf.concat([tf.mean(loss, 1), tf.reshape(tf.mul(tf.clipByValue(d, -1, 1), scale), [-1])]);
});
const tfBce = () => tf.tidy(() => {
  const loss = tf.add(tf.sub(tf.relu(tlogits), tf.mul(tlogits, ttargets)), tf.log1p(tf.exp(tf.neg(tf.abs(tlogits)))));
  return tf.concat([tf.mean(loss, 1), tf.reshape(tf.mul(tf.sub(tf.sigmoid(tlogits), ttargets), scale), [-1])]);
});
const elementIo = { predictions: logits, targets, dpredictions: dlogits, rowLoss, rows: ROWS, cols: CLASSES };

const rows: Comparison[] = [
  { case: `softmax cross-entropy ${ROWS}×${CLASSES}`, webgradMs: await timeDispatches(gpu, softmaxCrossEntropy(gpu, { logits, labels, dlogits, rowLoss, rowCorrect, rows: ROWS, classes: CLASSES }), 50), tfjsMs: await timeTfjs(tfCrossEntropy, 10) },
  { case: `l1 loss ${ROWS}×${CLASSES}`, webgradMs: await timeDispatches(gpu, l1Loss(gpu, elementIo), 50), tfjsMs: await timeTfjs(tfL1, 10) },
  { case: `huber loss ${ROWS}×${CLASSES}`, webgradMs: await timeDispatches(gpu, huberLoss(gpu, { ...elementIo, delta: 1 }), 50), tfjsMs: await timeTfjs(tfHuber, 10) },
  { case: `bce with logits ${ROWS}×${CLASSES}`, webgradMs: await timeDispatches(gpu, binaryCrossEntropyWithLogits(gpu, { ...elementIo, rowCorrect, rowMetrics: rowCorrectLabels }), 50), tfjsMs: await timeTfjs(tfBce, 10) },
  { case: `accumulateMetrics ${ROWS} rows`, webgradMs: await timeDispatches(gpu, accumulateMetrics(gpu, { rowLoss, rowCorrect, rows: ROWS, totals }), 50), tfjsMs: await timeTfjs(tfMetrics, 10) },
];
reportComparison('loss', gpu, adapter, rows);
gpu.destroy();
