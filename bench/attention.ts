// Multi-head self-attention as in a small GPT (head width 32): webgrad's fused flash-style kernels
// against attention composed from webgrad's own GEMM + row softmax + GEMM (the T×T scores written
// out), and against the same composition in TensorFlow.js WebGPU ops on the same adapter. The
// composed webgrad rows are unmasked only: softmaxRows takes no mask, and webgrad has no row-softmax
// backward kernel to compose a backward from. `npx tsx bench/attention.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import type { Tensor } from '@tensorflow/tfjs-core';
import { createGpu, storageBuffer, uploadBuffer, softmaxRows, attentionBackward, attentionForward, gemm, type AttentionShape } from 'webgrad';

const SHAPES: AttentionShape[] = [
  { batch: 4, heads: 4, seq: 64, headDim: 32 },
  { batch: 1, heads: 4, seq: 256, headDim: 32 },
  { batch: 1, heads: 2, seq: 1024, headDim: 32 },
];

const ROUNDS = 3;

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const s of SHAPES) {
  const heads = s.batch * s.heads, T = s.seq, D = s.headDim;
  const n = heads * T * D;
  const values = ['q', 'k', 'v', 'dO'].map((_, i) => randomArray(n, i + 1, -2, 2));
  const [q, k, v, dO] = values.map((data, i) => uploadBuffer(gpu, data, `input${i}`)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const [o, dq, dk, dv] = ['o', 'dq', 'dk', 'dv'].map((label) => storageBuffer(gpu, n * 4, label)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const [lse, delta] = ['lse', 'delta'].map((label) => storageBuffer(gpu, heads * T * 4, label)) as [GPUBuffer, GPUBuffer];
  const scores = storageBuffer(gpu, heads * T * T * 4, 'scores'), probabilities = storageBuffer(gpu, heads * T * T * 4, 'probabilities');
  const composed = [
    ...gemm(gpu, { a: q, b: k, c: scores, m: T, n: T, k: D, transB: true, batch: heads, alpha: 1 / Math.sqrt(D) }),
    ...softmaxRows(gpu, { x: scores, y: probabilities, rows: heads * T, cols: T }),
    ...gemm(gpu, { a: probabilities, b: v, c: o, m: T, n: D, k: T, batch: heads }),
  ];

  const [tq, tk, tv, tdO] = values.map((data) => tf.tensor3d(data, [heads, T, D]));
  const causalBias = tf.tensor2d(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [T, T]);
  const tfProbabilities = (causal: boolean): Tensor => {
    const logits = tf.mul(tf.matMul(tq!, tk!, false, true), 1 / Math.sqrt(D));
    return tf.softmax(causal ? tf.add(logits, causalBias) : logits);
  };
  // The same backward through the materialised softmax in TF.js ops (tfjs-core has no gradients
  // registered); it returns dK, after dQ and dV have been queued.
  const tfBackward = (causal: boolean): Tensor => tf.tidy(() => {
    const p = tfProbabilities(causal);
    tf.matMul(p, tdO!, true, false);                                   // dV
    const dp = tf.matMul(tdO!, tv!, false, true);
    const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(p, dp), -1, true))), 1 / Math.sqrt(D));
    tf.matMul(ds, tk!);                                                // dQ
    return tf.matMul(ds, tq!, true, false);                            // dK
  });
  const name = `B ${s.batch} H ${s.heads} T ${T} D ${D}`;
  for (const causal of [false, true]) {
    const io = { q, k, v, o, lse, dO, dq, dk, dv, delta, causal };
    const mask = causal ? 'causal' : 'unmasked';
    const forward = attentionForward(gpu, s, io), backward = attentionBackward(gpu, s, io);
    const best = { forward: Infinity, backward: Infinity, composed: Infinity, tfForward: Infinity, tfBackward: Infinity };
    // Rounds alternate between the contenders, so load that comes and goes on the shared machine
    // reaches all of them; each keeps its best round.
    for (let round = 0; round < ROUNDS; round++) {
      best.forward = Math.min(best.forward, await timeDispatches(gpu, forward, 3, 3));
      if (!causal) best.composed = Math.min(best.composed, await timeDispatches(gpu, composed, 3, 3));
      best.tfForward = Math.min(best.tfForward, await timeTfjs(() => tf.tidy(() => tf.matMul(tfProbabilities(causal), tv!)), 3, 2));
      best.backward = Math.min(best.backward, await timeDispatches(gpu, backward, 2, 3));
      best.tfBackward = Math.min(best.tfBackward, await timeTfjs(() => tfBackward(causal), 3, 2));
    }
    rows.push({ case: `forward ${mask}, ${name}`, webgradMs: best.forward, tfjsMs: best.tfForward, ...(causal ? {} : { composedMs: best.composed }) });
    rows.push({ case: `backward ${mask}, ${name}`, webgradMs: best.backward, tfjsMs: best.tfBackward });
  }
  for (const b of [q, k, v, dO, o, dq, dk, dv, lse, delta, scores, probabilities]) gpu.destroyBuffer(b);
  tf.dispose([tq!, tk!, tv!, tdO!, causalBias]);
}
reportComparison('attention', gpu, adapter, rows);
gpu.destroy();
