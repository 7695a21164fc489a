import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../src/gpu/device.ts';
import { loadDataset } from '../src/node/datasets.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import type { GpuDataset } from '../src/compiler/program.ts';
import { zooModel } from '../src/model/zoo.ts';
import { Evaluator, ModelState, Trainer } from '../src/runtime/runtime.ts';
import { fit } from '../src/runtime/fit.ts';
import { dequantize, linearWeightNames, modelBytes, packInt8, quantizeModel, quantizePerChannel, unpackInt8 } from '../src/compress/quantize.ts';
import { applyMasks, keepPrunedAtZero, magnitudeMasks, pruneModelMasks, sparsityOf } from '../src/compress/prune.ts';
import { accuracyOf, QuantizedState } from '../src/compress/int8-model.ts';
import { compileProgram } from '../src/compiler/program.ts';
import { testGpu } from './helpers/gpu.ts';
import { randomArray, rng } from './helpers/random.ts';

describe('weight quantization', () => {
  it.each([[1, 1], [3, 17], [17, 3], [10, 784], [64, 288]])('%i channels × %i: per-channel codes round-trip within scale/2', (rows, depth) => {
    const values = randomArray(rows * depth, rows + depth, -0.7, 0.7);
    for (let k = 0; k < depth; k++) values[k] = values[k]! * 1e-3 * (k + 1); // a channel far smaller than the rest
    if (rows > 2) values.fill(0, depth, 2 * depth); // an all-zero channel
    const q = quantizePerChannel(values, rows, depth);
    const back = dequantize(q);
    for (let i = 0; i < values.length; i++) {
      const scale = q.scales[Math.floor(i / depth)]!;
      // |w − code·scale| ≤ scale/2, with slack for the f32 scale and the f32 product.
      expect(Math.abs(values[i]! - back[i]!)).toBeLessThanOrEqual(scale / 2 * (1 + 1e-5) + 1e-12);
    }
    for (let r = 0; r < rows; r++) {
      let largest = 0;
      for (let k = 0; k < depth; k++) largest = Math.max(largest, Math.abs(values[r * depth + k]!));
      expect(q.scales[r]).toBe(Math.fround(largest / 127));
    }
  });

  it('packs four codes per word and unpacks them with their signs', () => {
    const next = rng(3);
    const codes = Int8Array.from({ length: 7 * 13 }, () => Math.floor(next() * 255) - 127);
    expect(Array.from(unpackInt8(packInt8(codes, 7, 13), 7, 13))).toEqual(Array.from(codes));
    expect(packInt8([1, -1, 127, -127, 5], 1, 5)).toEqual(new Uint32Array([0x81_7f_ff_01, 5]));
  });

  it('stores the cnn weights in about a quarter of the bytes', () => {
    const model = zooModel('cnn');
    const q = quantizeModel(model, model.initialValues(1));
    const bytes = modelBytes(q);
    expect(bytes.weightsF32).toBe(4 * (32 * 9 + 64 * 288 + 10 * 1600));
    // One byte per weight (rows padded to words: 9 → 12 bytes for conv1) plus an f32 per channel.
    expect(bytes.weightsInt8).toBe(32 * 12 + 32 * 4 + 64 * 288 + 64 * 4 + 10 * 1600 + 10 * 4);
    expect(bytes.f32 - bytes.int8).toBe(bytes.weightsF32 - bytes.weightsInt8);
    expect([...q.f32.keys()]).toEqual(['conv1.bias', 'conv2.bias', 'fc1.bias']);
  });
});

describe('magnitude pruning', () => {
  it('hits the exact target count with tied magnitudes, globally and per layer', () => {
    // Every magnitude appears many times, so any threshold rule would over- or under-prune.
    const a = Float32Array.from({ length: 101 }, (_, i) => ((i % 5) - 2) * 0.5);
    const b = Float32Array.from({ length: 37 }, (_, i) => (i % 3) - 1);
    const weights = new Map([['a', a], ['b', b]]);
    for (const sparsity of [0, 0.5, 0.75, 0.9, 1]) {
      const global = magnitudeMasks(weights, ['a', 'b'], sparsity, 'global');
      const zeros = (m: Uint8Array) => m.reduce((n, v) => n + (v ? 0 : 1), 0);
      expect(zeros(global.get('a')!) + zeros(global.get('b')!)).toBe(Math.round(sparsity * 138));
      const perLayer = magnitudeMasks(weights, ['a', 'b'], sparsity, 'layer');
      expect(zeros(perLayer.get('a')!)).toBe(Math.round(sparsity * 101));
      expect(zeros(perLayer.get('b')!)).toBe(Math.round(sparsity * 37));
      // Nothing pruned is larger than anything kept.
      const pruned = applyMasks(weights, global);
      let largestPruned = 0, smallestKept = Infinity;
      for (const name of ['a', 'b']) {
        weights.get(name)!.forEach((v, i) => {
          if (global.get(name)![i]) smallestKept = Math.min(smallestKept, Math.abs(v)); else largestPruned = Math.max(largestPruned, Math.abs(v));
        });
      }
      expect(largestPruned).toBeLessThanOrEqual(smallestKept);
      expect(sparsityOf(pruned, ['a', 'b'])).toBeGreaterThanOrEqual(Math.round(sparsity * 138) / 138);
    }
  });

  it('prunes only Dense and Conv2D weights', () => {
    const model = zooModel('cnn-bn');
    const masks = pruneModelMasks(model, model.initialValues(2), 0.5);
    expect([...masks.keys()]).toEqual(['conv1.weight', 'conv2.weight', 'conv3.weight', 'fc1.weight', 'fc2.weight']);
  });
});

