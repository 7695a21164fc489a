// Datasets split into shards (GPU buffers of whole samples) when a field passes one storage binding:
// the shard plan, the uploaded shards holding the field's values in order, training on a sharded
// dataset step for step equal to the same run on one buffer, and the refusals naming the field.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../src/gpu/device.ts';
import { readBytes } from '../src/gpu/buffers.ts';
import type { ImageSet } from '../src/data/idx.ts';
import { input } from '../src/layers/layer.ts';
import { Conv2D, Dense, Flatten } from '../src/layers/layers.ts';
import { concat } from '../src/layers/ops.ts';
import { Model, Sequential } from '../src/model/model.ts';
import type { ChannelNormalization, GpuData } from '../src/compiler/program.ts';
import type { AugmentOptions } from '../src/kernels/gather.ts';
import { ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, tensorDataset, uploadDataset, uploadTokens, type FieldData } from '../src/runtime/dataset.ts';
import { MAX_SHARDS, samplesPerShard } from '../src/runtime/dataset-shards.ts';
import { epochPermutation } from '../src/data/split.ts';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { randomArray, rng } from './helpers/random.ts';

const bytesOf = (rng0: () => number, n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng0() * 256));
const idsOf = (rng0: () => number, n: number, below: number) => Uint32Array.from({ length: n }, () => Math.floor(rng0() * below));

function imageSet(count: number, channels: number, rows: number, cols: number, seed: number): ImageSet {
  const next = rng(seed);
  return { count, channels, rows, cols, images: bytesOf(next, count * channels * rows * cols), labels: Uint8Array.from(idsOf(next, count, 4)) };
}

/** A device whose binding limit reads as `bytes`, for limits no test could fill. */
function withBindingLimit(gpu: Gpu, bytes: number): Gpu {
  return Object.create(gpu, { limits: { value: { maxStorageBufferBindingSize: bytes, maxBufferSize: gpu.limits.maxBufferSize } } }) as Gpu;
}

describe('the shard plan', () => {
  it('keeps a field that fits in one shard, and otherwise fills shards of whole samples in whole words', () => {
    expect(samplesPerShard('d', 37, { x: 105 }, 105 * 37 + 3)).toBe(37); // the padded size fits
    expect(samplesPerShard('d', 37, { x: 105 }, 105 * 37)).toBe(37 - 1); // 36·105 bytes: whole words
    expect(samplesPerShard('d', 37, { x: 105 }, 1000)).toBe(8); // 9 fit; 8·105 is whole words
    expect(samplesPerShard('d', 37, { x: 6 }, 100)).toBe(16); // 16 fit, 16·6 is whole words
    expect(samplesPerShard('d', 20, { x: 13 }, 64)).toBe(4);
    // Pixels and labels sharded alike: the tighter of the two decides.
    expect(samplesPerShard('d', 37, { images: 2, labels: 4 }, 64)).toBe(16);
    for (const bytes of [105, 6, 13, 7, 1, 4096]) {
      const limit = Math.floor((1000 * bytes) / 5) + 1; // about five shards
      const perShard = samplesPerShard('d', 1000, { x: bytes }, limit);
      expect((perShard * bytes) % 4, `${bytes} bytes per sample`).toBe(0);
      expect(perShard * bytes).toBeLessThanOrEqual(limit);
      expect(Math.ceil(1000 / perShard)).toBeLessThanOrEqual(6);
    }
  });

  it('refuses a field past its shards, and a sample past one shard, naming the dataset and field', () => {
    expect(() => samplesPerShard('dataset big', 100, { 'field x': 12 }, 64)).toThrow(
      `dataset big: field x holds 1200 bytes (100 samples of 12), which needs 20 shards of at most 64 bytes (this device's storage binding limit, or maxShardBytes); a field may have at most ${MAX_SHARDS} shards, ${MAX_SHARDS * 60} bytes here`);
    expect(() => samplesPerShard('dataset wide', 3, { 'field x': 100 }, 64)).toThrow('dataset wide: one sample of field x is 100 bytes, which does not fit a shard of at most 64 bytes');
  });
});

