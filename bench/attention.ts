// Causal and unmasked multi-head self-attention as in a small GPT (head width 32): webgrad's fused
// flash-style kernels against the same attention composed from webgrad's own op kernels — the ones
// the tensor ops matmul, maskedFill and softmax(x, -1) emit (batched GEMM q·kᵀ with the 1/√D scale,
// maskedFill of the future positions, softmax along the last axis, GEMM with v; the backward is the
// same chain's gradients: GEMMs, softmax backward, the mask's where-backward) — and against the same
// composition in TensorFlow.js WebGPU ops on the same adapter. Timed: forward, and forward+backward.
// Memory: the bytes each path needs beyond q, k, v, o and their gradients (the composition keeps
// T×T scores per head; the fused kernels keep two numbers per query row). Each shape's composed
// O and dQ are checked against the fused ones before timing. `npx tsx bench/attention.ts`.
import { randomArray } from '../test/helpers/random.ts';
import { reportComparison, timeDispatches, type Comparison } from './helpers/time.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import type { Tensor } from '@tensorflow/tfjs-core';
import {
  createGpu, storageBuffer, uploadBuffer, readFloat32, runDispatches, attentionBackward, attentionForward, gemm, selectMaskedFill, softmaxAxis, softmaxAxisBackward, whereBackward,
  type AttentionShape, type Dispatch,
} from 'webgrad';

const SHAPES: AttentionShape[] = [
  { batch: 4, heads: 4, seq: 64, headDim: 32 },
  { batch: 2, heads: 4, seq: 128, headDim: 32 },
  { batch: 1, heads: 4, seq: 256, headDim: 32 },
];

const ROUNDS = 3;
/** The composition's fill for future positions: exp of it underflows to 0, as −∞ would. */
const MASKED = -1e9;

