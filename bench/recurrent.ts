// Training throughput of the recurrent zoo models (rows of an MNIST image as 28 steps) at batch 64
// with Adam, and where a step's time goes by kernel. `npx tsx bench/recurrent.ts` prints and writes
// bench/results/recurrent.json.
import { writeFileSync } from 'node:fs';
import { timeDispatches } from './helpers/time.ts';
import { tfjsWebgpu } from './tfjs.ts';
import type * as TfCore from '@tensorflow/tfjs-core';
import { createGpu, zooModel, ModelState, Trainer, destroyDataset, uploadDataset, type Gpu, type GpuDataset } from 'webgrad';
import { loadDataset } from 'webgrad/node';

const BATCH = 64;

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

/**
 * The same `lstm` model (LSTM 128 over 28 rows of 28 pixels → Dense 10, Adam, batch 64) trained by
 * TF.js's WebGPU backend on the same adapter, unrolled with tf.basicLSTMCell.
 */
async function tfjsLstmImagesPerSecond(steps: number): Promise<{ imagesPerSecond: number; adapter: string }> {
  const { tf, adapter } = await tfjsWebgpu();
  await import('@tensorflow/tfjs'); // registers the gradients tfjs-core lacks
  const H = 128, T = 28, F = 28;
  const v = (shape: number[]) => tf.variable(tf.randomUniform(shape, -0.08, 0.08)) as unknown as TfCore.Variable<TfCore.Rank.R2>;
  const kernel = v([F + H, 4 * H]);
  const bias = tf.variable(tf.zeros([4 * H])) as unknown as TfCore.Variable<TfCore.Rank.R1>;
  const dense = v([H, 10]);
  const denseBias = tf.variable(tf.zeros([10])) as unknown as TfCore.Variable<TfCore.Rank.R1>;
  const x = tf.randomUniform([BATCH, T, F]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), 'int32'), 10);
  const forget = tf.scalar(1);
  const optimizer = tf.train.adam(1e-3);
  const rows = tf.unstack(x, 1) as TfCore.Tensor2D[];
  const loss = () => {
    let c = tf.zeros([BATCH, H]) as TfCore.Tensor2D;
    let h = tf.zeros([BATCH, H]) as TfCore.Tensor2D;
    for (const row of rows) [c, h] = tf.basicLSTMCell(forget, kernel, bias, row, c, h);
    return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, dense), denseBias)) as TfCore.Scalar;
  };
  const run = async (n: number) => {
    const start = performance.now();
    let last: TfCore.Scalar | null = null;
    for (let i = 0; i < n; i++) last = optimizer.minimize(loss, true);
    await last!.data();
    return performance.now() - start;
  };
  await run(1);
  const ms = (await run(steps)) / steps;
  return { imagesPerSecond: (BATCH * 1000) / ms, adapter };
}

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
destroyDataset(gpu, data);
const tfjs = await tfjsLstmImagesPerSecond(3);
const ours = (results.lstm as { imagesPerSecond: number }).imagesPerSecond;
results.tfjsWebgpuLstm = { ...tfjs, ratio: ours / tfjs.imagesPerSecond };
console.log(`  TF.js WebGPU lstm ${tfjs.imagesPerSecond.toFixed(1)} images/s on ${tfjs.adapter} → webgrad is ${(ours / tfjs.imagesPerSecond).toFixed(1)}×`);
const record = { adapter: gpu.describe(), command: 'npx tsx bench/recurrent.ts', date: new Date().toISOString(), results };
writeFileSync(new URL('./results/recurrent.json', import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
process.exit(0);
