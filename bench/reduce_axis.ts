// Reductions and softmax along an axis as a transformer's pooling and attention use them — the mean
// over tokens of [64, 64, 128], the max over the same axis, softmax over the last axis of 4·4·64 × 64
// scores and over a middle axis — against TensorFlow.js WebGPU on the same adapter.
// `npx tsx bench/reduce_axis.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, maxAxis, softmaxAxis, sumAxis } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
const tokens = [64, 64, 128] as [number, number, number], scores = [1024, 64] as [number, number];
const n = 64 * 64 * 128;
const x = uploadBuffer(gpu, randomArray(n, 1), 'x');
const y = storageBuffer(gpu, n * 4, 'y'), argmax = storageBuffer(gpu, n * 4, 'argmax');
const tx = tf.tensor3d(randomArray(n, 1), tokens), ts = tf.tensor2d(randomArray(scores[0] * scores[1], 1), scores);
const overTokens = { outer: 64, n: 64, inner: 128 };
rows.push({ case: 'mean over tokens of [64, 64, 128]', webgradMs: await timeDispatches(gpu, sumAxis(gpu, overTokens, { x, y, alpha: 1 / 64 })), tfjsMs: await timeTfjs(() => tf.mean(tx, 1), 10) });
rows.push({ case: 'max over tokens of [64, 64, 128]', webgradMs: await timeDispatches(gpu, maxAxis(gpu, overTokens, { x, y, argmax })), tfjsMs: await timeTfjs(() => tf.max(tx, 1), 10) });
rows.push({ case: 'softmax over the last axis of [1024, 64]', webgradMs: await timeDispatches(gpu, softmaxAxis(gpu, { outer: 1024, n: 64, inner: 1 }, { x, y })), tfjsMs: await timeTfjs(() => tf.softmax(ts), 10) });
// TF.js's softmax takes the last axis only, so its middle-axis case is a transpose around it.
rows.push({ case: 'softmax over the middle axis of [64, 64, 128]', webgradMs: await timeDispatches(gpu, softmaxAxis(gpu, overTokens, { x, y })), tfjsMs: await timeTfjs(() => tf.transpose(tf.softmax(tf.transpose(tx, [0, 2, 1])), [0, 2, 1]), 10) });
reportComparison('reduce_axis', gpu, adapter, rows);
gpu.destroy();
