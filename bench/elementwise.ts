// Elementwise ops as a residual network uses them — a same-shape add, a per-channel broadcast, the
// broadcast gradient summed back to the channel, and a channel concatenation — against TensorFlow.js
// WebGPU on the same adapter. `npx tsx bench/elementwise.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, binaryOp, sumToShape, copyBlocks } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
const full = [64, 32, 26, 26], channel = [32, 1, 1];
const n = full.reduce((a, b) => a * b, 1);
const a = uploadBuffer(gpu, randomArray(n, 1), 'a'), b = uploadBuffer(gpu, randomArray(n, 2), 'b'), c = uploadBuffer(gpu, randomArray(32, 3), 'c');
const out = storageBuffer(gpu, n * 4, 'out'), reduced = storageBuffer(gpu, 32 * 4, 'reduced');
const ta = tf.tensor4d(randomArray(n, 1), full as [number, number, number, number]), tb = tf.tensor4d(randomArray(n, 2), full as [number, number, number, number]);
const tc = tf.tensor3d(randomArray(32, 3), channel as [number, number, number]);
rows.push({ case: 'add 64×32×26×26 + same', webgradMs: await timeDispatches(gpu, binaryOp(gpu, { op: 'add', a, b, out, aShape: full, bShape: full })), tfjsMs: await timeTfjs(() => tf.add(ta, tb), 10) });
rows.push({ case: 'mul 64×32×26×26 · [32, 1, 1]', webgradMs: await timeDispatches(gpu, binaryOp(gpu, { op: 'mul', a, b: c, out, aShape: full, bShape: channel })), tfjsMs: await timeTfjs(() => tf.mul(ta, tc), 10) });
rows.push({ case: 'sum 64×32×26×26 → [32, 1, 1]', webgradMs: await timeDispatches(gpu, sumToShape(gpu, { src: a, dst: reduced, srcShape: full, dstShape: [1, ...channel] })), tfjsMs: await timeTfjs(() => tf.sum(ta, [0, 2, 3], true), 10) });
// Channel concatenation of two 64×16×26×26 halves: each half moves as 64 rows of 16·26·26 words.
const half = n / 2, rowWords = 16 * 26 * 26;
const concatenate = [0, 1].flatMap((i) => copyBlocks(gpu, { src: i === 0 ? a : b, dst: out, outer: 64, width: rowWords, srcStride: rowWords, srcOffset: 0, dstStride: 2 * rowWords, dstOffset: i * rowWords }));
const th = [ta, tb].map((t) => tf.slice(t, [0, 0, 0, 0], [64, 16, 26, 26]));
rows.push({ case: `concat 2 × 64×16×26×26 on channels (${half} words each)`, webgradMs: await timeDispatches(gpu, concatenate), tfjsMs: await timeTfjs(() => tf.concat(th, 1), 10) });
reportComparison('elementwise', gpu, adapter, rows);
gpu.destroy();