const gpu = await createGpu();
const { tf, adapter } = await tfjsWebgpu();
const rows: Comparison[] = [];
for (const s of SHAPES) {
  const heads = s.batch * s.heads, T = s.seq, D = s.headDim, scale = 1 / Math.sqrt(D);
  const n = heads * T * D;
  const values = ['q', 'k', 'v', 'dO'].map((_, i) => randomArray(n, i + 1, -2, 2));
  const [q, k, v, dO] = values.map((data, i) => uploadBuffer(gpu, data, `input${i}`)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const [o, dq, dk, dv, composedO] = ['o', 'dq', 'dk', 'dv', 'composedO'].map((label) => storageBuffer(gpu, n * 4, label)) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const [lse, delta] = ['lse', 'delta'].map((label) => storageBuffer(gpu, heads * T * 4, label)) as [GPUBuffer, GPUBuffer];
  const squares = ['scores', 'masked', 'probabilities', 'dProbabilities', 'dMasked', 'dScores'].map((label) => storageBuffer(gpu, heads * T * T * 4, label));
  const [scores, masked, probabilities, dProbabilities, dMasked, dScores] = squares as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const future = uploadBuffer(gpu, Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? 1 : 0)), 'future');
  const scoreShape = [heads, T, T], rowsAxis = { outer: heads * T, n: T, inner: 1 };
  const composed = (causal: boolean): { forward: Dispatch[]; backward: Dispatch[]; bytes: number } => {
    const mask = { mask: future, maskShape: [T, T], maskDType: 'f32' as const };
    const logits = causal ? masked : scores;
    const forward = [
      ...gemm(gpu, { a: q, b: k, c: scores, m: T, n: T, k: D, transB: true, batch: heads, alpha: scale }),
      ...(causal ? selectMaskedFill(gpu, { x: scores, out: masked, shape: scoreShape, value: MASKED, ...mask }) : []),
      ...softmaxAxis(gpu, rowsAxis, { x: logits, y: probabilities }),
      ...gemm(gpu, { a: probabilities, b: v, c: composedO, m: T, n: D, k: T, batch: heads }),
    ];
    const backward = [
      ...gemm(gpu, { a: probabilities, b: dO, c: dv, m: T, n: D, k: T, transA: true, batch: heads }),
      ...gemm(gpu, { a: dO, b: v, c: dProbabilities, m: T, n: T, k: D, transB: true, batch: heads }),
      ...softmaxAxisBackward(gpu, rowsAxis, { y: probabilities, dy: dProbabilities, dx: causal ? dMasked : dScores }),
      ...(causal ? whereBackward(gpu, { cond: future, dy: dMasked, out: dScores, condShape: [T, T], outShape: scoreShape, condDType: 'f32', takeTrue: false }) : []),
      ...gemm(gpu, { a: dScores, b: k, c: dq, m: T, n: D, k: T, batch: heads, alpha: scale }),
      ...gemm(gpu, { a: dScores, b: q, c: dk, m: T, n: D, k: T, transA: true, batch: heads, alpha: scale }),
    ];
    // Forward: scores (and their masked copy), probabilities; backward: their gradients.
    const squaresUsed = causal ? 6 : 4;
    return { forward, backward, bytes: squaresUsed * heads * T * T * 4 };
  };

  const [tq, tk, tv, tdO] = values.map((data) => tf.tensor3d(data, [heads, T, D]));
  const causalBias = tf.tensor2d(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? MASKED : 0)), [T, T]);
  const tfProbabilities = (causal: boolean): Tensor => {
    const logits = tf.mul(tf.matMul(tq!, tk!, false, true), scale);
    return tf.softmax(causal ? tf.add(logits, causalBias) : logits);
  };
  // Forward and backward through the materialised softmax in TF.js ops (tfjs-core has no gradients
  // registered); it returns dK, after O, dQ and dV have been queued.
  const tfForwardBackward = (causal: boolean): Tensor => tf.tidy(() => {
    const p = tfProbabilities(causal);
    tf.matMul(p, tv!);                                                 // O
    tf.matMul(p, tdO!, true, false);                                   // dV
    const dp = tf.matMul(tdO!, tv!, false, true);
    const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(p, dp), -1, true))), scale);
    tf.matMul(ds, tk!);                                                // dQ
    return tf.matMul(ds, tq!, true, false);                            // dK
  });
  const name = `B ${s.batch} H ${s.heads} T ${T} D ${D}`;
  for (const causal of [false, true]) {
    const io = { q, k, v, o, lse, dO, dq, dk, dv, delta, causal };
    const mask = causal ? 'causal' : 'unmasked';
    const fused = { forward: attentionForward(gpu, s, io), backward: attentionBackward(gpu, s, io) };
    const unfused = composed(causal);
    // The two paths must agree on O and dQ before their times mean anything.
    const results = async (dispatches: Dispatch[], out: GPUBuffer) => { await runDispatches(gpu, dispatches); return [await readFloat32(gpu, out, n), await readFloat32(gpu, dq, n)]; };
    const [fusedO, fusedDq] = await results([...fused.forward, ...fused.backward], o);
    const [composedOut, composedDq] = await results([...unfused.forward, ...unfused.backward], composedO);
    const differ = (a: Float32Array, b: Float32Array) => a.reduce((worst, value, i) => Math.max(worst, Math.abs(value - b[i]!)), 0);
    const difference = Math.max(differ(fusedO!, composedOut!), differ(fusedDq!, composedDq!));
    if (!(difference < 1e-3)) throw new Error(`bench/attention.ts: ${mask} ${name}: the composed O or dQ differs from the fused one by ${difference}`);
    const best = { forward: Infinity, both: Infinity, composedForward: Infinity, composedBoth: Infinity, tfForward: Infinity, tfBoth: Infinity };
    // Rounds alternate between the contenders, so load that comes and goes on the shared machine
    // reaches all of them; each keeps its best round.
    for (let round = 0; round < ROUNDS; round++) {
      best.forward = Math.min(best.forward, await timeDispatches(gpu, fused.forward, 3, 3));
      best.composedForward = Math.min(best.composedForward, await timeDispatches(gpu, unfused.forward, 3, 3));
      best.tfForward = Math.min(best.tfForward, await timeTfjs(() => tf.tidy(() => tf.matMul(tfProbabilities(causal), tv!)), 3, 2));
      best.both = Math.min(best.both, await timeDispatches(gpu, [...fused.forward, ...fused.backward], 2, 3));
      best.composedBoth = Math.min(best.composedBoth, await timeDispatches(gpu, [...unfused.forward, ...unfused.backward], 2, 3));
      best.tfBoth = Math.min(best.tfBoth, await timeTfjs(() => tfForwardBackward(causal), 3, 2));
    }
    const memory = { fusedBytes: heads * T * 4, composedBytes: unfused.bytes / 2 };
    rows.push({ case: `forward ${mask}, ${name}`, webgradMs: best.forward, tfjsMs: best.tfForward, composedMs: best.composedForward, ...memory });
    rows.push({ case: `forward+backward ${mask}, ${name}`, webgradMs: best.both, tfjsMs: best.tfBoth, composedMs: best.composedBoth, fusedBytes: 2 * heads * T * 4, composedBytes: unfused.bytes });
  }
  for (const b of [q, k, v, dO, o, dq, dk, dv, composedO, lse, delta, future, ...squares]) gpu.destroyBuffer(b);
  tf.dispose([tq!, tk!, tv!, tdO!, causalBias]);
}
reportComparison('attention', gpu, adapter, rows);
gpu.destroy();
