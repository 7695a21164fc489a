import { describe, expect, it } from 'vitest';
import type { ImageSet } from '../../src/data/idx.ts';
import { channelStats, epochPermutation, pixelStats, seededPermutation, seededRandom, splitValidation, takeSamples } from '../../src/data/split.ts';

function isPermutation(order: Uint32Array): boolean {
  const seen = new Set(order);
  return seen.size === order.length && order.every((i) => i < order.length);
}

function numberedSet(count: number): ImageSet {
  // 2×1 images whose pixels are (i, 255 - i), label i % 10: every sample says where it came from.
  const images = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) images.set([i, 255 - i], 2 * i);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count, rows: 2, cols: 1 };
}

describe('seeded shuffling', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(Array.from(seededPermutation(100, 7))).toEqual(Array.from(seededPermutation(100, 7)));
    expect(Array.from(seededPermutation(100, 7))).not.toEqual(Array.from(seededPermutation(100, 8)));
    for (const n of [0, 1, 2, 17, 1000]) expect(isPermutation(seededPermutation(n, 3))).toBe(true);
  });

  it('gives each epoch its own reproducible order', () => {
    const first = epochPermutation(500, 42, 0);
    expect(Array.from(epochPermutation(500, 42, 0))).toEqual(Array.from(first));
    expect(Array.from(epochPermutation(500, 42, 1))).not.toEqual(Array.from(first));
    expect(Array.from(epochPermutation(500, 43, 0))).not.toEqual(Array.from(first));
    expect(isPermutation(epochPermutation(500, 42, 9))).toBe(true);
  });

  it('draws uniformly enough: every position sees every value about equally often', () => {
    // 4000 shuffles of 4 items: each (position, value) count is Binomial(4000, 1/4), sd ≈ 27; allow 5 sd.
    const counts = new Array(16).fill(0);
    for (let seed = 0; seed < 4000; seed++) seededPermutation(4, seed).forEach((v, pos) => counts[pos * 4 + v]++);
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(137);
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const x = random();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe('splitValidation', () => {
  it('holds out the last fraction like Keras', () => {
    for (const [count, fraction, train] of [[60000, 0.1, 54000], [10, 0.25, 7], [17, 0.1, 15], [1, 0.1, 0], [5, 0, 5]] as const) {
      const split = splitValidation(numberedSet(count), fraction);
      expect([split.train.count, split.validation.count]).toEqual([train, count - train]);
      expect(split.train.images.length).toBe(2 * train);
      if (split.validation.count > 0) {
        expect(split.validation.images[0]).toBe(train % 256);
        expect(split.validation.labels[0]).toBe(train % 10);
      }
    }
    expect(() => splitValidation(numberedSet(4), 1)).toThrow('validation fraction must be in [0, 1), got 1');
  });

  it('takeSamples gathers images and labels together', () => {
    const set = takeSamples(numberedSet(20), [19, 3, 3]);
    expect(Array.from(set.images)).toEqual([19, 236, 3, 252, 3, 252]);
    expect(Array.from(set.labels)).toEqual([9, 3, 3]);
    expect(() => takeSamples(numberedSet(2), [2])).toThrow('sample index 2 is outside 0..1');
  });
});

describe('pixelStats', () => {
  it('matches a direct computation', () => {
    const images = Uint8Array.from([0, 255, 10, 20, 30, 7]);
    const mean = (0 + 255 + 10 + 20 + 30 + 7) / 6;
    const variance = Array.from(images, (v) => (v - mean) ** 2).reduce((a, b) => a + b) / 6;
    const stats = pixelStats(images);
    expect(stats.mean).toBeCloseTo(mean, 12);
    expect(stats.std).toBeCloseTo(Math.sqrt(variance), 12);
  });
});

describe('channelStats', () => {
  it('gives each channel plane its own statistics, equal to pixelStats of that plane', () => {
    // Three 3-channel 2×2 images with different values in every plane.
    const count = 3, channels = 3, plane = 4;
    const images = Uint8Array.from({ length: count * channels * plane }, (_, i) => (i * 37 + (i % 5) * 11) % 256);
    const stats = channelStats({ images, labels: new Uint8Array(count), count, rows: 2, cols: 2, channels });
    expect(stats).toHaveLength(channels);
    for (let c = 0; c < channels; c++) {
      const planePixels = Uint8Array.from({ length: count * plane }, (_, k) => images[(Math.floor(k / plane) * channels + c) * plane + (k % plane)]!);
      const expected = pixelStats(planePixels);
      expect(stats[c]!.mean).toBeCloseTo(expected.mean, 12);
      expect(stats[c]!.std).toBeCloseTo(expected.std, 12);
    }
    expect(new Set(stats.map((s) => s.mean)).size).toBe(channels);
  });

  it('treats a set without channels as one gray plane and refuses sizes that do not add up', () => {
    const set = numberedSet(20);
    expect(channelStats(set)).toEqual([pixelStats(set.images)]);
    expect(() => channelStats({ ...set, channels: 3 })).toThrow(/40 pixel bytes do not make 20 images of 3×2×1/);
    expect(() => channelStats({ ...set, count: 0, images: new Uint8Array(0), labels: new Uint8Array(0) })).toThrow(/no pixels/);
  });
});
