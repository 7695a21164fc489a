// Window starts for language-model training: the split keeps every window and its targets on one
// side, training draws are a function of (seed, step) alone and cover the training part, the fixed
// evaluation sets repeat, and a stream too short for the context is refused with the counts.
import { describe, expect, it } from 'vitest';
import { evaluationStarts, splitTokenStream, trainingStarts } from '../../src/runtime/token-windows.ts';

describe('splitTokenStream', () => {
  it('holds out the last fraction: train keeps floor(count × (1 − fraction)) tokens', () => {
    expect(splitTokenStream(1000, 0.1, 8)).toEqual({ count: 1000, trainEnd: 900, context: 8 });
    expect(splitTokenStream(1001, 0.25, 8).trainEnd).toBe(750);
  });

  it('refuses a part that cannot hold one window and its next token', () => {
    expect(() => splitTokenStream(10, 0.1, 8)).toThrow('10 tokens split into 9 to train on and 1 held out; each part needs at least 9 (a window of context 8 and its next token)');
    expect(() => splitTokenStream(17, 0.5, 8)).toThrow('17 tokens split into 8 to train on and 9 held out; each part needs at least 9');
    expect(splitTokenStream(18, 0.5, 8).trainEnd).toBe(9);
    expect(() => splitTokenStream(100, 0, 8)).toThrow('the held-out fraction must be in (0, 1), got 0');
  });
});

describe('training and evaluation windows', () => {
  const split = splitTokenStream(200, 0.2, 7); // train [0, 160), held out [160, 200)

  it('draws each step\'s batch from (seed, step) alone, inside the training part, reaching both ends', () => {
    expect([...trainingStarts(split, 3, 41, 16)]).toEqual([...trainingStarts(split, 3, 41, 16)]);
    expect([...trainingStarts(split, 3, 41, 16)]).not.toEqual([...trainingStarts(split, 3, 42, 16)]);
    expect([...trainingStarts(split, 3, 41, 16)]).not.toEqual([...trainingStarts(split, 4, 41, 16)]);
    const seen = new Set<number>();
    for (let step = 0; step < 400; step++) {
      for (const start of trainingStarts(split, 3, step, 16)) {
        // The last target of a window is tokens[start + context]: it must stay before the held-out part.
        expect(start + split.context).toBeLessThan(split.trainEnd);
        seen.add(start);
      }
    }
    expect(seen.size).toBe(split.trainEnd - split.context);
  });

  it('keeps the fixed evaluation windows inside their part, the same at every call', () => {
    const validation = evaluationStarts(split, 'validation', 3, 64);
    expect([...validation]).toEqual([...evaluationStarts(split, 'validation', 3, 64)]);
    for (const start of validation) {
      expect(start).toBeGreaterThanOrEqual(split.trainEnd);
      expect(start + split.context).toBeLessThan(split.count);
    }
    for (const start of evaluationStarts(split, 'train', 3, 64)) expect(start + split.context).toBeLessThan(split.trainEnd);
    expect([...evaluationStarts(split, 'train', 3, 16)]).not.toEqual([...trainingStarts(split, 3, 0, 16)]);
  });
});