describe('on MNIST', () => {
  let gpu: Gpu;
  let train: GpuDataset;
  let test: GpuDataset;
  let testLabels: ArrayLike<number>;
  const normalize = { mean: 0.1307, std: 0.3081 };
  const model = zooModel('lenet');
  let state: ModelState;

  beforeAll(async () => {
    gpu = await testGpu();
    const mnist = await loadDataset('mnist');
    train = uploadDataset(gpu, { ...mnist.train, images: mnist.train.images.subarray(0, 4000 * 784), labels: mnist.train.labels.subarray(0, 4000), count: 4000 }, 10, 'mnist4000');
    test = uploadDataset(gpu, { ...mnist.test, images: mnist.test.images.subarray(0, 500 * 784), labels: mnist.test.labels.subarray(0, 500), count: 500 }, 10, 'mnist.test500');
    testLabels = mnist.test.labels.subarray(0, 500);
    state = new ModelState(gpu, model, model.initialValues(7));
    const result = await fit(gpu, model, state, train, {
      epochs: 1, batchSize: 32, seed: 7, optimizer: { kind: 'adam', lr: 2e-3 }, normalize, trainIndices: range(0, 4000),
    });
    result.trainer.destroy();
  });

  afterAll(() => {
    state.destroy();
    destroyDataset(gpu, train);
    destroyDataset(gpu, test);
  });

  it.each([true, false])('an int8 lenet predicts as its fp32 self on 500 test images (packed dot: %s)', async (packedDot) => {
    const evaluator = new Evaluator(gpu, model, state, test, 128, normalize);
    const fp32 = (await evaluator.evaluate(range(0, 500))).predictions;
    evaluator.destroy();
    const quantized = new QuantizedState(gpu, quantizeModel(model, await state.read()), { packedDot });
    const int8 = new Evaluator(gpu, model, quantized, test, 128, normalize, { int8: quantized.int8 });
    const evaluation = await int8.evaluate(range(0, 500));
    const predictions = evaluation.predictions;
    int8.destroy();
    quantized.destroy();
    expect(evaluation.rows).toBe(500);
    expect(evaluation.accuracy).toBeCloseTo(accuracyOf(predictions, testLabels), 6);
    // A short training must already have learned something, or agreement would mean little.
    expect(accuracyOf(fp32, testLabels)).toBeGreaterThan(0.85);
    expect(accuracyOf(predictions, fp32)).toBeGreaterThanOrEqual(0.97);
    expect(Math.abs(accuracyOf(predictions, testLabels) - accuracyOf(fp32, testLabels))).toBeLessThanOrEqual(0.02);
  });

  it('compileProgram runs every Dense and Conv2D in int8 and the rest as compiled for fp32; it refuses to train on int8 weights', async () => {
    const quantized = new QuantizedState(gpu, quantizeModel(model, await state.read()));
    const fp32 = compileProgram(gpu, model, test, state.buffers, new Map(), { batch: 16, training: false, normalize });
    const int8 = compileProgram(gpu, model, test, quantized.buffers, new Map(), { batch: 16, training: false, normalize, int8: quantized.int8 });
    try {
      const linear = linearWeightNames(model).map((name) => name.replace(/\.weight$/, ''));
      expect(linear.length).toBeGreaterThan(2);
      for (const layer of linear) expect(int8.opNames, layer).toContain(`${layer}.int8`);
      const untouched = (names: string[]) => names.filter((n) => !linear.some((l) => n.startsWith(`${l}.`)));
      expect(untouched(int8.opNames)).toEqual(untouched(fp32.opNames));
      expect(() => compileProgram(gpu, model, test, quantized.buffers, new Map(), { batch: 16, training: true, normalize, optimizer: { kind: 'sgd', lr: 0.1 }, int8: quantized.int8 }))
        .toThrow(/int8 weights are for inference programs/);
      const missing = new QuantizedState(gpu, { ...quantizeModel(model, await state.read()), int8: new Map() });
      expect(() => compileProgram(gpu, model, test, missing.buffers, new Map(), { batch: 16, training: false, normalize, int8: missing.int8 }))
        .toThrow(/layer \w+ has no quantized weight/);
      missing.destroy();
    } finally {
      for (const p of [fp32, int8]) for (const b of p.owned) gpu.destroyBuffer(b);
      quantized.destroy();
    }
  });

  it('recovery steps keep pruned weights exactly zero while the rest train', async () => {
    const before = await state.read();
    const masks = pruneModelMasks(model, before, 0.75);
    const recovering = new ModelState(gpu, model, applyMasks(before, masks));
    const trainer = new Trainer(gpu, model, recovering, train, new Map(), {
      batchSize: 32, seed: 3, optimizer: { kind: 'adam', lr: 1e-3 }, normalize, stepsPerEpoch: 20, totalSteps: 20,
    });
    const maskBuffers = keepPrunedAtZero(gpu, trainer, masks);
    try {
      for (let step = 0; step < 20; step++) await trainer.step(range(step * 32, step * 32 + 32));
      const after = await recovering.read();
      const names = linearWeightNames(model);
      let kept = 0, moved = 0;
      for (const name of names) {
        const mask = masks.get(name)!;
        after.get(name)!.forEach((v, i) => {
          if (!mask[i]) expect(v, `${name}[${i}]`).toBe(0);
          else { kept++; if (v !== before.get(name)![i]) moved++; }
        });
      }
      expect(sparsityOf(after, names)).toBeCloseTo(0.75, 2);
      // The kept weights must be training: Adam moves every one with a gradient, which leaves out
      // only those fed by inputs that are always zero (border pixels, units ReLU or pruning silenced).
      expect(moved / kept).toBeGreaterThan(0.5);
    } finally {
      trainer.destroy();
      recovering.destroy();
      for (const b of maskBuffers) gpu.destroyBuffer(b);
    }
  });
});
