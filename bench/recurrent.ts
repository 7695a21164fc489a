// Training throughput of the recurrent zoo models (rows of an MNIST image as 28 steps) at batch 64
// with Adam, and where a step's time goes by kernel. `npx tsx bench/recurrent.ts` prints and writes
// bench/results/recurrent.json.
import { writeFileSync } from 'node:fs';
import { createGpu, type Gpu } from '../src/gpu/device.ts';
import { zooModel } from '../src/graph/zoo.ts';
import { ModelState, Trainer } from '../src/graph/runtime.ts';
import { destroyDataset, uploadDataset } from '../src/graph/dataset.ts';
import { loadDataset } from '../src/node/datasets.ts';
import type { GpuDataset } from '../src/graph/program.ts';
import { timeDispatches } from './helpers/time.ts';

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
const record = { adapter: gpu.describe(), command: 'npx tsx bench/recurrent.ts', date: new Date().toISOString(), results };
writeFileSync(new URL('./results/recurrent.json', import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
process.exit(0);
