// Batched matmul as attention uses it: 4·4 heads of [64, 32] × [32, 64] scores and [64, 64] × [64, 32]
// outputs in one batched GEMM, and a batch-broadcast product that copies its shared operand out
// first, against TensorFlow.js WebGPU's matMul on the same adapter. `npx tsx bench/matmul.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, broadcastTo, gemm } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
const heads = 16, T = 64, D = 32;
const q = uploadBuffer(gpu, randomArray(heads * T * D, 1), 'q'), k = uploadBuffer(gpu, randomArray(heads * T * D, 2), 'k');
const p = uploadBuffer(gpu, randomArray(heads * T * T, 3), 'p'), scores = storageBuffer(gpu, heads * T * T * 4, 'scores'), o = storageBuffer(gpu, heads * T * D * 4, 'o');
const tq = tf.tensor3d(randomArray(heads * T * D, 1), [heads, T, D]), tk = tf.tensor3d(randomArray(heads * T * D, 2), [heads, T, D]), tp = tf.tensor3d(randomArray(heads * T * T, 3), [heads, T, T]);
rows.push({ case: 'q·kᵀ, 16 × [64, 32]·[32, 64]', webgradMs: await timeDispatches(gpu, gemm(gpu, { a: q, b: k, c: scores, m: T, n: T, k: D, transB: true, batch: heads })), tfjsMs: await timeTfjs(() => tf.matMul(tq, tk, false, true), 10) });
rows.push({ case: 'p·v, 16 × [64, 64]·[64, 32]', webgradMs: await timeDispatches(gpu, gemm(gpu, { a: p, b: k, c: o, m: T, n: D, k: T, batch: heads })), tfjsMs: await timeTfjs(() => tf.matMul(tp, tk), 10) });
// [4, 4, 64, 32] × [4, 1, 32, 64]: the second operand is shared across heads and copied out first.
const shared = uploadBuffer(gpu, randomArray(4 * D * T, 4), 'shared'), expanded = storageBuffer(gpu, heads * D * T * 4, 'expanded');
const tshared = tf.tensor4d(randomArray(4 * D * T, 4), [4, 1, D, T]), tq4 = tf.reshape(tq, [4, 4, T, D]);
const broadcastProduct = [...broadcastTo(gpu, { x: shared, y: expanded, shape: [4, 1, D, T], outShape: [4, 4, D, T] }), ...gemm(gpu, { a: q, b: expanded, c: scores, m: T, n: T, k: D, batch: heads })];
rows.push({ case: '[4, 4, 64, 32]·[4, 1, 32, 64] (copied out)', webgradMs: await timeDispatches(gpu, broadcastProduct), tfjsMs: await timeTfjs(() => tf.matMul(tq4, tshared), 10) });
reportComparison('matmul', gpu, adapter, rows);
gpu.destroy();
