// Batch gather benchmark on MNIST-sized data (60 000 × 28×28 u8 resident on the GPU, batch 64 and
// 256): the plain gather and the gather with fused random-affine augmentation; and the token gather
// cutting next-token windows from a Moby-Dick-sized stream (1.2 M u32 ids); and the field gathers of
// named-tensor datasets: the same images scaled per channel plane, and rows of 13 f32 features; and
// the plain gather from the same images split into 1, 2 and 4 shards (one dispatch per shard).
// `npx tsx bench/gather.ts` prints a table and writes bench/results/gather.json.
import { writeFileSync } from 'node:fs';
import { rng } from '../test/helpers/random.ts';
import { timeDispatches } from './helpers/time.ts';
import { createGpu, storageBuffer, uploadBuffer, uploadDataset, destroyDataset, gatherBatch, gatherTokens, gatherRows, gatherScaledBytes, channelScaling, packBytes, type AugmentOptions } from 'webgrad';

const COUNT = 60_000, HEIGHT = 28, WIDTH = 28;
const STREAM = 1_200_000, VOCAB = 83;
const AUGMENT: AugmentOptions = { maxRotationDegrees: 15, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 };

const gpu = await createGpu();
const next = rng(1);
const pixelBytes = Uint8Array.from({ length: COUNT * HEIGHT * WIDTH }, () => Math.floor(next() * 256));
const labelIds = Uint32Array.from({ length: COUNT }, () => Math.floor(next() * 10));
const images = uploadBuffer(gpu, packBytes(pixelBytes), 'images');
const labels = uploadBuffer(gpu, labelIds, 'labels');
const seed = uploadBuffer(gpu, new Uint32Array([7, 1]), 'seed');

const rows: { batch: number; plainMs: number; augmentMs: number }[] = [];
for (const batch of [64, 256]) {
  const indices = uploadBuffer(gpu, Uint32Array.from({ length: batch }, () => Math.floor(next() * COUNT)), 'indices');
  const x = storageBuffer(gpu, batch * HEIGHT * WIDTH * 4, 'x'), y = storageBuffer(gpu, batch * 4, 'y');
  const io = { images, labels, indices, x, y, batch, height: HEIGHT, width: WIDTH, mean: 0.1307, std: 0.3081 };
  const plainMs = await timeDispatches(gpu, gatherBatch(gpu, io), 20);
  const augmentMs = await timeDispatches(gpu, gatherBatch(gpu, { ...io, augment: AUGMENT, seed }), 20);
  rows.push({ batch, plainMs, augmentMs });
  for (const b of [indices, x, y]) gpu.destroyBuffer(b);
}

const stream = uploadBuffer(gpu, Uint32Array.from({ length: STREAM }, () => Math.floor(next() * VOCAB)), 'tokens');
const tokenRows: { batch: number; context: number; ms: number }[] = [];
for (const [batch, context] of [[16, 64], [64, 256]] as const) {
  const starts = uploadBuffer(gpu, Uint32Array.from({ length: batch }, () => Math.floor(next() * (STREAM - context))), 'starts');
  const x = storageBuffer(gpu, batch * context * 4, 'x'), y = storageBuffer(gpu, batch * context * 4, 'y');
  tokenRows.push({ batch, context, ms: await timeDispatches(gpu, gatherTokens(gpu, { tokens: stream, count: STREAM, starts, x, y, batch, context }), 20) });
  for (const b of [starts, x, y]) gpu.destroyBuffer(b);
}

const features = uploadBuffer(gpu, Float32Array.from({ length: COUNT * 13 }, () => next()), 'features');
const scaling = uploadBuffer(gpu, channelScaling([0.1307], [0.3081]), 'scaling');
const fieldRows: { batch: number; scaledBytesMs: number; featureRowsMs: number }[] = [];
for (const batch of [64, 256]) {
  const indices = uploadBuffer(gpu, Uint32Array.from({ length: batch }, () => Math.floor(next() * COUNT)), 'indices');
  const x = storageBuffer(gpu, batch * HEIGHT * WIDTH * 4, 'x'), f = storageBuffer(gpu, batch * 13 * 4, 'f');
  const scaledBytesMs = await timeDispatches(gpu, gatherScaledBytes(gpu, { source: images, indices, out: x, batch, width: HEIGHT * WIDTH, channels: 1, scaling }), 20);
  const featureRowsMs = await timeDispatches(gpu, gatherRows(gpu, { source: features, indices, out: f, batch, width: 13 }), 20);
  fieldRows.push({ batch, scaledBytesMs, featureRowsMs });
  for (const b of [indices, x, f]) gpu.destroyBuffer(b);
}

const set = { count: COUNT, rows: HEIGHT, cols: WIDTH, images: pixelBytes, labels: Uint8Array.from(labelIds) };
const shardRows: { batch: number; shards: number; plainMs: number }[] = [];
for (const shards of [1, 2, 4]) {
  const data = uploadDataset(gpu, set, 10, 'sharded', { maxShardBytes: (COUNT / shards) * HEIGHT * WIDTH });
  for (const batch of [64, 256]) {
    const indices = uploadBuffer(gpu, Uint32Array.from({ length: batch }, () => Math.floor(next() * COUNT)), 'indices');
    const x = storageBuffer(gpu, batch * HEIGHT * WIDTH * 4, 'x'), y = storageBuffer(gpu, batch * 4, 'y');
    const io = { images: data.images, labels: data.labels, indices, x, y, batch, height: HEIGHT, width: WIDTH, mean: 0.1307, std: 0.3081 };
    shardRows.push({ batch, shards: data.images.buffers.length, plainMs: await timeDispatches(gpu, gatherBatch(gpu, io), 20) });
    for (const b of [indices, x, y]) gpu.destroyBuffer(b);
  }
  destroyDataset(gpu, data);
}

console.log(`adapter: ${gpu.describe()}`);
console.log('batch | plain gather ms | augmenting gather ms');
for (const r of rows) console.log(`${String(r.batch).padStart(5)} | ${r.plainMs.toFixed(3).padStart(15)} | ${r.augmentMs.toFixed(3).padStart(20)}`);
console.log('batch × context | token gather ms');
for (const r of tokenRows) console.log(`${`${r.batch} × ${r.context}`.padStart(15)} | ${r.ms.toFixed(3).padStart(15)}`);
console.log('batch | u8 field, per-channel scaling ms | 13 f32 features ms');
for (const r of fieldRows) console.log(`${String(r.batch).padStart(5)} | ${r.scaledBytesMs.toFixed(3).padStart(32)} | ${r.featureRowsMs.toFixed(3).padStart(18)}`);
console.log('batch | shards | plain gather ms');
for (const r of shardRows) console.log(`${String(r.batch).padStart(5)} | ${String(r.shards).padStart(6)} | ${r.plainMs.toFixed(3).padStart(15)}`);
writeFileSync(new URL('results/gather.json', import.meta.url), `${JSON.stringify({ adapter: gpu.describe(), rows, tokenRows, fieldRows, shardRows }, null, 2)}\n`);
gpu.destroy();
