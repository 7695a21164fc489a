// The tuners' shared race and cache policy (src/kernels/tuning.ts): who wins, when a race counts
// as steady (its winner in front in most rounds), and that unsteady winners stay out of the cache unless the caller insists.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decideRace, keepTuning, readTuning, ROUND_TIE } from '../src/kernels/tuning.ts';
import { testGpu } from './helpers/gpu.ts';

describe('decideRace', () => {
  it('picks the fastest best time among the candidates timed past their first run', () => {
    const timings = [
      { first: 9, rounds: [5, 5.1, 5.2] },
      { first: 2, rounds: [] }, // dropped after a first run that compiled: never a winner
      { first: 8, rounds: [4.2, 4.0, 4.1] },
    ];
    expect(decideRace(timings)).toEqual({ winner: 2, steady: true });
  });

  it('counts a first run toward the best time', () => {
    expect(decideRace([{ first: 3, rounds: [4, 4, 4] }, { first: 9, rounds: [3.5, 3.5, 3.5] }]).winner).toBe(0);
  });

  it('is steady when the winner is in front in most rounds, whatever one round of load did to everyone', () => {
    // Round 2 is slow for both (a burst of load), and the order holds.
    expect(decideRace([{ first: 10, rounds: [4, 9, 4.1] }, { first: 10, rounds: [5, 11, 5] }])).toEqual({ winner: 0, steady: true });
    // Within ROUND_TIE of a round's fastest counts as in front: a near tie needs no retiming.
    const tied = 4 * ROUND_TIE * 0.99;
    expect(decideRace([{ first: 10, rounds: [4, tied, tied] }, { first: 10, rounds: [4.3, 4, 4] }]).steady).toBe(true);
  });

  it('is unsteady when the order changes round by round and the best time was one lucky round', () => {
    expect(decideRace([{ first: 10, rounds: [3, 6, 6] }, { first: 10, rounds: [5, 4, 4] }])).toEqual({ winner: 0, steady: false });
    const justPast = 4 * ROUND_TIE * 1.01;
    expect(decideRace([{ first: 10, rounds: [4, justPast, justPast] }, { first: 10, rounds: [4.3, 4, 4] }]).steady).toBe(false);
  });

  it('refuses a race with nobody timed', () => {
    expect(() => decideRace([{ first: 1, rounds: [] }])).toThrow(/no candidate/);
  });
});

describe('keepTuning', () => {
  let dir = '';
  let previous: string | undefined;
  beforeEach(() => {
    previous = process.env.WEBGRAD_CACHE;
    dir = mkdtempSync(join(tmpdir(), 'webgrad-tuning-'));
    process.env.WEBGRAD_CACHE = dir;
  });
  afterEach(() => {
    if (previous === undefined) delete process.env.WEBGRAD_CACHE;
    else process.env.WEBGRAD_CACHE = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes steady choices, holds back unsteady ones, and writes them anyway when asked to', async () => {
    const gpu = await testGpu();
    const choices = { winner: 'a' };
    expect(await keepTuning(gpu, 'race', ['a', 'b'], choices, false)).toBe('unsteady');
    expect(readdirSync(dir)).toEqual([]);
    expect(await readTuning(gpu, 'race', ['a', 'b'])).toBeNull();
    expect(await keepTuning(gpu, 'race', ['a', 'b'], choices, true)).toBe('saved');
    expect(await readTuning(gpu, 'race', ['a', 'b'])).toEqual(choices);
    rmSync(join(dir, readdirSync(dir)[0]!));
    expect(await keepTuning(gpu, 'race', ['a', 'b'], choices, false, 'always')).toBe('saved');
    expect(await readTuning(gpu, 'race', ['a', 'b'])).toEqual(choices);
  });
});
