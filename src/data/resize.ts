// Grayscale resizing, one axis at a time: area averaging when shrinking (every source pixel
// counts, so thin strokes survive 10× reductions) and bilinear interpolation with pixel centres
// aligned when enlarging (area weights would turn that into blocky nearest-neighbour).
//
//   resizeGray(pixels, height, width, outHeight, outWidth) → Uint8Array of outHeight×outWidth
//   resizeImages(set, { height, width, channels })          → the whole set, gray repeated into channels

import type { ImageSet } from './idx.ts';

interface Tap {
  index: number;
  weight: number;
}

function axisTaps(from: number, to: number): Tap[][] {
  const scale = from / to;
  return Array.from({ length: to }, (_, j) => {
    if (scale >= 1) {
      const start = j * scale;
      const end = start + scale;
      const taps: Tap[] = [];
      for (let i = Math.floor(start); i < Math.min(Math.ceil(end), from); i++) {
        const overlap = Math.min(end, i + 1) - Math.max(start, i);
        if (overlap > 0) taps.push({ index: i, weight: overlap / scale });
      }
      return taps;
    }
    const x = Math.min(Math.max((j + 0.5) * scale - 0.5, 0), from - 1);
    const left = Math.floor(x);
    const right = Math.min(left + 1, from - 1);
    const t = x - left;
    return [{ index: left, weight: 1 - t }, { index: right, weight: t }];
  });
}

export function resizeGray(pixels: Uint8Array, height: number, width: number, outHeight: number, outWidth: number): Uint8Array {
  if (pixels.length !== height * width) throw new Error(`resizeGray: ${pixels.length} pixels is not ${height}×${width}`);
  if (height < 1 || width < 1 || outHeight < 1 || outWidth < 1) throw new Error(`resizeGray: empty size ${height}×${width} → ${outHeight}×${outWidth}`);
  const columnTaps = axisTaps(width, outWidth);
  const rowTaps = axisTaps(height, outHeight);
  const wide = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (const tap of columnTaps[x]!) sum += tap.weight * pixels[y * width + tap.index]!;
      wide[y * outWidth + x] = sum;
    }
  }
  const out = new Uint8Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (const tap of rowTaps[y]!) sum += tap.weight * wide[tap.index * outWidth + x]!;
      out[y * outWidth + x] = Math.min(255, Math.max(0, Math.round(sum)));
    }
  }
  return out;
}

export interface ImageLayout { height?: number; width?: number; channels?: number }

/**
 * Every image of a set resized plane by plane and, from one channel, repeated into `channels`
 * (MNIST as 32×32×3 for networks drawn for colour). Labels are kept as they are.
 */
export function resizeImages(set: ImageSet, layout: ImageLayout): ImageSet {
  const fromChannels = set.channels ?? 1;
  const height = layout.height ?? set.rows, width = layout.width ?? set.cols, channels = layout.channels ?? fromChannels;
  for (const [name, v] of Object.entries({ height, width, channels })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`resizeImages: ${name} must be a positive integer, got ${v}`);
  }
  if (channels !== fromChannels && fromChannels !== 1) throw new Error(`resizeImages: cannot turn ${fromChannels}-channel images into ${channels} channels (only 1 → any)`);
  const inPlane = set.rows * set.cols, outPlane = height * width;
  const images = new Uint8Array(set.count * channels * outPlane);
  for (let i = 0; i < set.count; i++) {
    for (let c = 0; c < channels; c++) {
      const from = (i * fromChannels + (fromChannels === 1 ? 0 : c)) * inPlane;
      images.set(resizeGray(set.images.subarray(from, from + inPlane), set.rows, set.cols, height, width), (i * channels + c) * outPlane);
    }
  }
  return { images, labels: set.labels, count: set.count, rows: height, cols: width, channels };
}
