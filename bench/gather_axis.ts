// gather along an axis (torch.gather): picking 32 of 128 positions per row of [64, 128, 64], and its
// gradient, against TensorFlow.js WebGPU's gather with batch dims (its forward only: TF.js has no
// torch.gather gradient kernel of its own). `npx tsx bench/gather_axis.ts`.
import { randomArray, rng } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, gatherAxis, gatherAxisBackward, gatherAxisScratchWords } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
// Whole rows picked: the same index for every inner element, as index_select-like use does.
const s = { outer: 64, n: 128, k: 32, inner: 64 };
const next = rng(3);
const picks = Array.from({ length: s.outer * s.k }, () => Math.floor(next() * s.n));
const ids = Uint32Array.from({ length: s.outer * s.k * s.inner }, (_, e) => picks[Math.floor(e / s.inner)]!);
const x = uploadBuffer(gpu, randomArray(s.outer * s.n * s.inner, 1), 'x'), indices = uploadBuffer(gpu, ids, 'indices');
const out = storageBuffer(gpu, ids.length * 4, 'out'), dy = uploadBuffer(gpu, randomArray(ids.length, 2), 'dy'), dx = storageBuffer(gpu, s.outer * s.n * s.inner * 4, 'dx');
const scratch = storageBuffer(gpu, gatherAxisScratchWords(s) * 4, 'scratch');
const tx = tf.tensor3d(randomArray(s.outer * s.n * s.inner, 1), [s.outer, s.n, s.inner]), tids = tf.tensor2d(Int32Array.from(picks), [s.outer, s.k], 'int32');
rows.push({ case: 'gather 32 of 128 rows, [64, 128, 64]', webgradMs: await timeDispatches(gpu, gatherAxis(gpu, s, { x, indices, out })), tfjsMs: await timeTfjs(() => tf.gather(tx, tids, 1, 1), 10) });
const tdy = tf.tensor3d(randomArray(ids.length, 2), [s.outer, s.k, s.inner]);
// TF.js's gradient of gather is unsortedSegmentSum over flattened rows.
const segments = tf.tensor1d(Int32Array.from(picks.map((p, r) => Math.floor(r / s.k) * s.n + p)), 'int32');
rows.push({ case: 'its gradient (TF.js: unsortedSegmentSum)', webgradMs: await timeDispatches(gpu, gatherAxisBackward(gpu, s, { indices, dy, dx, scratch })), tfjsMs: await timeTfjs(() => tf.unsortedSegmentSum(tf.reshape(tdy, [s.outer * s.k, s.inner]), segments, s.outer * s.n), 10) });
reportComparison('gather_axis', gpu, adapter, rows);
gpu.destroy();
