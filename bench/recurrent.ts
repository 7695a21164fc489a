// Training throughput of the recurrent zoo models (rows of an MNIST image as 28 steps) at batch 64
// with Adam, plus the per-dispatch cost of the step kernels, and the same LSTM in TensorFlow.js
// WebGPU on the same adapter (`--tfjs`). `npx tsx bench/recurrent.ts [--tfjs]` prints and writes
// bench/results/recurrent.json.
import { writeFileSync } from 'node:fs';
import { createGpu, type Gpu } from '../src/gpu/device.ts';
import { zooModel } from '../src/graph/zoo.ts';
import { ModelState, Trainer } from '../src/graph/runtime.ts';
import { destroyDataset, uploadDataset } from '../src/graph/dataset.ts';
import { loadDataset } from '../src/node/datasets.ts';
import type { GpuDataset } from '../src/graph/program.ts';
import { timeDispatches } from './helpers/time.ts';
import { tfjsWebgpu, type Tf } from './tfjs.ts';

const BATCH = 64;
const STEPS = 28;
const UNITS = 128;

async function webgradImagesPerSecond(gpu: Gpu, name: string, data: GpuDataset, steps: number): Promise<{ imagesPerSecond: number; byOp: Record<string, number> }> {
  const model = zooModel(name);
  const state = new ModelState(gpu, model, model.initialValues(1));
  const trainer = new Trainer(gpu, model, state, data, new Map(), {
    batchSize: BATCH, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0.1307, std: 0.3081 },
    stepsPerEpoch: steps, totalSteps: steps,
  });
  const indices = (s: number) => Uint32Array.from({ length: BATCH }, (_, i) => (s * BATCH + i) % data.count);
  for (let s = 0; s < 3; s++) await trainer.step(indices(s));
  await trainer.totals();
  let best = 0;
  for (let trial = 0; trial < 3; trial++) {
    const start = performance.now();
    for (let s = 0; s < steps; s++) await trainer.step(indices(s));
    await trainer.totals();
    best = Math.max(best, (steps * BATCH) / ((performance.now() - start) / 1000));
  }
  // Where a step's time goes: dispatches grouped by kernel label, each group timed on its own.
  const groups = new Map<string, typeof trainer.program.dispatches>();
  for (const d of trainer.program.dispatches) {
    const key = d.label.replace(/ t=\d+$/, '').replace(/\d+×\d+×\d+/, 'gemm');
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const byOp: Record<string, number> = {};
  for (const [key, dispatches] of groups) byOp[`${key} (${dispatches.length}×)`] = await timeDispatches(gpu, dispatches, 3, 3);
  trainer.destroy();
  state.destroy();
  return { imagesPerSecond: best, byOp };
}

/** The same LSTM 128 → Dense 10 training step in TF.js ops (no tfjs-layers): BPTT by tf.variableGrads, Adam. */
async function tfjsImagesPerSecond(tf: Tf, steps: number): Promise<number> {
  const H = UNITS, F = 28, classes = 10;
  const u = (shape: number[], limit: number) => tf.variable(tf.randomUniform(shape, -limit, limit));
  const k = 1 / Math.sqrt(H);
  // Gates i, f, g, o side by side along the last axis; TF.js keeps weights [in, out].
  const weightIh = u([F, 4 * H], k), weightHh = u([H, 4 * H], k), bias = u([4 * H], k);
  const dense = u([H, classes], Math.sqrt(6 / (H + classes))), denseBias = tf.variable(tf.zeros([classes]));
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([BATCH, STEPS, F]);
  const labels = tf.oneHot(tf.randomUniform([BATCH], 0, classes, 'int32'), classes);
  const step = () => {
    const cost = optimizer.minimize(() => {
      const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [BATCH * STEPS, F]), weightIh), bias), [BATCH, STEPS, 4 * H]);
      let h = tf.zeros([BATCH, H]), c = tf.zeros([BATCH, H]);
      for (let t = 0; t < STEPS; t++) {
        const pre = tf.add(tf.squeeze(tf.slice(projected, [0, t, 0], [BATCH, 1, 4 * H]), [1]), tf.matMul(h, weightHh));
        const [i, f, g, o] = tf.split(pre, 4, 1) as [ReturnType<Tf['zeros']>, ReturnType<Tf['zeros']>, ReturnType<Tf['zeros']>, ReturnType<Tf['zeros']>];
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      }
      return tf.losses.softmaxCrossEntropy(labels, tf.add(tf.matMul(h, dense), denseBias)) as ReturnType<Tf['scalar']>;
    }, true);
    return cost!;
  };
  for (let s = 0; s < 2; s++) { const cost = step(); await cost.data(); cost.dispose(); }
  let best = 0;
  for (let trial = 0; trial < 2; trial++) {
    const start = performance.now();
    let last: ReturnType<typeof step> | undefined;
    for (let s = 0; s < steps; s++) { last?.dispose(); last = step(); }
    await last!.data();
    last!.dispose();
    best = Math.max(best, (steps * BATCH) / ((performance.now() - start) / 1000));
  }
  return best;
}

const withTfjs = process.argv.includes('--tfjs');
const gpu = await createGpu();
const dataset = await loadDataset('mnist');
const data = uploadDataset(gpu, dataset.train, 10, 'mnist.train');
console.log(`webgrad: ${gpu.describe()}\nbatch ${BATCH}, Adam, best of 3 trials; the machine is shared, so expect noise`);
const results: Record<string, unknown> = {};
for (const name of ['lstm', 'rnn']) {
  const r = await webgradImagesPerSecond(gpu, name, data, 10);
  results[name] = r;
  console.log(`  ${name.padEnd(5)} ${r.imagesPerSecond.toFixed(0).padStart(6)} images/s`);
  for (const [op, ms] of Object.entries(r.byOp)) console.log(`      ${op.padEnd(48)} ${ms.toFixed(3).padStart(8)} ms`);
}
if (withTfjs) {
  const { tf, adapter } = await tfjsWebgpu();
  const tfjs = await tfjsImagesPerSecond(tf, 5);
  const ours = (results.lstm as { imagesPerSecond: number }).imagesPerSecond;
  results.tfjsLstm = { adapter, imagesPerSecond: tfjs, ratio: ours / tfjs };
  console.log(`TF.js:   ${adapter}\n  lstm  ${tfjs.toFixed(0).padStart(6)} images/s   webgrad/TF.js ${(ours / tfjs).toFixed(1)}×`);
}
destroyDataset(gpu, data);
const record = { adapter: gpu.describe(), command: `npx tsx bench/recurrent.ts${withTfjs ? ' --tfjs' : ''}`, date: new Date().toISOString(), results };
writeFileSync(new URL('./results/recurrent.json', import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
process.exit(0);
