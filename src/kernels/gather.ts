// Batch assembly on the GPU: the dataset lives there and each step uploads only the batch's indices.
// Images are u8; optionally each goes through a random affine (rotation, scale, translation) drawn
// from the shared counter-based RNG with (seed, step, row), sampled bilinearly in the same pass.
// Token data is one u32 stream; each batch row is a window of it and its next-token targets.
// A dataset field may be split into shards (buffers of whole samples, for fields past one storage
// binding): each gather then records one dispatch per shard, each writing the rows that fall in it.
import type { Gpu } from '../gpu/device.ts';
import { bindingBytes, grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

export interface AugmentOptions {
  /** Rotation angle drawn uniformly from ±this, counter-clockwise positive (e.g. 15). */
  maxRotationDegrees: number;
  /** Shift along each axis drawn uniformly from ±this, in pixels, sub-pixel (e.g. 2). */
  maxTranslatePixels: number;
  /** Zoom about the image centre drawn uniformly from [minScale, maxScale] (e.g. 0.9 … 1.1). */
  minScale: number;
  maxScale: number;
}

/** A field split over buffers of whole samples: buffers[k] holds samples k·samplesPerShard onwards. */
export interface SampleShards<B extends BufferRef = BufferRef> {
  buffers: readonly B[];
  samplesPerShard: number;
}

/** One buffer, or shards of one; a single buffer holds every sample. */
export type SampleSource = BufferRef | SampleShards;

export interface GatherIo {
  /** u8 pixels packed 4 per u32 (packBytes), count × channels × height × width. */
  images: SampleSource;
  /** u32 class labels, one per image, sharded as the images are. */
  labels: SampleSource;
  /** u32 dataset index per batch row. */
  indices: BufferRef;
  /** f32 output, batch × channels × height × width. */
  x: BufferRef;
  /** u32 label per batch row. */
  y: BufferRef;
  batch: number;
  height: number;
  width: number;
  /** Planes per image; 1 unless given. */
  channels?: number;
  /** x = (u8/255 − mean)/std; mean 0, std 1 gives plain [0, 1] scaling. */
  mean: number;
  std: number;
  augment?: AugmentOptions;
  /** u32[2] = [seed, step], rewritten every step; needed iff augment. */
  seed?: BufferRef;
}

const PLAIN_WORKGROUP = 64;
/** Consecutive values one invocation of the plain gather writes (RUN in gather.wgsl). */
const PLAIN_RUN = 16;
const AUGMENT_WORKGROUP = 64;
const TOKEN_WORKGROUP = 64;
const FIELD_WORKGROUP = 64;

/** u8 data as the kernels read it: 4 bytes per u32, little-endian, zero-padded to a whole word. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Uint32Array(padded.buffer);
}

function shardsOf(source: SampleSource): SampleShards {
  // One buffer is one shard that every u32 sample index falls in.
  return 'samplesPerShard' in source ? source : { buffers: [source], samplesPerShard: 0xffffffff };
}

function checkShards(gpu: Gpu, name: string, source: SampleSource, sampleBytes: number, who: string): SampleShards {
  const shards = shardsOf(source);
  if (shards.buffers.length === 0 || !Number.isInteger(shards.samplesPerShard) || shards.samplesPerShard < 1) {
    throw new Error(`${who}: tensor "${name}" needs at least one shard and a positive whole samplesPerShard, got ${shards.buffers.length} shards of ${shards.samplesPerShard}`);
  }
  shards.buffers.forEach((buffer, k) => checkBinding(gpu, shards.buffers.length > 1 ? `${name}[${k}]` : name, buffer, sampleBytes, who));
  return shards;
}

/** The shard window each dispatch reads: its first sample and how many samples a shard holds. */
function shardWindow(shards: SampleShards, k: number): { first_sample: number; shard_samples: number } {
  return { first_sample: k * shards.samplesPerShard, shard_samples: shards.samplesPerShard };
}

function checkBinding(gpu: Gpu, name: string, ref: BufferRef, neededBytes: number, who = 'gatherBatch'): void {
  const bytes = bindingBytes(ref);
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new Error(`${who}: tensor "${name}" binds ${bytes} bytes, more than this device's storage binding limit of ${limit} bytes`);
  }
  if (bytes < neededBytes) throw new Error(`${who}: tensor "${name}" holds ${bytes} bytes; this batch needs ${neededBytes}`);
}

