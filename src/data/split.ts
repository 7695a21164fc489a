// Deterministic preprocessing: seeded permutations, the validation split, pixel statistics.
//
//   seededRandom(seed)                 → () => number in [0, 1), mulberry32: small, fast, good enough for shuffling
//   seededPermutation(n, seed)         → Uint32Array, a Fisher-Yates shuffle of 0..n-1
//   epochPermutation(n, seed, epoch)   → the batch order for one epoch; same (seed, epoch) gives the same order
//   splitValidation(set, fraction)     → { train, validation }: like Keras' validation_split, the LAST
//                                        `fraction` of the samples (before any shuffling) is held out, so the
//                                        split never depends on a seed; shuffle first with takeSamples() to change that
//   takeSamples(set, indices)          → a new ImageSet of those samples, in that order
//   pixelStats(images)                 → { mean, std } over all pixels (0..255 scale, population std)
//   channelStats(set)                  → pixelStats of each channel plane of a C×H×W set, for per-channel normalisation
import type { ImageSet } from './idx.ts';

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seededPermutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/** Mixes seed and epoch (a 32-bit hash step) so consecutive epochs get unrelated orders. */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const mixed = Math.imul((seed >>> 0) ^ Math.imul(epoch + 1, 0x9e3779b9), 0x85ebca6b) >>> 0;
  return seededPermutation(n, mixed);
}

export function takeSamples(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const pixels = (set.channels ?? 1) * set.rows * set.cols;
  const images = new Uint8Array(indices.length * pixels);
  const labels = set.labels instanceof Uint32Array ? new Uint32Array(indices.length) : new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i]!;
    if (!(source >= 0 && source < set.count)) throw new Error(`sample index ${source} is outside 0..${set.count - 1}`);
    images.set(set.images.subarray(source * pixels, (source + 1) * pixels), i * pixels);
    labels[i] = set.labels[source]!;
  }
  return { images, labels, count: indices.length, rows: set.rows, cols: set.cols, ...(set.channels === undefined ? {} : { channels: set.channels }) };
}

/** Keras' rule: train keeps floor(count × (1 − fraction)) samples, validation the rest. Views, no copies. */
export function splitValidation(set: ImageSet, fraction = 0.1): { train: ImageSet; validation: ImageSet } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${fraction}`);
  const trainCount = Math.floor(set.count * (1 - fraction));
  const pixels = (set.channels ?? 1) * set.rows * set.cols;
  const part = (from: number, to: number): ImageSet => ({
    images: set.images.subarray(from * pixels, to * pixels),
    labels: set.labels.subarray(from, to),
    count: to - from,
    rows: set.rows,
    cols: set.cols,
    ...(set.channels === undefined ? {} : { channels: set.channels }),
  });
  return { train: part(0, trainCount), validation: part(trainCount, set.count) };
}

/** Mean and population std of pixel values given by their histogram over 0..255. */
function histogramStats(histogram: Float64Array, count: number): { mean: number; std: number } {
  let sum = 0;
  for (let v = 0; v < 256; v++) sum += v * histogram[v]!;
  const mean = sum / count;
  let squares = 0;
  for (let v = 0; v < 256; v++) squares += histogram[v]! * (v - mean) ** 2;
  return { mean, std: Math.sqrt(squares / count) };
}

export function pixelStats(images: Uint8Array): { mean: number; std: number } {
  if (images.length === 0) throw new Error('pixelStats: no pixels');
  const histogram = new Float64Array(256);
  for (const value of images) histogram[value]!++;
  return histogramStats(histogram, images.length);
}

export function channelStats(set: ImageSet): { mean: number; std: number }[] {
  const channels = set.channels ?? 1;
  const plane = set.rows * set.cols;
  if (set.count === 0 || plane === 0) throw new Error('channelStats: no pixels');
  if (set.images.length !== set.count * channels * plane) {
    throw new Error(`channelStats: ${set.images.length} pixel bytes do not make ${set.count} images of ${channels}×${set.rows}×${set.cols}`);
  }
  const histograms = Array.from({ length: channels }, () => new Float64Array(256));
  for (let i = 0; i < set.count; i++) {
    for (let c = 0; c < channels; c++) {
      const histogram = histograms[c]!;
      const start = (i * channels + c) * plane;
      for (let p = start; p < start + plane; p++) histogram[set.images[p]!]!++;
    }
  }
  return histograms.map((histogram) => histogramStats(histogram, set.count * plane));
}
