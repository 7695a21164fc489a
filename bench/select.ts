// where with a broadcast causal mask over 4·4 heads of 64 × 64 attention scores, and maskedFill of
// the same, against TensorFlow.js WebGPU's where on the same adapter. `npx tsx bench/select.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { createGpu, storageBuffer, uploadBuffer, selectMaskedFill, selectWhere } from 'webgrad';

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
const T = 64, shape = [16, T, T], n = 16 * T * T;
const causal = Uint32Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 1 : 0));
const scores = randomArray(n, 1), other = randomArray(n, 2);
const cond = uploadBuffer(gpu, causal, 'cond'), a = uploadBuffer(gpu, scores, 'a'), b = uploadBuffer(gpu, other, 'b'), out = storageBuffer(gpu, n * 4, 'out');
const tcond = tf.tensor3d(Uint8Array.from(causal), [1, T, T], 'bool'), ta = tf.tensor3d(scores, [16, T, T]), tb = tf.tensor3d(other, [16, T, T]);
const filled = tf.fill([16, T, T], -1e9);
rows.push({ case: 'where, [1, 64, 64] mask over [16, 64, 64]', webgradMs: await timeDispatches(gpu, selectWhere(gpu, { cond, a, b, out, condShape: [1, T, T], aShape: shape, bShape: shape, condDType: 'u32' })), tfjsMs: await timeTfjs(() => tf.where(tcond, ta, tb), 10) });
rows.push({ case: 'maskedFill −1e9, same mask and scores', webgradMs: await timeDispatches(gpu, selectMaskedFill(gpu, { x: a, mask: cond, out, shape, maskShape: [1, T, T], maskDType: 'u32', value: -1e9 })), tfjsMs: await timeTfjs(() => tf.where(tcond, filled, ta), 10) });
reportComparison('select', gpu, adapter, rows);
gpu.destroy();