function checkAugment(a: AugmentOptions): void {
  const { maxRotationDegrees, maxTranslatePixels, minScale, maxScale } = a;
  if (!(maxRotationDegrees >= 0 && maxRotationDegrees <= 180)) throw new Error(`gatherBatch: maxRotationDegrees must be in [0, 180], got ${maxRotationDegrees}`);
  if (!(maxTranslatePixels >= 0 && Number.isFinite(maxTranslatePixels))) throw new Error(`gatherBatch: maxTranslatePixels must be ≥ 0, got ${maxTranslatePixels}`);
  if (!(minScale > 0 && minScale <= maxScale && Number.isFinite(maxScale))) throw new Error(`gatherBatch: need 0 < minScale ≤ maxScale, got ${minScale} … ${maxScale}`);
}

/** Fills x (and y with the labels) for the rows named by `indices`; one dispatch per shard. */
export function gatherBatch(gpu: Gpu, io: GatherIo): Dispatch[] {
  const channels = io.channels ?? 1;
  for (const [name, value] of Object.entries({ batch: io.batch, height: io.height, width: io.width, channels })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`gatherBatch: ${name} must be a positive integer, got ${value}`);
  }
  if (!(io.std > 0 && Number.isFinite(io.std) && Number.isFinite(io.mean))) throw new Error(`gatherBatch: need a finite mean and std > 0, got mean ${io.mean}, std ${io.std}`);
  if ((io.augment === undefined) !== (io.seed === undefined)) throw new Error('gatherBatch: a seed buffer is needed iff augment is given');
  const pixels = channels * io.height * io.width;
  const total = io.batch * pixels;
  const images = checkShards(gpu, 'images', io.images, pixels, 'gatherBatch');
  const labels = checkShards(gpu, 'labels', io.labels, 4, 'gatherBatch');
  if (labels.buffers.length !== images.buffers.length || labels.samplesPerShard !== images.samplesPerShard) {
    throw new Error(`gatherBatch: labels must be sharded as the images are (${images.buffers.length} shards of ${images.samplesPerShard}), got ${labels.buffers.length} of ${labels.samplesPerShard}`);
  }
  checkBinding(gpu, 'indices', io.indices, io.batch * 4);
  checkBinding(gpu, 'x', io.x, total * 4);
  checkBinding(gpu, 'y', io.y, io.batch * 4);
  const scaling = { offset: 255 * io.mean, scale: 1 / (255 * io.std) };
  const outputs = { indices: io.indices, x: io.x, y: io.y };
  const shardData = (k: number) => ({ images: images.buffers[k]!, labels: labels.buffers[k]!, ...outputs });
  if (!io.augment) {
    const k = kernel(gpu, 'gather', 'gather');
    const grid = grid1d(gpu, io.batch * Math.ceil(pixels / PLAIN_RUN), PLAIN_WORKGROUP);
    return images.buffers.map((_, s) => k.dispatch({ ...shardData(s), gather_params: { batch: io.batch, pixels, ...scaling, ...shardWindow(images, s) } }, grid, 'gatherBatch'));
  }
  checkAugment(io.augment);
  const a = io.augment;
  const augmentParams = {
    batch: io.batch, channels, height: io.height, width: io.width, ...scaling,
    max_rotation: (a.maxRotationDegrees * Math.PI) / 180, max_translate: a.maxTranslatePixels, min_scale: a.minScale, max_scale: a.maxScale,
  };
  const grid = grid1d(gpu, io.batch * channels * io.height, AUGMENT_WORKGROUP);
  const k = kernel(gpu, 'gather', 'gather_augment');
  return images.buffers.map((_, s) => k.dispatch({ ...shardData(s), seed: io.seed!, augment_params: { ...augmentParams, ...shardWindow(images, s) } }, grid, 'gatherBatch.augment'));
}

export interface TokenGatherIo {
  /** The u32 token stream, `count` tokens. */
  tokens: BufferRef;
  count: number;
  /** u32 start position per batch row; each needs start + context < count. */
  starts: BufferRef;
  /** u32 outputs, batch × context: the window and the same window one token later. */
  x: BufferRef;
  y: BufferRef;
  batch: number;
  context: number;
}

