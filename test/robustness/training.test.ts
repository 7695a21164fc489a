// Faults during training: NaN/Inf, a lost device, tensors past the device's limits, leaks over many
// epochs, and determinism. Each case asserts what the user is told, not just that something threw.
import { describe, expect, it } from 'vitest';
import { createGpu, DeviceLostError } from '../../src/gpu/device.ts';
import { testGpu } from '../helpers/gpu.ts';
import { rng } from '../helpers/random.ts';
import { zooModel } from '../../src/model/zoo.ts';
import { DivergenceError, ModelState, NonFiniteLossError, Trainer } from '../../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../../src/runtime/dataset.ts';
import { fit } from '../../src/runtime/fit.ts';
import type { Gpu } from '../../src/gpu/device.ts';

function syntheticMnist(count: number, seed: number) {
  const next = rng(seed);
  const labels = new Uint8Array(count).map(() => Math.floor(next() * 10));
  // Learnable: each class lights a different band of rows.
  const images = new Uint8Array(count * 784);
  labels.forEach((label, i) => { for (let p = 0; p < 784; p++) images[i * 784 + p] = Math.floor(p / 78.4) === label ? 200 + Math.floor(next() * 55) : Math.floor(next() * 40); });
  return { images, labels, count, rows: 28, cols: 28 };
}

const normalize = { mean: 0, std: 1 };

async function trainMlp(gpu: Gpu, epochs: number, seed: number, lr = 1e-2) {
  const data = uploadDataset(gpu, syntheticMnist(256, 9), 10, 'synthetic');
  const model = zooModel('mlp', { dropout: 0.2 });
  const state = new ModelState(gpu, model, model.initialValues(seed));
  const result = await fit(gpu, model, state, data, { epochs, batchSize: 32, seed, optimizer: { kind: 'adam', lr }, normalize, trainIndices: range(0, 256), augment: { maxRotationDegrees: 15, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 } });
  return { result, state, data, model };
}

describe('numerical faults', () => {
  it('a loss that becomes NaN/Inf stops training with a message naming the step', async () => {
    const gpu = await testGpu();
    const data = uploadDataset(gpu, syntheticMnist(256, 1), 10, 'synthetic');
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 32, seed: 1, optimizer: { kind: 'sgd', lr: 1e12 }, normalize, stepsPerEpoch: 8, totalSteps: 200, metricsEvery: 4 });
    let error: unknown;
    try {
      for (let s = 0; s < 200; s++) await trainer.step(range((s % 8) * 32, (s % 8 + 1) * 32));
      await trainer.totals();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(/the loss became NaN or infinite by step \d+.*lower the learning rate or enable gradient clipping/);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('divergence', () => {
  // Plain SGD at lr 30 on the MLP: the loss jumps to about 1e10 in the first epoch and stays finite,
  // so only the divergence check can stop it.
  async function diverging(gpu: Gpu, extra: { divergenceFactor?: number; metricsEvery?: number }) {
    const data = uploadDataset(gpu, syntheticMnist(256, 3), 10, 'synthetic');
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const saved: number[] = [];
    const run = fit(gpu, model, state, data, {
      epochs: 3, batchSize: 32, seed: 1, optimizer: { kind: 'sgd', lr: 30 }, normalize, trainIndices: range(0, 256),
      onEpochEnd: (r) => { saved.push(r.epoch); }, ...extra,
    });
    return { run, saved, release: () => { state.destroy(); destroyDataset(gpu, data); } };
  }

  it('a loss that grows far past chance level but stays finite stops the run before its epoch is handed on', async () => {
    const gpu = await testGpu();
    const { run, saved, release } = await diverging(gpu, {});
    const error = await run.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DivergenceError);
    expect(error).not.toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(/^the training loss diverged: \d\.\d{3}e\+\d+ \(mean over epoch 1\), more than 100× the chance-level loss ln\(10\) = 2\.303; lower the learning rate/);
    expect(saved).toEqual([]);
    release();
  });

  it('is caught mid-epoch from the asynchronous snapshots, and the factor is the user\'s to set', async () => {
    const gpu = await testGpu();
    const early = await diverging(gpu, { metricsEvery: 2, divergenceFactor: 10 });
    const error = await early.run.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DivergenceError);
    expect((error as Error).message).toMatch(/\(mean since its epoch began, read at step \d+\), more than 10× the chance-level loss/);
    early.release();
    // Switched off, the same run finishes with a finite, enormous loss: what the check exists for.
    const unchecked = await diverging(gpu, { divergenceFactor: Infinity });
    const result = await unchecked.run;
    expect(result.history).toHaveLength(3);
    expect(result.history[0]!.trainLoss).toBeGreaterThan(100 * Math.log(10));
    expect(Number.isFinite(result.history[0]!.trainLoss)).toBe(true);
    result.trainer.destroy();
    unchecked.release();
  });
});

describe('device limits', () => {
  it('a tensor larger than the device allows is caught at compile time, by name, with a batch size that fits', async () => {
    const gpu = await testGpu();
    const data = uploadDataset(gpu, syntheticMnist(64, 1), 10, 'synthetic');
    const model = zooModel('cnn');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const batch = Math.ceil(limit / (32 * 26 * 26 * 4)) + 1;
    expect(() => new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize, stepsPerEpoch: 1, totalSteps: 1 }))
      .toThrow(new RegExp(`tensor "[\\w.()]+" \\[${batch}, .*\\] needs \\d+ bytes, more than this device's limit of ${limit} bytes per buffer; use a batch size of at most \\d+ \\(now ${batch}\\)`));
    state.destroy(); destroyDataset(gpu, data);
  });
});

