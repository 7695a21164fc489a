// The add-one bigram baseline against losses worked out by hand, and the properties that make it a
// fair floor: unseen pairs stay finite, and a stream that repeats one pattern is predicted well.
import { describe, expect, it } from 'vitest';
import { bigramLoss } from '../../src/data/bigram.ts';

describe('bigramLoss', () => {
  it('matches add-one counts worked by hand', () => {
    // Train [0 1 0 1 0] (pairs 0→1 twice, 1→0 twice), held out [1 1 0]: pairs 1→1 and 1→0.
    // With vocab 3: P(1|0) = (2+1)/(2+3), P(0|1) = (2+1)/(2+3), P(1|1) = (0+1)/(2+3).
    const tokens = [0, 1, 0, 1, 0, 1, 1, 0];
    const { train, validation } = bigramLoss(tokens, 3, 5);
    expect(train).toBeCloseTo(-Math.log(3 / 5), 12);
    expect(validation).toBeCloseTo(-(Math.log(1 / 5) + Math.log(3 / 5)) / 2, 12);
  });

  it('gives a pair never seen in training a finite loss, and a repeating stream a low one', () => {
    const unseen = bigramLoss([0, 0, 0, 0, 1, 2, 3], 4, 4);
    expect(Number.isFinite(unseen.validation)).toBe(true);
    const cycle = Array.from({ length: 4000 }, (_, i) => i % 5);
    const repeating = bigramLoss(cycle, 5, 3600);
    expect(repeating.validation).toBeLessThan(0.01);
    expect(repeating.validation).toBeLessThan(Math.log(5) / 100);
  });

  it('refuses a split with no pair on one side', () => {
    expect(() => bigramLoss([0, 1, 2], 3, 2)).toThrow('bigramLoss: the split at 2 leaves no pair on one side of 3 tokens');
  });
});
