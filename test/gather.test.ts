import { describe, expect, it } from 'vitest';
import { readFloat32, readUint32, runDispatches, storageBuffer, uploadBuffer, writeBuffer } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { channelScaling, gatherBatch, gatherRows, gatherScaledBytes, gatherTokens, packBytes, type AugmentOptions } from '../src/kernels/gather.ts';
import { uploadShards } from '../src/runtime/dataset-shards.ts';
import { testGpu } from './helpers/gpu.ts';
import { rng } from './helpers/random.ts';
import { augmentDraw, gatherAugmentReference, gatherReference, gatherRowsReference, gatherScaledBytesReference, gatherTokensReference, scaleF32, type Dataset } from './reference/gather.ts';

const COUNT = 37;
// (channels, height, width): MNIST, odd pixel counts that split images mid-word, a single pixel,
// a single row, and three-channel images.
const SHAPES: [number, number, number][] = [[1, 28, 28], [1, 5, 7], [1, 1, 1], [1, 1, 3], [3, 17, 13]];
const NORMALIZATIONS = [{ mean: 0, std: 1 }, { mean: 0.1307, std: 0.3081 }, { mean: 0.5, std: 0.5 }];
const MNIST_AUGMENT: AugmentOptions = { maxRotationDegrees: 15, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 };
const STRONG_AUGMENT: AugmentOptions = { maxRotationDegrees: 60, maxTranslatePixels: 5, minScale: 0.6, maxScale: 1.4 };
const IDENTITY: AugmentOptions = { maxRotationDegrees: 0, maxTranslatePixels: 0, minScale: 1, maxScale: 1 };
const GUARD = 256;
const SENTINEL = -9.5;

function randomDataset(channels: number, height: number, width: number, seed: number): Dataset {
  const next = rng(seed);
  const images = Uint8Array.from({ length: COUNT * channels * height * width }, () => Math.floor(next() * 256));
  const labels = Uint8Array.from({ length: COUNT }, () => Math.floor(next() * 10));
  return { images, labels, channels, height, width };
}

/** Random rows that always include the first and the last image (whose bytes end mid-word). */
function batchIndices(batch: number, seed: number): Uint32Array {
  const next = rng(seed);
  const indices = Uint32Array.from({ length: batch }, () => Math.floor(next() * COUNT));
  indices[0] = COUNT - 1;
  if (batch > 1) indices[batch - 1] = 0;
  return indices;
}

interface Run { x: Float32Array; y: Uint32Array }

/**
 * Runs gatherBatch with x bound inside a bigger buffer between sentinels, checking they survive;
 * with `perShard`, the images and labels lie in shards of that many samples.
 */
