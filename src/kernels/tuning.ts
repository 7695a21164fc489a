// What the per-adapter tuners (tuneGemm, tuneConv) share: timing candidate dispatches fairly on a
// shared machine, and a cache record trusted only for the same adapter and the same candidates.
import type { Gpu } from '../gpu/device.ts';
import type { Dispatch } from '../gpu/kernel.ts';
import { runDispatches } from '../gpu/buffers.ts';
import { readCached, writeCached } from '#platform';

interface TuningRecord<C> { adapter: string; candidates: string[]; choices: C }

/** `<kind>-<adapter>.json` in the cache (`~/.cache/webgrad` in Node, memory in a browser). */
function cacheName(gpu: Gpu, kind: string): string {
  return `${kind}-${gpu.describe().replace(/[^A-Za-z0-9]+/g, '-').slice(0, 120)}.json`;
}

/**
 * The cached choices of one tuner, or null. A record is trusted only for the same adapter and the
 * same candidates: a version that adds a variant must time it rather than keep a winner chosen without it.
 */
export async function readTuning<C extends object>(gpu: Gpu, kind: string, candidates: readonly string[]): Promise<C | null> {
  const text = await readCached(cacheName(gpu, kind));
  if (text === null) return null;
  try {
    const record = JSON.parse(text) as TuningRecord<C>;
    const sameCandidates = Array.isArray(record.candidates) && record.candidates.join(';') === candidates.join(';');
    if (record.adapter !== gpu.describe() || !sameCandidates || typeof record.choices !== 'object' || record.choices === null) return null;
    return record.choices;
  } catch {
    return null;
  }
}

async function writeTuning<C extends object>(gpu: Gpu, kind: string, candidates: readonly string[], choices: C): Promise<void> {
  await writeCached(cacheName(gpu, kind), JSON.stringify({ adapter: gpu.describe(), candidates: [...candidates], choices } satisfies TuningRecord<C>, null, 2));
}

/** Wall time of one submission of `dispatches`, waiting for the queue to drain. */
async function timeDispatches(gpu: Gpu, dispatches: readonly Dispatch[]): Promise<number> {
  const start = performance.now();
  await runDispatches(gpu, dispatches);
  return performance.now() - start;
}

/**
 * Within this factor of a round's fastest time, a candidate counts as in front in that round: closer
 * than that, two variants are a tie that timing noise decides either way.
 */
export const ROUND_TIE = 1.1;

/** A race's winner, and whether it held: in front in most of the timed rounds (ROUND_TIE). */
export interface RaceResult { winner: number; steady: boolean }

/**
 * Decides a race from each candidate's timings: its first run (which compiled the pipelines), then
 * one time per interleaved round, or none where the first run was already 3× slower than the
 * leader's and the candidate was dropped. The winner has the best time; the race is steady when the
 * winner was also in front in most rounds. Load from other processes hits rounds unevenly: a burst
 * that slows every candidate in one round leaves the order alone, but load that reorders the
 * candidates round by round means the best time was luck, and a winner picked then may lose on a
 * quiet machine.
 */
export function decideRace(timings: readonly { first: number; rounds: readonly number[] }[]): RaceResult {
  const best = timings.map(({ first, rounds }) => Math.min(first, ...rounds));
  const contenders = timings.map((_, i) => i).filter((i) => timings[i]!.rounds.length > 0);
  if (contenders.length === 0) throw new Error('decideRace: no candidate was timed past its first run');
  const winner = contenders.reduce((x, y) => (best[y]! < best[x]! ? y : x));
  const rounds = Math.min(...contenders.map((i) => timings[i]!.rounds.length));
  let inFront = 0;
  for (let r = 0; r < rounds; r++) {
    const fastest = Math.min(...contenders.map((i) => timings[i]!.rounds[r]!));
    if (timings[winner]!.rounds[r]! <= ROUND_TIE * fastest) inFront++;
  }
  return { winner, steady: 2 * inFront > rounds };
}

/** One race between several ways (each a list of dispatches) to do the same work. */
async function race(gpu: Gpu, candidates: readonly (readonly Dispatch[])[]): Promise<RaceResult> {
  // A candidate already 3× slower than the leader on its first run is dropped, which keeps tuning
  // short on devices where some variants are hopeless.
  const first: number[] = [];
  for (const dispatches of candidates) first.push(await timeDispatches(gpu, dispatches));
  const leader = Math.min(...first);
  const rounds = candidates.map((): number[] => []);
  // Interleaved rounds, so a burst of load from other processes does not favour one candidate.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < candidates.length; i++) if (first[i]! <= 3 * leader) rounds[i]!.push(await timeDispatches(gpu, candidates[i]!));
  }
  return decideRace(first.map((time, i) => ({ first: time, rounds: rounds[i]! })));
}

/**
 * The fastest of several ways to do the same work. A race that did not hold (something else was
 * running) is run once more; the result says whether the one kept was steady, so a tuner caches only
 * winners timed on a quiet machine.
 */
export async function fastestDispatches(gpu: Gpu, candidates: readonly (readonly Dispatch[])[]): Promise<RaceResult> {
  const result = await race(gpu, candidates);
  return result.steady ? result : race(gpu, candidates);
}

/**
 * What became of a tuner's choices: read back from the cache, timed and saved, or timed while the
 * machine was busy (some race never held still) and so kept for this process only, to be timed
 * again by the next one.
 */
export type TuningOutcome = 'cached' | 'saved' | 'unsteady';

/** When a tuner writes its choices to the cache: only if every race was steady (the default), or always. */
export type TuningCachePolicy = 'steady' | 'always';

/** Writes the choices unless the policy holds back unsteady ones; says which happened. */
export async function keepTuning<C extends object>(gpu: Gpu, kind: string, candidates: readonly string[], choices: C, steady: boolean, policy: TuningCachePolicy = 'steady'): Promise<TuningOutcome> {
  if (!steady && policy === 'steady') return 'unsteady';
  await writeTuning(gpu, kind, candidates, choices);
  return 'saved';
}