describe('uploads', () => {
  it('split image pixels and labels alike, each shard within the limit, holding the samples in order', async () => {
    const gpu = await testGpu();
    const set = imageSet(37, 3, 5, 7, 1);
    const data = uploadDataset(gpu, set, 4, 'img', { maxShardBytes: 1000 });
    expect(data.images.samplesPerShard).toBe(8);
    expect(data.images.buffers).toHaveLength(5);
    expect(data.labels.samplesPerShard).toBe(8);
    expect(data.labels.buffers).toHaveLength(5);
    const pixels = new Uint8Array(data.images.buffers.length * 1000);
    let offset = 0;
    for (const buffer of data.images.buffers) {
      expect(buffer.size).toBeLessThanOrEqual(1000);
      pixels.set(new Uint8Array(await readBytes(gpu, buffer)), offset);
      offset += buffer.size;
    }
    expect(Array.from(pixels.subarray(0, set.images.length))).toEqual(Array.from(set.images));
    const labels = (await Promise.all(data.labels.buffers.map(async (b) => Array.from(new Uint32Array(await readBytes(gpu, b)))))).flat();
    expect(labels).toEqual(Array.from(set.labels));
    destroyDataset(gpu, data);
    const small = uploadDataset(gpu, set, 4, 'small');
    expect([small.images.buffers.length, small.labels.buffers.length, small.images.samplesPerShard]).toEqual([1, 1, 37]);
    destroyDataset(gpu, small);
  });

  it('split each tensor field by its own sample size; small fields stay one buffer', async () => {
    const gpu = await testGpu();
    const next = rng(2);
    const n = 29;
    const data = tensorDataset(gpu, {
      a: { data: randomArray(n * 7, 3), shape: [n, 7] }, b: { data: bytesOf(next, n * 12), shape: [n, 2, 3, 2] }, y: { data: idsOf(next, n, 3), shape: [n] },
    }, 'fields', { maxShardBytes: 256 });
    const layout = Object.fromEntries(Object.entries(data.fields).map(([k, f]) => [k, [f.shards.buffers.length, f.shards.samplesPerShard]]));
    expect(layout).toEqual({ a: [4, 9], b: [2, 21], y: [1, n] });
    destroyDataset(gpu, data);
  });

  it('refuse too many shards by dataset and field, a bad maxShardBytes, and a token stream past one binding', async () => {
    const gpu = await testGpu();
    const next = rng(4);
    expect(() => tensorDataset(gpu, { x: { data: randomArray(100 * 3, 5), shape: [100, 3] } }, 'many', { maxShardBytes: 64 }))
      .toThrow(/^dataset many: field x holds 1200 bytes \(100 samples of 12\), which needs 20 shards of at most 64 bytes .* at most 8 shards/);
    expect(() => uploadDataset(gpu, imageSet(100, 1, 4, 4, 6), 4, 'pics', { maxShardBytes: 64 }))
      .toThrow(/^dataset pics: images holds 1600 bytes \(100 samples of 16\), which needs 25 shards of at most 64 bytes/);
    expect(() => tensorDataset(gpu, { x: { data: bytesOf(next, 10), shape: [10, 1] } }, 'd', { maxShardBytes: 2 })).toThrow('maxShardBytes must be an integer of at least 4, got 2');
    const tokens = idsOf(next, 40, 5);
    expect(() => uploadTokens(withBindingLimit(gpu, 128), tokens, { vocab: 5, context: 4, name: 'text' }))
      .toThrow("dataset text: 40 tokens are 160 bytes, more than this device's storage binding limit of 128 bytes; a token stream is one buffer, 32 tokens at most");
  });
});

/** The mean loss read after each step, the final weights and the device work of the steps, for one Trainer run over `order`. */
async function trainRun(gpu: Gpu, model: Model, data: GpuData, o: { batch: number; steps: number; order: Uint32Array; normalize?: ChannelNormalization; augment?: AugmentOptions }) {
  const state = new ModelState(gpu, model, model.initialValues(3));
  const trainer = new Trainer(gpu, model, state, data, new Map(), {
    batchSize: o.batch, seed: 9, optimizer: { kind: 'adam', lr: 0.01 }, stepsPerEpoch: o.steps, totalSteps: o.steps,
    ...(o.normalize ? { normalize: o.normalize } : {}), ...(o.augment ? { augment: o.augment } : {}),
  });
  const losses: number[] = [];
  const work = { submits: 0, created: 0 };
  for (let s = 0; s < o.steps; s++) {
    const step = await countDeviceWork(gpu, () => trainer.step(o.order.subarray(s * o.batch, (s + 1) * o.batch)));
    work.submits += step.submits;
    work.created += step.created;
    losses.push((await trainer.totals()).loss);
  }
  const weights = await state.read();
  trainer.destroy(); state.destroy();
  return { losses, weights, work, dispatches: trainer.program.dispatches.length };
}