async function runGather(gpu: Gpu, d: Dataset, indices: Uint32Array, norm: { mean: number; std: number }, augment?: { options: AugmentOptions; seed: number; step: number }, perShard?: number): Promise<Run> {
  const total = indices.length * d.channels * d.height * d.width;
  const count = d.labels.length;
  const images = perShard ? uploadShards(gpu, d.images, count, perShard, 'images') : uploadBuffer(gpu, packBytes(d.images), 'images');
  const labels = perShard ? uploadShards(gpu, Uint32Array.from(d.labels), count, perShard, 'labels') : uploadBuffer(gpu, Uint32Array.from(d.labels), 'labels');
  const indexBuffer = uploadBuffer(gpu, indices, 'indices');
  const xBuffer = storageBuffer(gpu, GUARD + total * 4 + GUARD, 'x');
  writeBuffer(gpu, xBuffer, new Float32Array(xBuffer.size / 4).fill(SENTINEL));
  const y = storageBuffer(gpu, indices.length * 4, 'y');
  const seed = augment ? uploadBuffer(gpu, new Uint32Array([augment.seed, augment.step]), 'seed') : undefined;
  await runDispatches(gpu, gatherBatch(gpu, {
    images, labels, indices: indexBuffer, x: { buffer: xBuffer, offset: GUARD, size: total * 4 }, y,
    batch: indices.length, channels: d.channels, height: d.height, width: d.width, ...norm,
    ...(augment ? { augment: augment.options, seed: seed! } : {}),
  }));
  const all = await readFloat32(gpu, xBuffer);
  const result = { x: all.slice(GUARD / 4, GUARD / 4 + total), y: await readUint32(gpu, y) };
  const outside = [...all.subarray(0, GUARD / 4), ...all.subarray(GUARD / 4 + total)];
  expect(outside.every((v) => v === SENTINEL), 'nothing written outside x').toBe(true);
  const dataBuffers = [images, labels].flatMap((source) => ('samplesPerShard' in source ? source.buffers : [source]));
  for (const b of [...dataBuffers, indexBuffer, xBuffer, y, ...(seed ? [seed] : [])]) gpu.destroyBuffer(b);
  return result;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('packBytes', () => {
  it('packs u8 four per u32, little-endian, zero-padded', () => {
    expect(Array.from(packBytes(Uint8Array.from([1, 2, 3, 4, 5])))).toEqual([0x04030201, 5]);
    for (let n = 0; n < 10; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => 250 - i);
      const packed = packBytes(bytes);
      expect(packed.length).toBe(Math.ceil(n / 4));
      expect(Array.from(new Uint8Array(packed.buffer).subarray(0, n))).toEqual(Array.from(bytes));
    }
  });
});

describe('gatherBatch, plain', () => {
  it('matches the CPU reference bit for bit over shapes, batches and normalizations', async () => {
    const gpu = await testGpu();
    for (const [s, [channels, height, width]] of SHAPES.entries()) {
      const d = randomDataset(channels, height, width, 100 + s);
      for (const batch of [1, 13, 64]) {
        for (const norm of NORMALIZATIONS) {
          const indices = batchIndices(batch, batch * 7 + s);
          const got = await runGather(gpu, d, indices, norm);
          const expected = gatherReference(d, indices, norm.mean, norm.std);
          const label = `${channels}×${height}×${width}, batch ${batch}, mean ${norm.mean}`;
          expect(Array.from(got.x), label).toEqual(Array.from(expected.x));
          expect(Array.from(got.y), label).toEqual(Array.from(expected.y));
        }
      }
    }
    gpu.check();
  });

  it('the f32 scaling it mirrors stays within two roundings of (u8/255 − mean)/std', () => {
    for (const { mean, std } of NORMALIZATIONS) {
      for (let v = 0; v <= 255; v++) {
        const exact = (v / 255 - mean) / std;
        expect(Math.abs(scaleF32(v, mean, std) - exact)).toBeLessThanOrEqual(4 * 2 ** -24 * Math.max(Math.abs(exact), 1 / std));
      }
    }
  });
});