describe('data that does not fit the model', () => {
  it('images of another size, and more classes than the model has, are named at compile time', async () => {
    const gpu = await testGpu();
    const small = uploadDataset(gpu, { images: new Uint8Array(4 * 16 * 16), labels: new Uint8Array(4), count: 4, rows: 16, cols: 16 }, 10, 'tiny-16px');
    const model = zooModel('cnn');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const options = { batchSize: 2, seed: 1, optimizer: { kind: 'adam' as const, lr: 1e-3 }, normalize, stepsPerEpoch: 1, totalSteps: 1 };
    expect(() => new Trainer(gpu, model, state, small, new Map(), options)).toThrow('model input shape [1, 28, 28] does not fit dataset tiny-16px (1×16×16 images)');
    const twelve = uploadDataset(gpu, syntheticMnist(4, 1), 12, 'twelve-classes');
    expect(() => new Trainer(gpu, model, state, twelve, new Map(), options)).toThrow('model outputs [10] but dataset twelve-classes has 12 classes');
    expect(() => uploadDataset(gpu, { ...syntheticMnist(4, 1), labels: new Uint8Array([0, 1, 10, 2]) }, 10, 'bad-labels'))
      .toThrow('dataset bad-labels: label 10 at index 2 is outside 0..9');
    state.destroy(); destroyDataset(gpu, small); destroyDataset(gpu, twelve);
  });
});

describe('device loss', () => {
  it('device.destroy() mid-training surfaces as an error with the reason within one step', async () => {
    const gpu = await createGpu();
    const data = uploadDataset(gpu, syntheticMnist(128, 1), 10, 'synthetic');
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 32, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize, stepsPerEpoch: 4, totalSteps: 100 });
    for (let s = 0; s < 3; s++) await trainer.step(range(0, 32));
    gpu.device.destroy();
    let failedAt = -1;
    let error: unknown;
    for (let s = 0; s < 3 && failedAt < 0; s++) {
      try {
        await trainer.step(range(0, 32));
      } catch (e) {
        failedAt = s;
        error = e;
      }
    }
    expect(failedAt).toBeGreaterThanOrEqual(0);
    expect(failedAt).toBeLessThanOrEqual(1);
    expect(error).toBeInstanceOf(DeviceLostError);
    expect((error as Error).message).toMatch(/WebGPU device lost \(destroyed\)/);
  });
});

describe('long runs', () => {
  it('GPU buffers and the JS heap stay flat across 20 epochs', async () => {
    const gpu = await testGpu();
    const data = uploadDataset(gpu, syntheticMnist(128, 2), 10, 'synthetic');
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const memory: { buffers: number; bytes: number }[] = [];
    const heap: number[] = [];
    const result = await fit(gpu, model, state, data, {
      epochs: 20, batchSize: 16, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize, trainIndices: range(0, 96), validationIndices: range(96, 128),
      onEpochEnd: () => { memory.push(gpu.memory()); heap.push(process.memoryUsage().heapUsed); },
    });
    expect(result.history).toHaveLength(20);
    expect(memory[19]).toEqual(memory[1]);
    // Heap: allow collector noise, but a per-step leak of even 1 KiB would add 120 KiB+ here and
    // grow steadily; compare the second half's growth against a bound well under that.
    const growth = Math.min(...heap.slice(15)) - Math.min(...heap.slice(2, 6));
    expect(growth).toBeLessThan(4 * 2 ** 20);
    result.trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('determinism', () => {
  it('same seed, same device: identical loss curves and weights, bit for bit (with dropout and augmentation)', async () => {
    const gpu = await testGpu();
    const a = await trainMlp(gpu, 2, 5);
    const b = await trainMlp(gpu, 2, 5);
    expect(b.result.history.map((h) => h.trainLoss)).toEqual(a.result.history.map((h) => h.trainLoss));
    const wa = await a.state.read(), wb = await b.state.read();
    for (const [name, values] of wa) expect(Buffer.from(wb.get(name)!.buffer).equals(Buffer.from(values.buffer)), name).toBe(true);
    const c = await trainMlp(gpu, 2, 6);
    expect(c.result.history.map((h) => h.trainLoss)).not.toEqual(a.result.history.map((h) => h.trainLoss));
    for (const run of [a, b, c]) { run.result.trainer.destroy(); run.state.destroy(); destroyDataset(gpu, run.data); }
  });
});