describe('training on a sharded dataset equals the same run on one buffer', () => {
  const MNIST_LIKE: AugmentOptions = { maxRotationDegrees: 15, maxTranslatePixels: 1, minScale: 0.9, maxScale: 1.1 };

  async function expectSameRun(gpu: Gpu, model: Model, upload: (o: { maxShardBytes?: number }) => GpuData, shardBytes: number, o: { batch: number; steps: number; normalize?: ChannelNormalization; augment?: AugmentOptions }, extraDispatches: number) {
    const whole = upload({}), sharded = upload({ maxShardBytes: shardBytes });
    const order = epochPermutation(whole.count, 11, 0).subarray(0, o.batch * o.steps);
    const a = await trainRun(gpu, model, whole, { ...o, order });
    const b = await trainRun(gpu, model, sharded, { ...o, order });
    expect(b.losses).toEqual(a.losses);
    for (const [name, value] of a.weights) expect(Array.from(b.weights.get(name)!), name).toEqual(Array.from(value));
    expect(b.work, 'one submit per step, nothing created while training').toEqual({ submits: o.steps, created: 0 });
    expect(b.dispatches - a.dispatches, 'one more gather dispatch per extra shard').toBe(extraDispatches);
    destroyDataset(gpu, whole); destroyDataset(gpu, sharded);
  }

  const imageModel = () => new Sequential([3, 5, 7], [new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }), new Flatten(), new Dense({ units: 4 })]);

  it('images with one mean and std, plain and augmenting (pixels and labels in 5 shards)', async () => {
    const gpu = await testGpu();
    const set = imageSet(37, 3, 5, 7, 7);
    const upload = (o: { maxShardBytes?: number }) => uploadDataset(gpu, set, 4, 'img', o);
    await expectSameRun(gpu, imageModel(), upload, 1000, { batch: 12, steps: 3, normalize: { mean: 0.4, std: 0.3 } }, 4);
    await expectSameRun(gpu, imageModel(), upload, 1000, { batch: 12, steps: 3, normalize: { mean: 0.4, std: 0.3 }, augment: MNIST_LIKE }, 4);
  });

  it('images normalized per channel (pixels and labels gathered apart, 5 shards each)', async () => {
    const gpu = await testGpu();
    const set = imageSet(37, 3, 5, 7, 8);
    const upload = (o: { maxShardBytes?: number }) => uploadDataset(gpu, set, 4, 'img', o);
    await expectSameRun(gpu, imageModel(), upload, 1000, { batch: 12, steps: 3, normalize: { mean: [0.2, 0.5, 0.7], std: [0.3, 0.2, 0.4] } }, 8);
  });

  it('a tensor dataset of f32, u8 (per channel) and u32 fields, each in its own number of shards', async () => {
    const gpu = await testGpu();
    const next = rng(12);
    const n = 29;
    const fields: Record<string, FieldData> = {
      a: { data: randomArray(n * 7, 13), shape: [n, 7] }, b: { data: bytesOf(next, n * 12), shape: [n, 2, 3, 2] }, y: { data: idsOf(next, n, 3), shape: [n] },
    };
    const a = input([7], { name: 'a' }), b = input([2, 3, 2], { name: 'b' });
    const model = new Model({ inputs: [a, b], outputs: new Dense({ units: 3 }).apply(concat([new Dense({ units: 5, activation: 'relu' }).apply(a), new Flatten().apply(b)])) });
    const upload = (o: { maxShardBytes?: number }) => tensorDataset(gpu, fields, 'fields', o);
    // a: 4 shards, b: 2, y: 1 → 3 + 1 more dispatches.
    await expectSameRun(gpu, model, upload, 256, { batch: 9, steps: 3, normalize: { mean: [0.3, 0.6], std: [0.2, 0.25] } }, 4);
  });
});
