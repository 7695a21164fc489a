import { describe, expect, it } from 'vitest';
import { resizeGray, resizeImages } from '../../src/data/resize.ts';
import { rng } from '../helpers/random.ts';

function randomImage(height: number, width: number, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: height * width }, () => Math.floor(next() * 256));
}

describe('resizeGray', () => {
  it('is the identity at the same size', () => {
    const image = randomImage(17, 5, 1);
    expect(Array.from(resizeGray(image, 17, 5, 17, 5))).toEqual(Array.from(image));
  });

  it('averages whole blocks when shrinking by an integer factor', () => {
    const image = randomImage(6, 9, 2);
    const out = resizeGray(image, 6, 9, 2, 3);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        let sum = 0;
        for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) sum += image[(3 * y + dy) * 9 + 3 * x + dx]!;
        expect(out[y * 3 + x]).toBe(Math.round(sum / 9));
      }
    }
  });

  it('keeps the mean when shrinking by a fractional factor', () => {
    // Area weights sum to one per output and every source pixel contributes equally overall,
    // so the means agree up to rounding (±0.5 per output pixel).
    const image = randomImage(100, 73, 3);
    const out = resizeGray(image, 100, 73, 28, 28);
    const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean(out) - mean(image))).toBeLessThan(0.5);
  });

  it('interpolates linearly between pixel centres when enlarging', () => {
    // 1×2 → 1×4: centres of the outputs sit at source x = -0.25, 0.25, 0.75, 1.25 (clamped to the ends).
    expect(Array.from(resizeGray(Uint8Array.from([0, 200]), 1, 2, 1, 4))).toEqual([0, 50, 150, 200]);
    expect(Array.from(resizeGray(Uint8Array.from([9]), 1, 1, 3, 2))).toEqual([9, 9, 9, 9, 9, 9]);
  });

  it('rejects a pixel count that does not match the size', () => {
    expect(() => resizeGray(new Uint8Array(5), 2, 3, 1, 1)).toThrow('resizeGray: 5 pixels is not 2×3');
  });
});

describe('resizeImages', () => {
  it('resizes every plane and repeats one gray channel into three, keeping the labels', () => {
    const count = 3;
    const images = randomImage(count * 7, 5, 9);
    const labels = new Uint32Array([2, 0, 299]);
    const out = resizeImages({ images, labels, count, rows: 7, cols: 5 }, { height: 4, width: 6, channels: 3 });
    expect([out.count, out.channels, out.rows, out.cols, out.images.length]).toEqual([3, 3, 4, 6, 3 * 3 * 24]);
    expect(out.labels).toBe(labels);
    for (let i = 0; i < count; i++) {
      const expected = Array.from(resizeGray(images.subarray(i * 35, (i + 1) * 35), 7, 5, 4, 6));
      for (let c = 0; c < 3; c++) expect(Array.from(out.images.subarray((i * 3 + c) * 24, (i * 3 + c + 1) * 24)), `image ${i} channel ${c}`).toEqual(expected);
    }
  });

  it('refuses channel changes it cannot make', () => {
    const set = { images: new Uint8Array(2 * 3 * 4), labels: new Uint8Array(2), count: 2, rows: 2, cols: 2, channels: 3 };
    expect(() => resizeImages(set, { channels: 1 })).toThrow('cannot turn 3-channel images into 1 channels');
    expect(() => resizeImages(set, { height: 0 })).toThrow('height must be a positive integer, got 0');
  });
});
