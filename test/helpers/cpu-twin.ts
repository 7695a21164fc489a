// Trains a model a few steps on the GPU and the same steps in the float64 CPU twin, then requires
// every parameter to agree: the end-to-end check that a compiled step computes what the model means.
import { expect } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import type { ImageSet } from '../../src/data/idx.ts';
import type { Model } from '../../src/model/model.ts';
import type { OptimizerConfig } from '../../src/optim/optim.ts';
import { ModelState, Trainer } from '../../src/runtime/runtime.ts';
import { destroyDataset, range, tensorDataset, uploadDataset, type FieldData } from '../../src/runtime/dataset.ts';
import type { UploadOptions } from '../../src/runtime/dataset-shards.ts';
import { gatherReference } from '../reference/gather.ts';
import { cpuTrainer, type CpuTrainer } from '../reference/model.ts';
import { softmaxCrossEntropyRef } from '../reference/loss.ts';
import { maxRelativeError } from './random.ts';

export interface TwinRun {
  classes: number;
  optimizer: OptimizerConfig;
  batch?: number;
  steps?: number;
  seed?: number;
  initSeed?: number;
  normalize?: { mean: number; std: number };
}

export async function expectTrainsLikeCpuTwin(gpu: Gpu, model: Model, set: ImageSet, run: TwinRun): Promise<void> {
  const { classes, optimizer, batch = 4, steps = 3, seed = 1, initSeed = 5, normalize = { mean: 0.3, std: 0.4 } } = run;
  const data = uploadDataset(gpu, set, classes, 'twin');
  const initial = model.initialValues(initSeed);
  const state = new ModelState(gpu, model, initial);
  const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed, optimizer, normalize, stepsPerEpoch: steps, totalSteps: steps });
  const cpu = cpuTrainer(model, initial, optimizer, seed);
  const images = { images: set.images, labels: set.labels, channels: set.channels ?? 1, height: set.rows, width: set.cols };
  for (let s = 0; s < steps; s++) {
    const indices = range(s * batch, (s + 1) * batch);
    await trainer.step(indices);
    const { x, y } = gatherReference(images, indices, normalize.mean, normalize.std);
    cpu.step(Float64Array.from(x), y);
  }
  await expectParamsLikeTwin(state, cpu, `after ${steps} ${optimizer.kind} steps`);
  expect(trainer.submits).toBe(steps);
  trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
}

async function expectParamsLikeTwin(state: ModelState, cpu: CpuTrainer, what: string): Promise<void> {
  const values = await state.read();
  // fp32 forward/backward over a few layers and a few updates: 1e-4 relative to the tensor's scale
  // (per element, against max(|w|, 1e-2)) leaves room for float32 rounding, not for a wrong gradient.
  for (const [name, expected] of cpu.params) expect(maxRelativeError(values.get(name)!, expected, 1e-2), `${name} ${what}`).toBeLessThanOrEqual(1e-4);
}

/** The rows of a [count, width] array named by `indices`, in float64. */
export function rowsOf(data: ArrayLike<number>, width: number, indices: ArrayLike<number>): Float64Array {
  const out = new Float64Array(indices.length * width);
  for (let r = 0; r < indices.length; r++) for (let i = 0; i < width; i++) out[r * width + i] = data[indices[r]! * width + i]!;
  return out;
}

export interface FieldTwinRun {
  optimizer: OptimizerConfig;
  batch: number;
  steps: number;
  /** The dataset rows each step trains on, `batch` at a time (default 0, 1, 2, …). */
  order?: Uint32Array;
  upload?: UploadOptions;
}

/**
 * The same check on a dataset of named tensors: each model input reads its field (f32 or u32; `x`
 * for a one-input model), class ids come from field `y`, and the mean loss read after every step
 * must match the twin's too.
 */
export async function expectFieldsTrainLikeCpuTwin(gpu: Gpu, model: Model, fields: Readonly<Record<string, FieldData>>, run: FieldTwinRun): Promise<void> {
  const { optimizer, batch, steps, order = range(0, batch * steps) } = run;
  const data = tensorDataset(gpu, fields, 'twin', run.upload);
  const initial = model.initialValues(5);
  const state = new ModelState(gpu, model, initial);
  const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer, stepsPerEpoch: steps, totalSteps: steps });
  const cpu = cpuTrainer(model, initial, optimizer, 1);
  const names = model.inputs.map((t) => (model.inputs.length === 1 ? 'x' : t.name));
  const classes = model.outputShape.at(-1)!;
  let cpuLossSum = 0;
  for (let s = 0; s < steps; s++) {
    const rows = order.subarray(s * batch, (s + 1) * batch);
    await trainer.step(rows);
    const inputs = names.map((name) => rowsOf(fields[name]!.data, fields[name]!.data.length / fields[name]!.shape[0]!, rows));
    const labels = Array.from(rows, (i) => fields.y!.data[i]!);
    cpuLossSum += cpu.stepWith(inputs, batch, (out) => {
      const r = softmaxCrossEntropyRef(out, batch, classes, { labels });
      return { loss: r.rowLoss.reduce((a, b) => a + b, 0) / batch, grad: r.dlogits };
    });
    const gpuLoss = (await trainer.totals()).loss, cpuLoss = cpuLossSum / (s + 1);
    expect(Math.abs(gpuLoss - cpuLoss), `mean loss after step ${s + 1}: ${gpuLoss} vs ${cpuLoss}`).toBeLessThanOrEqual(1e-5 * Math.max(1, cpuLoss));
  }
  await expectParamsLikeTwin(state, cpu, `after ${steps} ${optimizer.kind} steps`);
  expect(trainer.submits).toBe(steps);
  trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
}
