// Image data of any C×H×W and any class count reaches the compiled step: colour images and 300
// classes train like the float64 CPU twin, and a model that does not fit the data is named.
import { describe, expect, it } from 'vitest';
import { testGpu } from './helpers/gpu.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { rng } from './helpers/random.ts';
import { Conv2D, Dense, Flatten, MaxPool2D } from '../src/layers/layers.ts';
import { Sequential } from '../src/model/model.ts';
import { ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, uploadDataset } from '../src/runtime/dataset.ts';

describe('image data of any shape and class count', () => {
  it('3-channel 10×10 images with 300 classes: 3 Adam steps match the CPU twin', async () => {
    const gpu = await testGpu();
    const [count, channels, size, classes] = [12, 3, 10, 300];
    const next = rng(21);
    const set = {
      images: Uint8Array.from({ length: count * channels * size * size }, () => Math.floor(next() * 256)),
      labels: Uint32Array.from({ length: count }, () => Math.floor(next() * classes)),
      count, rows: size, cols: size, channels,
    };
    set.labels[0] = classes - 1;
    const model = new Sequential([channels, size, size], [new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }), new MaxPool2D(), new Flatten(), new Dense({ units: classes })]);
    await expectTrainsLikeCpuTwin(gpu, model, set, { classes, optimizer: { kind: 'adam', lr: 1e-2 }, seed: 3, initSeed: 2, normalize: { mean: 0.5, std: 0.25 } });
  });

  it('names both shapes when the model does not fit the images, and refuses labels past the classes', async () => {
    const gpu = await testGpu();
    const set = { images: new Uint8Array(2 * 3 * 16), labels: new Uint32Array([0, 4]), count: 2, rows: 4, cols: 4, channels: 3 };
    const data = uploadDataset(gpu, set, 5, 'rgb4');
    const gray = new Sequential([1, 4, 4], [new Flatten(), new Dense({ units: 5 })]);
    const state = new ModelState(gpu, gray, gray.initialValues(1));
    expect(() => new Trainer(gpu, gray, state, data, new Map(), { batchSize: 2, seed: 1, optimizer: { kind: 'sgd', lr: 0.1 }, normalize: { mean: 0, std: 1 }, stepsPerEpoch: 1, totalSteps: 1 }))
      .toThrow('model input shape [1, 4, 4] does not fit dataset rgb4 (3×4×4 images)');
    expect(() => uploadDataset(gpu, set, 4, 'rgb4')).toThrow('dataset rgb4: label 4 at index 1 is outside 0..3');
    expect(() => uploadDataset(gpu, { ...set, channels: 2 }, 5, 'rgb4')).toThrow('96 pixel bytes do not make 2 images of 2×4×4');
    state.destroy(); destroyDataset(gpu, data);
  });
});