/** x[b, t] = tokens[starts[b] + t] and y[b, t] = tokens[starts[b] + t + 1] for t < context; one dispatch. */
export function gatherTokens(gpu: Gpu, io: TokenGatherIo): Dispatch[] {
  for (const [name, value] of Object.entries({ batch: io.batch, context: io.context, count: io.count })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`gatherTokens: ${name} must be a positive integer, got ${value}`);
  }
  if (io.count <= io.context) throw new Error(`gatherTokens: a stream of ${io.count} tokens holds no window of context ${io.context} plus its next token`);
  const total = io.batch * io.context;
  checkBinding(gpu, 'tokens', io.tokens, io.count * 4, 'gatherTokens');
  checkBinding(gpu, 'starts', io.starts, io.batch * 4, 'gatherTokens');
  checkBinding(gpu, 'x', io.x, total * 4, 'gatherTokens');
  checkBinding(gpu, 'y', io.y, total * 4, 'gatherTokens');
  const k = kernel(gpu, 'gather', 'gather_tokens');
  return [k.dispatch({
    token_stream: io.tokens, starts: io.starts, token_x: io.x, token_y: io.y, token_params: { batch: io.batch, context: io.context },
  }, grid1d(gpu, total, TOKEN_WORKGROUP), 'gatherTokens')];
}

export interface FieldGatherIo {
  /** The field's values, `width` per sample: u32 words (f32 or u32 data), or u8 packed by packBytes. */
  source: SampleSource;
  /** u32 dataset index per batch row. */
  indices: BufferRef;
  /** batch × width output values. */
  out: BufferRef;
  batch: number;
  width: number;
}

function checkFieldGather(gpu: Gpu, io: FieldGatherIo, who: string): void {
  for (const [name, value] of Object.entries({ batch: io.batch, width: io.width })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${value}`);
  }
  checkBinding(gpu, 'indices', io.indices, io.batch * 4, who);
  checkBinding(gpu, 'out', io.out, io.batch * io.width * 4, who);
}

/** out[row] = source[indices[row]] for rows of `width` 32-bit values (f32 or u32); one dispatch per shard. */
export function gatherRows(gpu: Gpu, io: FieldGatherIo): Dispatch[] {
  checkFieldGather(gpu, io, 'gatherRows');
  const shards = checkShards(gpu, 'source', io.source, io.width * 4, 'gatherRows');
  const k = kernel(gpu, 'gather', 'gather_words');
  const grid = grid1d(gpu, io.batch * io.width, FIELD_WORKGROUP);
  return shards.buffers.map((buffer, s) => k.dispatch({
    field_words: buffer, field_rows: io.indices, field_copy: io.out,
    field_params: { batch: io.batch, width: io.width, plane: io.width, ...shardWindow(shards, s) },
  }, grid, 'gatherRows'));
}

/** The (offset, scale) pairs gatherScaledBytes reads: x = (u8/255 − mean_c)/std_c per channel. */
export function channelScaling(mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== std.length || mean.length === 0) throw new Error(`normalize: mean and std need one value per channel each, got ${mean.length} and ${std.length}`);
  const out = new Float32Array(2 * mean.length);
  mean.forEach((m, c) => {
    const s = std[c]!;
    if (!(s > 0 && Number.isFinite(s) && Number.isFinite(m))) throw new Error(`normalize: channel ${c} needs a finite mean and std > 0, got mean ${m}, std ${s}`);
    out[2 * c] = 255 * m;
    out[2 * c + 1] = 1 / (255 * s);
  });
  return out;
}

/**
 * out[row] = scaled bytes of source[indices[row]] (u8, `width` per sample, in `channels` planes),
 * each plane through its own (offset, scale) from `scaling` (channelScaling); one dispatch per shard.
 */
export function gatherScaledBytes(gpu: Gpu, io: FieldGatherIo & { channels: number; scaling: BufferRef }): Dispatch[] {
  checkFieldGather(gpu, io, 'gatherScaledBytes');
  if (!Number.isInteger(io.channels) || io.channels < 1 || io.width % io.channels !== 0) {
    throw new Error(`gatherScaledBytes: ${io.width} values per sample do not split into ${io.channels} channel planes`);
  }
  checkBinding(gpu, 'scaling', io.scaling, io.channels * 8, 'gatherScaledBytes');
  const shards = checkShards(gpu, 'source', io.source, io.width, 'gatherScaledBytes');
  const k = kernel(gpu, 'gather', 'gather_scaled_bytes');
  const grid = grid1d(gpu, io.batch * Math.ceil(io.width / PLAIN_RUN), FIELD_WORKGROUP);
  return shards.buffers.map((buffer, s) => k.dispatch({
    field_bytes: buffer, field_rows: io.indices, field_scaled: io.out, channel_scaling: io.scaling,
    field_params: { batch: io.batch, width: io.width, plane: io.width / io.channels, ...shardWindow(shards, s) },
  }, grid, 'gatherScaledBytes'));
}
