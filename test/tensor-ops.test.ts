// The new tensor ops together in one drawn model: self-attention written by hand (matmul, softmax,
// a causal mask with maskedFill, a gate with where), mean/max/sum pooling and a log-softmax head.
// It trains three Adam steps equal to the float64 CPU twin, saves as a graph and reloads to the same
// logits. Causal attention masked by where with a u32 mask input is checked against finite
// differences, and a model with gather round-trips through its JSON.
import { describe, expect, it } from 'vitest';
import { input, type SymbolicTensor } from '../src/layers/layer.ts';
import { Dense } from '../src/layers/layers.ts';
import { concat, reshape, scale, slice, transpose } from '../src/layers/ops.ts';
import { gather, logSoftmax, max, mean, softmax, sum } from '../src/layers/axis-ops.ts';
import { maskedFill, where } from '../src/layers/select-ops.ts';
import { matmul } from '../src/layers/matmul.ts';
import { Model } from '../src/model/model.ts';
import { modelFromGraph, modelToGraph } from '../src/io/model-graph.ts';
import { encodeCheckpoint, loadModel } from '../src/io/checkpoint.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import { predictLogits } from '../src/runtime/logits.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { testGpu } from './helpers/gpu.ts';
import { rng } from './helpers/random.ts';
import { checkOp } from './helpers/check-op.ts';
import { permuteRef } from './reference/elementwise.ts';
import { matmulRef } from './reference/matmul.ts';
import { softmaxAxisRef } from './reference/reduce_axis.ts';
import { whereRef } from './reference/select.ts';

const TOKENS = 8, WIDTH = 8, CLASSES = 3;

/**
 * Each image row is a token: its first 8 pixels are the causal mask (255 where the key comes after
 * the query), the other 8 its features. With mean 0 and std 1 the mask arrives as 0 or ≈1.
 */
function attentionModel(): Model {
  const x = input([1, TOKENS, 2 * WIDTH], { name: 'image' });
  const rows = reshape(x, [TOKENS, 2 * WIDTH]);
  const future = slice(rows, 1, 0, TOKENS);
  const h = new Dense({ units: 6, activation: 'tanh' }).apply(slice(rows, 1, TOKENS, 2 * WIDTH));
  // No biases: the key's would get a gradient of exactly zero (softmax ignores a shift shared by a
  // query's scores), which Adam would turn from float32 noise into full-size steps.
  const [q, k, v] = [0, 1, 2].map(() => new Dense({ units: 6, useBias: false }).apply(h)) as [SymbolicTensor, SymbolicTensor, SymbolicTensor];
  const scores = scale(matmul(q, transpose(k)), 1 / Math.sqrt(6));
  const attended = matmul(softmax(maskedFill(scores, future, -1e9), -1), v);
  // Tokens that have a later token (the mask's last column) take the attention output, the last one keeps h.
  const gated = where(slice(future, 1, TOKENS - 1, TOKENS), attended, h);
  const pooled = concat([mean(gated, 0), max(gated, [0]), scale(sum(gated, 0, { keepDims: true }), 0.1)].map((t, i) => (i === 2 ? reshape(t, [6]) : t)));
  return new Model({ inputs: x, outputs: logSoftmax(new Dense({ units: CLASSES }).apply(pooled)) });
}

function attentionImages(count: number, seed: number) {
  const next = rng(seed);
  const images = new Uint8Array(count * TOKENS * 2 * WIDTH);
  for (let n = 0; n < count; n++) for (let t = 0; t < TOKENS; t++) for (let c = 0; c < 2 * WIDTH; c++) {
    images[(n * TOKENS + t) * 2 * WIDTH + c] = c < TOKENS ? (c > t ? 255 : 0) : Math.floor(next() * 256);
  }
  return { images, labels: Uint8Array.from({ length: count }, () => Math.floor(next() * CLASSES)), count, rows: TOKENS, cols: 2 * WIDTH };
}

describe('a model drawn from the tensor ops', () => {
  it('hand-written causal attention with mean/max/sum pooling trains 3 Adam steps like the float64 CPU twin', async () => {
    const gpu = await testGpu();
    const model = attentionModel();
    expect(model.outputShape).toEqual([CLASSES]);
    await expectTrainsLikeCpuTwin(gpu, model, attentionImages(12, 3), { classes: CLASSES, optimizer: { kind: 'adam', lr: 1e-2 }, seed: 2, initSeed: 4, normalize: { mean: 0, std: 1 } });
  });

  it('saves as a graph and reloads to the same logits', async () => {
    const gpu = await testGpu();
    const model = attentionModel();
    const state = new ModelState(gpu, model, model.initialValues(6));
    const normalize = { mean: 0, std: 1 };
    const loaded = await loadModel(new Blob([new Uint8Array(await encodeCheckpoint(state, { epoch: 0, normalize }))]), 'attention.safetensors');
    expect(modelToGraph(loaded.model)).toEqual(modelToGraph(model));
    const reloaded = new ModelState(gpu, loaded.model, loaded.weights);
    const set = attentionImages(5, 9);
    const data = uploadDataset(gpu, set, CLASSES, 'attention');
    const before = await predictLogits(gpu, model, state, data, range(0, set.count), normalize);
    const after = await predictLogits(gpu, loaded.model, reloaded, data, range(0, set.count), loaded.normalize);
    destroyDataset(gpu, data);
    state.destroy();
    reloaded.destroy();
    expect(before.some((v) => v !== 0)).toBe(true);
    expect(new Uint32Array(after.buffer)).toEqual(new Uint32Array(before.buffer));
  });

  it('causal attention masked by where with a u32 mask input: forward and the gradients of q, k, v and the fill', async () => {
    const T = 5, D = 3, batch = 2;
    const allowed = Uint32Array.from({ length: batch * T * T }, (_, i) => (i % T <= Math.floor(i / T) % T ? 1 : 0));
    const fill = Float32Array.from({ length: batch }, () => -30);
    const build = (q: SymbolicTensor, k: SymbolicTensor, v: SymbolicTensor, mask: SymbolicTensor, low: SymbolicTensor) =>
      matmul(softmax(where(mask, scale(matmul(q, transpose(k)), 1 / Math.sqrt(D)), low), -1), v);
    const reference = ([q, k, v, mask, low]: Float64Array[]) => {
      const kT = permuteRef(k!, [batch, T, D], [0, 2, 1]);
      const scores = matmulRef(q!, [batch, T, D], kT, [batch, D, T]).map((x) => x / Math.sqrt(D));
      const masked = whereRef(mask!, [batch, T, T], scores, [batch, T, T], low!, [batch, 1, 1]);
      return matmulRef(softmaxAxisRef({ outer: batch * T, n: T, inner: 1 }, masked), [batch, T, T], v!, [batch, T, D]);
    };
    await checkOp((q, k, v, mask, low) => build(q!, k!, v!, mask!, low!), [[T, D], [T, D], [T, D], [T, T], [1]], reference, batch, { data: [undefined, undefined, undefined, allowed, fill] });
  });

  it('a model that gathers by u32 indices round-trips through its JSON', () => {
    const x = input([4, 6], { name: 'x' });
    const picks = input([4, 2], { name: 'picks', dtype: 'u32' });
    const model = new Model({ inputs: [x, picks], outputs: new Dense({ units: 2 }).apply(reshape(gather(x, picks, 1), [8])) });
    const json = JSON.parse(JSON.stringify(modelToGraph(model)));
    expect(modelToGraph(modelFromGraph(json))).toEqual(json);
    expect(json.layers.map((l: { type: string }) => l.type)).toContain('Gather');
  });
});
