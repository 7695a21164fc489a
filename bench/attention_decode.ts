// Decoding attention against a key/value cache (one new query row per head over every cached key,
// as each generated token needs) and a prompt's rows at once (T query rows, causal), against the
// same products in TensorFlow.js WebGPU ops on the same adapter: q·Kᵀ, a softmax, ·V. A third row per
// shape times webgrad's fused causal forward (attentionForward) over the same T rows, the kernel the
// full forward program uses to recompute a window.
// `npx tsx bench/attention_decode.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import { appendKeyValue, attentionDecode, attentionForward, createGpu, storageBuffer, uploadBuffer, type DecodeShape } from 'webgrad';

const SHAPES: { heads: number; headDim: number; context: number }[] = [
  { heads: 4, headDim: 32, context: 128 },
  { heads: 4, headDim: 32, context: 512 },
  { heads: 12, headDim: 64, context: 256 },   // GPT-2 small's heads
];

const ROUNDS = 3;

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const shape of SHAPES) {
  const { heads, headDim: D, context: T } = shape;
  const width = heads * D, cache = heads * T * D;
  const kCache = uploadBuffer(gpu, randomArray(cache, 1, -2, 2), 'kCache'), vCache = uploadBuffer(gpu, randomArray(cache, 2), 'vCache');
  const qkv = uploadBuffer(gpu, randomArray(T * 3 * width, 3, -2, 2), 'qkv');
  const out = storageBuffer(gpu, T * width * 4, 'out');
  // The fused forward's inputs: q, k, v [heads, T, D] and its outputs.
  const [q, k, v] = [4, 5, 6].map((seed) => uploadBuffer(gpu, randomArray(cache, seed, -2, 2), 'qkvForward'));
  const o = storageBuffer(gpu, cache * 4, 'o'), lse = storageBuffer(gpu, heads * T * 4, 'lse');
  const full = attentionForward(gpu, { batch: 1, heads, seq: T, headDim: D }, { q: q!, k: k!, v: v!, o, lse, causal: true });

  const tq1 = tf.tensor3d(randomArray(heads * D, 7, -2, 2), [heads, 1, D]);
  const tqT = tf.tensor3d(randomArray(cache, 8, -2, 2), [heads, T, D]);
  const [tk, tv] = [9, 10].map((seed) => tf.tensor3d(randomArray(cache, seed, -2, 2), [heads, T, D]));
  const causalBias = tf.tensor2d(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [T, T]);
  const tfAttention = (query: typeof tq1, causal: boolean) => tf.tidy(() => {
    const scores = tf.mul(tf.matMul(query, tk!, false, true), 1 / Math.sqrt(D));
    return tf.matMul(tf.softmax(causal ? tf.add(scores, causalBias) : scores), tv!);
  });

  for (const queryRows of [1, T]) {
    const s: DecodeShape = { heads, headDim: D, context: T, rows: queryRows };
    // One row decodes the cache's last position; T rows are a whole prompt at positions 0..T-1.
    const positions = uploadBuffer(gpu, queryRows === 1 ? Uint32Array.of(T - 1) : Uint32Array.from({ length: T }, (_, t) => t), 'positions');
    const io = { positions, qkv, kCache, vCache };
    const decode = [...appendKeyValue(gpu, s, io), ...attentionDecode(gpu, s, { ...io, out })];
    const best = { webgrad: Infinity, tfjs: Infinity, full: Infinity };
    const prompt = queryRows > 1;
    // Rounds alternate between the contenders, so load that comes and goes reaches all of them.
    for (let round = 0; round < ROUNDS; round++) {
      best.webgrad = Math.min(best.webgrad, await timeDispatches(gpu, decode, 5, 3));
      best.tfjs = Math.min(best.tfjs, await timeTfjs(() => tfAttention(prompt ? tqT : tq1, prompt), 3, 2));
      if (prompt) best.full = Math.min(best.full, await timeDispatches(gpu, full, 3, 3));
    }
    const name = `H ${heads} T ${T} D ${D}`;
    rows.push({ case: `decode, ${prompt ? `${T} queries (causal)` : '1 query'}, ${name}`, webgradMs: best.webgrad, tfjsMs: best.tfjs });
    if (prompt) rows.push({ case: `fused forward, ${T} queries (causal), ${name}`, webgradMs: best.full, tfjsMs: best.tfjs });
    gpu.destroyBuffer(positions);
  }
  for (const b of [kCache, vCache, qkv, out, q!, k!, v!, o, lse]) gpu.destroyBuffer(b);
  tf.dispose([tq1, tqT, tk!, tv!, causalBias]);
}
reportComparison('attention_decode', gpu, adapter, rows);
gpu.destroy();
