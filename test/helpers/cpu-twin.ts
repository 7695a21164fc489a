// Trains a model a few steps on the GPU and the same steps in the float64 CPU twin, then requires
// every parameter to agree: the end-to-end check that a compiled step computes what the model means.
import { expect } from 'vitest';
import type { Gpu } from '../../src/gpu/device.ts';
import type { ImageSet } from '../../src/data/idx.ts';
import type { Model } from '../../src/model/model.ts';
import type { OptimizerConfig } from '../../src/optim/optim.ts';
import { ModelState, Trainer } from '../../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../../src/runtime/dataset.ts';
import { gatherReference } from '../reference/gather.ts';
import { cpuTrainer } from '../reference/model.ts';
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
  const values = await state.read();
  // fp32 forward/backward over a few layers and a few updates: 1e-4 relative to the tensor's scale
  // (per element, against max(|w|, 1e-2)) leaves room for float32 rounding, not for a wrong gradient.
  for (const [name, expected] of cpu.params) expect(maxRelativeError(values.get(name)!, expected, 1e-2), `${name} after ${steps} ${optimizer.kind} steps`).toBeLessThanOrEqual(1e-4);
  expect(trainer.submits).toBe(steps);
  trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
}