describe('gatherBatch, augmenting', () => {
  it('matches its float64 CPU twin drawn from the same RNG', async () => {
    const gpu = await testGpu();
    // The kernel computes source coordinates in f32 (≈ 28·2^-24 px error, plus llvmpipe's sin/cos
    // within a few ulps) and blends bytes with weights of that accuracy; bilinear slopes are at most
    // 255 per pixel, so values move by ~1e-6 of full scale (measured: ≤ 9e-7). A wrong draw, axis or
    // sign moves values by tenths. (WGSL allows sin/cos 2^-11 absolute error; a device using all of
    // it would need ~1e-2 here.)
    const tolerance = 1e-5;
    for (const [s, [channels, height, width]] of SHAPES.entries()) {
      const d = randomDataset(channels, height, width, 200 + s);
      for (const options of [MNIST_AUGMENT, STRONG_AUGMENT]) {
        for (const batch of [1, 13]) {
          const indices = batchIndices(batch, batch + s);
          const norm = NORMALIZATIONS[(s + batch) % NORMALIZATIONS.length]!;
          const got = await runGather(gpu, d, indices, norm, { options, seed: 1234 + s, step: 17 });
          const expected = gatherAugmentReference(d, indices, norm.mean, norm.std, 1234 + s, 17, options);
          const fullScale = 1 / norm.std;
          expect(maxAbsDifference(got.x, expected.x) / fullScale, `${channels}×${height}×${width}, batch ${batch}`).toBeLessThanOrEqual(tolerance);
          expect(Array.from(got.y)).toEqual(Array.from(indices, (i) => d.labels[i]!));
        }
      }
    }
  });

  it('equals the plain gather exactly at zero strength', async () => {
    const gpu = await testGpu();
    for (const [s, [channels, height, width]] of SHAPES.entries()) {
      const d = randomDataset(channels, height, width, 300 + s);
      for (const norm of NORMALIZATIONS) {
        const indices = batchIndices(13, s);
        const plain = await runGather(gpu, d, indices, norm);
        const identity = await runGather(gpu, d, indices, norm, { options: IDENTITY, seed: 99, step: 3 });
        expect(Array.from(identity.x), `${channels}×${height}×${width}`).toEqual(Array.from(plain.x));
        expect(Array.from(identity.y)).toEqual(Array.from(plain.y));
      }
    }
  });

  it('keeps values in [0, 1] before scaling, with zeros brought in from outside the image', async () => {
    const gpu = await testGpu();
    // Saturated images are the hardest case for the upper bound: every blend is of 255s.
    const d: Dataset = { ...randomDataset(1, 28, 28, 400), images: new Uint8Array(COUNT * 784).fill(255) };
    const got = await runGather(gpu, d, batchIndices(64, 1), { mean: 0, std: 1 }, { options: STRONG_AUGMENT, seed: 5, step: 1 });
    let min = Infinity, max = -Infinity;
    for (const v of got.x) { min = Math.min(min, v); max = Math.max(max, v); }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it('is a pure function of (seed, step, row): repeatable, and different for other steps, seeds and rows', async () => {
    const gpu = await testGpu();
    const d = randomDataset(1, 28, 28, 500);
    // Every row gathers the same image, so differences between rows come from the transforms alone.
    const indices = new Uint32Array(8).fill(3);
    const norm = { mean: 0, std: 1 };
    const first = await runGather(gpu, d, indices, norm, { options: MNIST_AUGMENT, seed: 42, step: 7 });
    const again = await runGather(gpu, d, indices, norm, { options: MNIST_AUGMENT, seed: 42, step: 7 });
    const nextStep = await runGather(gpu, d, indices, norm, { options: MNIST_AUGMENT, seed: 42, step: 8 });
    const otherSeed = await runGather(gpu, d, indices, norm, { options: MNIST_AUGMENT, seed: 43, step: 7 });
    expect(Array.from(again.x)).toEqual(Array.from(first.x));
    const rowOf = (r: Run, row: number): Float32Array => r.x.subarray(row * 784, (row + 1) * 784);
    for (let row = 0; row < 8; row++) {
      expect(maxAbsDifference(rowOf(nextStep, row), rowOf(first, row)), `row ${row}, next step`).toBeGreaterThan(0.05);
      expect(maxAbsDifference(rowOf(otherSeed, row), rowOf(first, row)), `row ${row}, other seed`).toBeGreaterThan(0.05);
      for (let other = 0; other < row; other++) {
        expect(maxAbsDifference(rowOf(first, row), rowOf(first, other)), `rows ${other} and ${row}`).toBeGreaterThan(0.05);
      }
    }
  });

  it('rotates a vertical "1" stroke by the drawn angle, counter-clockwise positive', async () => {
    const gpu = await testGpu();
    const size = 28;
    const stroke = new Uint8Array(size * size);
    for (let yy = 4; yy < 24; yy++) for (const xx of [13, 14]) stroke[yy * size + xx] = 255;
    const d: Dataset = { images: stroke, labels: new Uint8Array([1]), channels: 1, height: size, width: size };
    const rotateOnly: AugmentOptions = { maxRotationDegrees: 40, maxTranslatePixels: 0, minScale: 1, maxScale: 1 };
    const batch = 16, seed = 2024, step = 1;
    const got = await runGather(gpu, d, new Uint32Array(batch), { mean: 0, std: 1 }, { options: rotateOnly, seed, step });
    const centre = (size - 1) / 2;
    let checkedBothSigns = 0;
    for (let row = 0; row < batch; row++) {
      // Principal axis from second moments about the image centre (x right, y down): a stroke along
      // (sin θ, cos θ) — its top end moved left for θ > 0 — gives ½·atan2(2cxy, cyy − cxx) = θ.
      let cxx = 0, cyy = 0, cxy = 0, topX = 0, topMass = 0;
      for (let yy = 0; yy < size; yy++) {
        for (let xx = 0; xx < size; xx++) {
          const w = got.x[row * size * size + yy * size + xx]!;
          const dx = xx - centre, dy = yy - centre;
          cxx += w * dx * dx; cyy += w * dy * dy; cxy += w * dx * dy;
          if (dy < 0) { topX += w * dx; topMass += w; }
        }
      }
      const measured = 0.5 * Math.atan2(2 * cxy, cyy - cxx);
      const drawn = augmentDraw(seed, step, row, rotateOnly).angle;
      const degrees = 180 / Math.PI;
      expect(Math.abs(measured - drawn) * degrees, `row ${row}: drawn ${drawn * degrees}°`).toBeLessThan(1.5);
      if (Math.abs(drawn) * degrees > 10) {
        expect(Math.sign(topX / topMass), `row ${row}: top of the stroke moves against the angle's sign`).toBe(-Math.sign(drawn));
        checkedBothSigns |= drawn > 0 ? 1 : 2;
      }
    }
    expect(checkedBothSigns, 'the draws include clear rotations both ways').toBe(3);
  });
});

describe('gatherBatch, validation', () => {
  it('names the tensor that exceeds the storage binding limit, and checks sizes and options', async () => {
    const gpu = await testGpu();
    const b = storageBuffer(gpu, 4096, 'b');
    const base = { images: b, labels: b, indices: b, x: b, y: b, batch: 2, height: 4, width: 4, mean: 0, std: 1 };
    const huge = { buffer: b, size: gpu.limits.maxStorageBufferBindingSize + 4 };
    expect(() => gatherBatch(gpu, { ...base, images: huge })).toThrow(/"images".*storage binding limit/);
    expect(() => gatherBatch(gpu, { ...base, x: { buffer: b, offset: 256, size: 64 } })).toThrow(/"x" holds 64 bytes; this batch needs 128/);
    expect(() => gatherBatch(gpu, { ...base, seed: b })).toThrow(/seed buffer is needed iff augment/);
    expect(() => gatherBatch(gpu, { ...base, augment: MNIST_AUGMENT })).toThrow(/seed buffer is needed iff augment/);
    expect(() => gatherBatch(gpu, { ...base, augment: { ...MNIST_AUGMENT, minScale: 0 }, seed: b })).toThrow(/minScale/);
    expect(() => gatherBatch(gpu, { ...base, std: 0 })).toThrow(/std > 0/);
    gpu.destroyBuffer(b);
  });
});

describe('gatherTokens', () => {
  // (stream length, batch, context): windows ending on the last token, a context of 1, one window,
  // and more positions than one workgroup over a stream past a whole number of workgroups.
  const CASES: [number, number, number][] = [[20, 3, 8], [2, 1, 1], [9, 1, 8], [1000, 37, 65], [5000, 64, 33]];

  it.each(CASES)('a %i-token stream, batch %i, context %i: windows and next-token targets exactly', async (count, batch, context) => {
    const gpu = await testGpu();
    const next = rng(count + batch);
    const stream = Uint32Array.from({ length: count }, () => Math.floor(next() * 70_000));
    const starts = Uint32Array.from({ length: batch }, () => Math.floor(next() * (count - context)));
    starts[0] = count - context - 1; // the last window: its final target is the stream's last token
    const tokens = uploadBuffer(gpu, stream, 'tokens');
    const startBuffer = uploadBuffer(gpu, starts, 'starts');
    const total = batch * context;
    const x = storageBuffer(gpu, GUARD + total * 4 + GUARD, 'x');
    writeBuffer(gpu, x, new Uint32Array(x.size / 4).fill(0xdeadbeef));
    const y = storageBuffer(gpu, total * 4, 'y');
    await runDispatches(gpu, gatherTokens(gpu, { tokens, count, starts: startBuffer, x: { buffer: x, offset: GUARD, size: total * 4 }, y, batch, context }));
    const expected = gatherTokensReference(stream, starts, context);
    const gotX = await readUint32(gpu, x, x.size / 4);
    expect(gotX.subarray(GUARD / 4, GUARD / 4 + total)).toEqual(expected.x);
    expect(gotX.subarray(0, GUARD / 4).every((v) => v === 0xdeadbeef), 'before x untouched').toBe(true);
    expect(gotX.subarray(GUARD / 4 + total).every((v) => v === 0xdeadbeef), 'after x untouched').toBe(true);
    expect(await readUint32(gpu, y, total)).toEqual(expected.y);
    expect(expected.y[context - 1]).toBe(stream[count - 1]);
    for (const b of [tokens, startBuffer, x, y]) gpu.destroyBuffer(b);
  });

  it('checks sizes by name', async () => {
    const gpu = await testGpu();
    const b = storageBuffer(gpu, 4096, 'b');
    const base = { tokens: b, count: 100, starts: b, x: b, y: b, batch: 2, context: 8 };
    expect(() => gatherTokens(gpu, { ...base, context: 0 })).toThrow('gatherTokens: context must be a positive integer, got 0');
    expect(() => gatherTokens(gpu, { ...base, count: 8 })).toThrow('a stream of 8 tokens holds no window of context 8 plus its next token');
    expect(() => gatherTokens(gpu, { ...base, y: { buffer: b, offset: 0, size: 32 } })).toThrow('gatherTokens: tensor "y" holds 32 bytes; this batch needs 64');
    expect(() => gatherTokens(gpu, { ...base, count: 2000 })).toThrow('gatherTokens: tensor "tokens" holds 4096 bytes; this batch needs 8000');
    gpu.destroyBuffer(b);
  });
});

describe('field gathers (named-tensor datasets)', () => {
  // (samples, values per sample, channels): one value, odd widths that end mid-word, three planes.
  const CASES: [number, number, number][] = [[37, 1, 1], [37, 13, 1], [5, 7, 1], [19, 3 * 5 * 7, 3], [11, 2 * 9, 2]];

  it.each(CASES)('gatherRows copies f32 and u32 rows exactly: %i samples × %i', async (count, width) => {
    const gpu = await testGpu();
    const next = rng(count * 31 + width);
    const floats = Float32Array.from({ length: count * width }, () => next() * 200 - 100);
    const ids = Uint32Array.from({ length: count * width }, () => Math.floor(next() * 2 ** 32));
    const rows = Uint32Array.from({ length: 23 }, () => Math.floor(next() * count));
    rows[0] = count - 1;
    for (const source of [floats, ids]) {
      const src = uploadBuffer(gpu, source, 'field'), idx = uploadBuffer(gpu, rows, 'rows');
      const out = storageBuffer(gpu, rows.length * width * 4, 'out');
      await runDispatches(gpu, gatherRows(gpu, { source: src, indices: idx, out, batch: rows.length, width }));
      const got = source instanceof Float32Array ? await readFloat32(gpu, out) : await readUint32(gpu, out);
      expect(Array.from(got)).toEqual(Array.from(gatherRowsReference(source, rows, width)));
      for (const b of [src, idx, out]) gpu.destroyBuffer(b);
    }
  });

  it.each(CASES)('gatherScaledBytes scales u8 per channel plane, bit for bit: %i samples × %i in %i planes', async (count, width, channels) => {
    const gpu = await testGpu();
    const next = rng(count * 7 + width);
    const bytes = Uint8Array.from({ length: count * width }, () => Math.floor(next() * 256));
    const rows = Uint32Array.from({ length: 9 }, () => Math.floor(next() * count));
    rows[0] = count - 1;
    const mean = Array.from({ length: channels }, (_, c) => 0.1 + 0.2 * c), std = Array.from({ length: channels }, (_, c) => 0.3 + 0.1 * c);
    const src = uploadBuffer(gpu, packBytes(bytes), 'field'), idx = uploadBuffer(gpu, rows, 'rows');
    const scaling = uploadBuffer(gpu, channelScaling(mean, std), 'scaling');
    const out = storageBuffer(gpu, rows.length * width * 4, 'out');
    await runDispatches(gpu, gatherScaledBytes(gpu, { source: src, indices: idx, out, batch: rows.length, width, channels, scaling }));
    expect(Array.from(await readFloat32(gpu, out))).toEqual(Array.from(gatherScaledBytesReference(bytes, rows, width, mean, std)));
    for (const b of [src, idx, out, scaling]) gpu.destroyBuffer(b);
  });

  it('refuses planes that do not divide the row and a std that is not positive', async () => {
    const gpu = await testGpu();
    const b = storageBuffer(gpu, 64, 'b');
    expect(() => gatherScaledBytes(gpu, { source: b, indices: b, out: b, batch: 1, width: 5, channels: 2, scaling: b })).toThrow(/5 values per sample do not split into 2 channel planes/);
    expect(() => channelScaling([0, 0], [1, 0])).toThrow(/channel 1 needs a finite mean and std > 0/);
    expect(() => channelScaling([0], [1, 1])).toThrow(/one value per channel/);
    gpu.destroyBuffer(b);
  });
});

describe('sharded datasets: one dispatch per shard, each writing the rows that fall in it', () => {
  // Shards of 8 and 12 samples over 37 (neither divides it; the last shard holds 5 or 1), and of
  // one sample each; batches in random order that reach every shard.
  const PER_SHARD = [8, 12, 1];
  const shardCount = (perShard: number) => Math.ceil(COUNT / perShard);

  /** Random rows that reach every shard at least once. */
  function spanningIndices(batch: number, perShard: number, seed: number): Uint32Array {
    const indices = batchIndices(batch, seed);
    for (let k = 0; k < shardCount(perShard) && k < batch; k++) indices[(k * 7) % batch] = Math.min(COUNT - 1, k * perShard + (seed % perShard));
    const reached = new Set(Array.from(indices, (i) => Math.floor(i / perShard)));
    expect(reached.size, `batch of ${batch} reaches all ${shardCount(perShard)} shards`).toBe(shardCount(perShard));
    return indices;
  }

  it('gatherBatch, plain and augmenting, equals the unsharded gather bit for bit', async () => {
    const gpu = await testGpu();
    for (const [s, [channels, height, width]] of [[1, 5, 7], [3, 17, 13], [1, 1, 1]].entries()) {
      const d = randomDataset(channels!, height!, width!, 600 + s);
      for (const perShard of PER_SHARD) {
        const indices = spanningIndices(64, perShard, s + perShard);
        const norm = NORMALIZATIONS[s % NORMALIZATIONS.length]!;
        const label = `${channels}×${height}×${width} in shards of ${perShard}`;
        const sharded = await runGather(gpu, d, indices, norm, undefined, perShard);
        const expected = gatherReference(d, indices, norm.mean, norm.std);
        expect(Array.from(sharded.x), label).toEqual(Array.from(expected.x));
        expect(Array.from(sharded.y), label).toEqual(Array.from(expected.y));
        const augment = { options: STRONG_AUGMENT, seed: 77 + s, step: 5 };
        const augmented = await runGather(gpu, d, indices, norm, augment, perShard);
        const whole = await runGather(gpu, d, indices, norm, augment);
        expect(Array.from(augmented.x), `${label}, augmenting`).toEqual(Array.from(whole.x));
        expect(Array.from(augmented.y), `${label}, augmenting`).toEqual(Array.from(expected.y));
      }
    }
    gpu.check();
  });

  it('records one dispatch per shard, and one for a single buffer', async () => {
    const gpu = await testGpu();
    const d = randomDataset(1, 5, 7, 700);
    const images = uploadShards(gpu, d.images, COUNT, 12, 'images'), labels = uploadShards(gpu, Uint32Array.from(d.labels), COUNT, 12, 'labels');
    const b = storageBuffer(gpu, 64 * 35 * 4, 'b');
    const io = { indices: b, x: b, y: b, batch: 2, height: 5, width: 7, mean: 0, std: 1 };
    expect(gatherBatch(gpu, { ...io, images, labels })).toHaveLength(4);
    expect(gatherBatch(gpu, { ...io, images: images.buffers[0]!, labels: labels.buffers[0]! })).toHaveLength(1);
    expect(gatherRows(gpu, { source: labels, indices: b, out: b, batch: 2, width: 1 })).toHaveLength(4);
    const other = uploadShards(gpu, Uint32Array.from(d.labels), COUNT, 8, 'labels');
    expect(() => gatherBatch(gpu, { ...io, images, labels: other })).toThrow('gatherBatch: labels must be sharded as the images are (4 shards of 12), got 5 of 8');
    expect(() => gatherRows(gpu, { source: { buffers: [], samplesPerShard: 3 }, indices: b, out: b, batch: 2, width: 1 })).toThrow(/gatherRows: tensor "source" needs at least one shard/);
    for (const buffer of [...images.buffers, ...labels.buffers, ...other.buffers, b]) gpu.destroyBuffer(buffer);
  });

  it.each(PER_SHARD)('gatherRows (f32 and u32) and gatherScaledBytes (per channel) in shards of %i equal the CPU reference bit for bit', async (perShard) => {
    const gpu = await testGpu();
    const [width, channels] = [3 * 5, 3];
    const next = rng(800 + perShard);
    const floats = Float32Array.from({ length: COUNT * width }, () => next() * 200 - 100);
    const ids = Uint32Array.from({ length: COUNT * width }, () => Math.floor(next() * 2 ** 32));
    const bytes = Uint8Array.from({ length: COUNT * width }, () => Math.floor(next() * 256));
    const rows = spanningIndices(41, perShard, perShard);
    const idx = uploadBuffer(gpu, rows, 'rows'), out = storageBuffer(gpu, rows.length * width * 4, 'out');
    for (const source of [floats, ids]) {
      const shards = uploadShards(gpu, source, COUNT, perShard, 'field');
      await runDispatches(gpu, gatherRows(gpu, { source: shards, indices: idx, out, batch: rows.length, width }));
      const got = source instanceof Float32Array ? await readFloat32(gpu, out) : await readUint32(gpu, out);
      expect(Array.from(got), source.constructor.name).toEqual(Array.from(gatherRowsReference(source, rows, width)));
      shards.buffers.forEach((b) => gpu.destroyBuffer(b));
    }
    const mean = [0.1, 0.5, 0.9], std = [0.2, 0.3, 0.4];
    const shards = uploadShards(gpu, bytes, COUNT, perShard, 'bytes');
    const scaling = uploadBuffer(gpu, channelScaling(mean, std), 'scaling');
    await runDispatches(gpu, gatherScaledBytes(gpu, { source: shards, indices: idx, out, batch: rows.length, width, channels, scaling }));
    expect(Array.from(await readFloat32(gpu, out))).toEqual(Array.from(gatherScaledBytesReference(bytes, rows, width, mean, std)));
    for (const b of [...shards.buffers, idx, out, scaling]) gpu.destroyBuffer(b);
  });
});
