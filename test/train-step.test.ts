import { describe, expect, it } from 'vitest';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { rng } from './helpers/random.ts';
import { Sequential } from '../src/model/model.ts';
import { AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Tanh } from '../src/layers/layers.ts';
import { ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import { zooModel } from '../src/model/zoo.ts';
import { fit } from '../src/runtime/fit.ts';
import { loadDataset } from '../src/node/datasets.ts';
import type { OptimizerConfig } from '../src/optim/optim.ts';
import type { Gpu } from '../src/gpu/device.ts';

function syntheticSet(count: number, size: number, classes: number, seed: number) {
  const next = rng(seed);
  const images = new Uint8Array(count * size * size).map(() => Math.floor(next() * 256));
  const labels = new Uint8Array(count).map(() => Math.floor(next() * classes));
  return { images, labels, count, rows: size, cols: size };
}

const smallCnn = () => new Sequential([1, 8, 8], [
  new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }), new MaxPool2D(), new Flatten(), new Dense({ units: 3 }),
]);
const everyLayer = () => new Sequential([1, 8, 8], [
  new Conv2D({ filters: 3, kernelSize: 3, padding: 'same', useBias: false }), new BatchNorm(), ReLU(), new AvgPool2D(),
  new Conv2D({ filters: 4, kernelSize: 2, strides: 2 }), Tanh(), new Flatten(),
  new Dropout(0.3), new Dense({ units: 6, activation: 'relu' }), new BatchNorm(), new Dense({ units: 3 }),
]);

async function compareWithCpu(gpu: Gpu, model: Sequential, optimizer: OptimizerConfig) {
  await expectTrainsLikeCpuTwin(gpu, model, syntheticSet(16, 8, 3, 11), { classes: 3, optimizer, seed: 7, initSeed: 3 });
}

describe('compiled training step vs a float64 CPU step', () => {
  it('small CNN, 3 SGD steps with Nesterov momentum and weight decay', async () => {
    await compareWithCpu(await testGpu(), smallCnn(), { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
  });
  it('small CNN, 3 Adam steps', async () => {
    await compareWithCpu(await testGpu(), smallCnn(), { kind: 'adam', lr: 1e-3 });
  });
  it('every layer kind (batch norm, avg pool, strided conv, tanh, dropout), 3 AdamW steps', async () => {
    // Adam divides by √v + eps: with the default eps a gradient that is ~0 up to float32 rounding
    // (a batch-norm bias here) becomes a full ±lr step either way. eps 1e-3 keeps such entries
    // linear in their gradient, so the comparison tests the gradients, not rounding noise.
    await compareWithCpu(await testGpu(), everyLayer(), { kind: 'adamw', lr: 1e-3, weightDecay: 0.05, eps: 1e-3 });
  });
  it('MLP, 3 plain SGD steps', async () => {
    const mlp = new Sequential([1, 8, 8], [new Flatten(), new Dense({ units: 5, activation: 'tanh' }), new Dense({ units: 3 })]);
    await compareWithCpu(await testGpu(), mlp, { kind: 'sgd', lr: 0.1 });
  });
});

describe('the step is recorded once and replayed', () => {
  it('makes exactly one queue.submit per step and creates no GPU objects after compile', async () => {
    const gpu = await testGpu();
    const model = zooModel('cnn');
    const set = syntheticSet(256, 28, 10, 5);
    const data = uploadDataset(gpu, set, 10, 'synthetic');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 32, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0, std: 1 }, stepsPerEpoch: 8, totalSteps: 8, metricsEvery: 1000 });
    const counts = await countDeviceWork(gpu, async () => {
      for (let s = 0; s < 8; s++) await trainer.step(range(s * 32, (s + 1) * 32));
    });
    expect(counts).toEqual({ submits: 8, created: 0 });
    expect(trainer.submits).toBe(8);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('memory planning', () => {
  it('shares activation storage: peak bytes below the sum of all activations for the cnn model', async () => {
    const gpu = await testGpu();
    const model = zooModel('cnn');
    const data = uploadDataset(gpu, syntheticSet(64, 28, 10, 3), 10, 'synthetic');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 64, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0, std: 1 }, stepsPerEpoch: 1, totalSteps: 1 });
    const m = trainer.memory;
    expect(m.peakBytes).toBeLessThan(m.activationBytes);
    expect(m.parameterBytes).toBe(model.parameterCount() * 4);
    expect(m.optimizerBytes).toBe(2 * model.parameterCount() * 4);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('shape checking', () => {
  it('names the layer and both shapes when layers do not fit', () => {
    expect(() => new Sequential([1, 28, 28], [new Conv2D({ filters: 8, kernelSize: 3 }), new Dense({ units: 10 })]))
      .toThrow(/layer fc1 \(Dense\(10\)\) expects a flat input \[features\] or a sequence \[tokens, features\] \(add Flatten before it\), got input shape \[8, 26, 26\]/);
    expect(() => new Sequential([1, 4, 4], [new Conv2D({ filters: 8, kernelSize: 5 })]))
      .toThrow(/layer conv1 .* got input shape \[1, 4, 4\]/);
  });
});

describe('training on real data', () => {
  it('the loss falls on the first 2,000 MNIST images and accuracy beats chance on held-out ones', async () => {
    const gpu = await testGpu();
    const mnist = await loadDataset('mnist');
    const data = uploadDataset(gpu, mnist.train, 10, 'mnist-train');
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const result = await fit(gpu, model, state, data, {
      epochs: 3, batchSize: 32, seed: 1, optimizer: { kind: 'adam', lr: 2e-3 }, normalize: { mean: 0.1307, std: 0.3081 },
      trainIndices: range(0, 2000), validationIndices: range(2000, 3000),
    });
    const losses = result.history.map((h) => h.trainLoss);
    expect(losses[2]!).toBeLessThan(losses[0]! * 0.7);
    expect(result.history[2]!.valAccuracy!).toBeGreaterThan(0.85);
    result.trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});
