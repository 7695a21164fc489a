// Puts a whole dataset on the GPU once, so each step uploads only batch indices: images (pixels as
// packed u8, labels as u32), one token stream (u32 ids), or a set of named tensors from JS arrays.
// Image and named-tensor fields past one storage binding are split into shards (dataset-shards.ts).
import type { Gpu } from '../gpu/device.ts';
import { uploadBuffer } from '../gpu/buffers.ts';
import { samplesPerShard, shardByteLimit, uploadShards, type UploadOptions } from './dataset-shards.ts';
import type { ImageSet } from '../data/idx.ts';
import type { FieldDType, GpuData, GpuDataset, GpuField, GpuTensorDataset, GpuTokenDataset } from '../compiler/program.ts';
import { elementCount, formatShape } from '../graph/graph.ts';

/** Labelled images; the pixels and the labels are sharded alike when the pixels pass one binding. */
export function uploadDataset(gpu: Gpu, set: ImageSet, classes: number, name: string, o: UploadOptions = {}): GpuDataset {
  const channels = set.channels ?? 1;
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`dataset ${name}: classes must be a positive integer, got ${classes}`);
  if (set.images.length !== set.count * channels * set.rows * set.cols) {
    throw new Error(`dataset ${name}: ${set.images.length} pixel bytes do not make ${set.count} images of ${channels}×${set.rows}×${set.cols}`);
  }
  if (set.labels.length !== set.count) throw new Error(`dataset ${name}: ${set.labels.length} labels for ${set.count} images`);
  for (let i = 0; i < set.count; i++) {
    if (set.labels[i]! >= classes) throw new Error(`dataset ${name}: label ${set.labels[i]} at index ${i} is outside 0..${classes - 1}`);
  }
  const perShard = samplesPerShard(`dataset ${name}`, set.count, { images: channels * set.rows * set.cols, labels: 4 }, shardByteLimit(gpu, o));
  return {
    kind: 'images', name, classes, count: set.count, channels, height: set.rows, width: set.cols,
    images: uploadShards(gpu, set.images, set.count, perShard, `${name}.images`),
    labels: uploadShards(gpu, Uint32Array.from(set.labels), set.count, perShard, `${name}.labels`),
  };
}

/**
 * A token stream for next-token training: windows of `context` ids, each id below `vocab`. It stays
 * one buffer (any window may start anywhere), so it holds at most the binding limit / 4 tokens.
 */
export function uploadTokens(gpu: Gpu, tokens: Uint32Array, o: { vocab: number; context: number; name: string }): GpuTokenDataset {
  const { vocab, context, name } = o;
  if (!(tokens instanceof Uint32Array)) throw new Error(`dataset ${name}: tokens must be a Uint32Array`);
  for (const [field, value] of Object.entries({ vocab, context })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`dataset ${name}: ${field} must be a positive integer, got ${value}`);
  }
  if (tokens.length <= context) throw new Error(`dataset ${name}: ${tokens.length} tokens hold no window of context ${context} plus its next token`);
  const limit = shardByteLimit(gpu);
  if (tokens.byteLength > limit) {
    throw new Error(`dataset ${name}: ${tokens.length} tokens are ${tokens.byteLength} bytes, more than this device's storage binding limit of ${limit} bytes; a token stream is one buffer, ${Math.floor(limit / 4)} tokens at most`);
  }
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]! >= vocab) throw new Error(`dataset ${name}: token ${tokens[i]} at position ${i} is outside the vocabulary 0..${vocab - 1}`);
  }
  return { kind: 'tokens', name, vocab, context, count: tokens.length, tokens: uploadBuffer(gpu, tokens, `${name}.tokens`) };
}

/** One field's values as a JS array and its shape, [samples, ...one sample's shape]. */
export interface FieldData {
  /** Uint8Array: bytes scaled to [0, 1] (then normalized) as they are gathered; Float32Array: f32 values; Uint32Array: ids. */
  data: Uint8Array | Float32Array | Uint32Array;
  shape: readonly number[];
}

function fieldDType(data: FieldData['data']): FieldDType | undefined {
  if (data instanceof Uint8Array) return 'u8';
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Uint32Array) return 'u32';
  return undefined;
}

/**
 * A dataset of named tensors resident on the GPU, e.g. `{ x: { data: features, shape: [n, 13] },
 * y: { data: labels, shape: [n] } }`: every field holds the same number of samples. By default a
 * one-input model reads field `x` and the loss compares against field `y` (see ProgramOptions).
 */
export function tensorDataset(gpu: Gpu, fields: Readonly<Record<string, FieldData>>, name: string, o: UploadOptions = {}): GpuTensorDataset {
  const names = Object.keys(fields);
  if (names.length === 0) throw new Error(`dataset ${name}: needs at least one field`);
  let count: number | undefined;
  const checked = names.map((field) => {
    const { data, shape } = fields[field]!;
    const dtype = fieldDType(data);
    if (!dtype) throw new Error(`dataset ${name}: field ${field} must be a Uint8Array, Float32Array or Uint32Array`);
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`dataset ${name}: field ${field} needs a shape [samples, ...], positive integers, got ${JSON.stringify(shape)}`);
    }
    if (data.length !== elementCount(shape)) throw new Error(`dataset ${name}: field ${field} holds ${data.length} values, but its shape ${formatShape(shape)} needs ${elementCount(shape)}`);
    if (count !== undefined && shape[0] !== count) throw new Error(`dataset ${name}: field ${field} has ${shape[0]} samples, but field ${names[0]} has ${count}`);
    count = shape[0]!;
    return { field, data, shape, dtype };
  });
  const limit = shardByteLimit(gpu, o);
  const perShard = checked.map(({ field, data, shape }) => samplesPerShard(`dataset ${name}`, count!, { [`field ${field}`]: data.BYTES_PER_ELEMENT * elementCount(shape.slice(1)) }, limit));
  const uploaded: Record<string, GpuField> = {};
  checked.forEach(({ field, data, shape, dtype }, f) => {
    const shards = uploadShards(gpu, data, count!, perShard[f]!, `${name}.${field}`);
    let largest = 0;
    if (dtype === 'u32') for (const v of data) largest = Math.max(largest, v);
    uploaded[field] = { dtype, shape: shape.slice(1), shards, ...(dtype === 'u32' ? { largest } : {}) };
  });
  return { kind: 'tensors', name, count: count!, fields: uploaded };
}

export function destroyDataset(gpu: Gpu, data: GpuData): void {
  if (data.kind === 'tensors') {
    for (const field of Object.values(data.fields)) field.shards.buffers.forEach((b) => gpu.destroyBuffer(b));
    return;
  }
  if (data.kind === 'tokens') {
    gpu.destroyBuffer(data.tokens);
    return;
  }
  for (const b of [...data.images.buffers, ...data.labels.buffers]) gpu.destroyBuffer(b);
}

/** 0..n-1 as indices, or a range of them. */
export function range(start: number, end: number): Uint32Array {
  const out = new Uint32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
