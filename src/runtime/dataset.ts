// Puts a whole dataset on the GPU once, so each step uploads only batch indices: images (pixels as
// packed u8, labels as u32) or one token stream (u32 ids).
import type { Gpu } from '../gpu/device.ts';
import { uploadBuffer } from '../gpu/buffers.ts';
import { packBytes } from '../kernels/gather.ts';
import type { ImageSet } from '../data/idx.ts';
import type { GpuData, GpuDataset, GpuTokenDataset } from '../compiler/program.ts';

export function uploadDataset(gpu: Gpu, set: ImageSet, classes: number, name: string): GpuDataset {
  const channels = set.channels ?? 1;
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`dataset ${name}: classes must be a positive integer, got ${classes}`);
  if (set.images.length !== set.count * channels * set.rows * set.cols) {
    throw new Error(`dataset ${name}: ${set.images.length} pixel bytes do not make ${set.count} images of ${channels}×${set.rows}×${set.cols}`);
  }
  if (set.labels.length !== set.count) throw new Error(`dataset ${name}: ${set.labels.length} labels for ${set.count} images`);
  for (let i = 0; i < set.count; i++) {
    if (set.labels[i]! >= classes) throw new Error(`dataset ${name}: label ${set.labels[i]} at index ${i} is outside 0..${classes - 1}`);
  }
  return {
    kind: 'images', name, classes, count: set.count, channels, height: set.rows, width: set.cols,
    images: uploadBuffer(gpu, packBytes(set.images), `${name}.images`),
    labels: uploadBuffer(gpu, Uint32Array.from(set.labels), `${name}.labels`),
  };
}

/** A token stream for next-token training: windows of `context` ids, each id below `vocab`. */
export function uploadTokens(gpu: Gpu, tokens: Uint32Array, o: { vocab: number; context: number; name: string }): GpuTokenDataset {
  const { vocab, context, name } = o;
  if (!(tokens instanceof Uint32Array)) throw new Error(`dataset ${name}: tokens must be a Uint32Array`);
  for (const [field, value] of Object.entries({ vocab, context })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`dataset ${name}: ${field} must be a positive integer, got ${value}`);
  }
  if (tokens.length <= context) throw new Error(`dataset ${name}: ${tokens.length} tokens hold no window of context ${context} plus its next token`);
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]! >= vocab) throw new Error(`dataset ${name}: token ${tokens[i]} at position ${i} is outside the vocabulary 0..${vocab - 1}`);
  }
  return { kind: 'tokens', name, vocab, context, count: tokens.length, tokens: uploadBuffer(gpu, tokens, `${name}.tokens`) };
}

export function destroyDataset(gpu: Gpu, data: GpuData): void {
  if (data.kind === 'tokens') {
    gpu.destroyBuffer(data.tokens);
    return;
  }
  gpu.destroyBuffer(data.images);
  gpu.destroyBuffer(data.labels);
}

/** 0..n-1 as indices, or a range of them. */
export function range(start: number, end: number): Uint32Array {
  const out = new Uint32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
