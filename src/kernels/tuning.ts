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

export async function writeTuning<C extends object>(gpu: Gpu, kind: string, candidates: readonly string[], choices: C): Promise<void> {
  await writeCached(cacheName(gpu, kind), JSON.stringify({ adapter: gpu.describe(), candidates: [...candidates], choices } satisfies TuningRecord<C>, null, 2));
}

/** Wall time of one submission of `dispatches`, waiting for the queue to drain. */
async function timeDispatches(gpu: Gpu, dispatches: readonly Dispatch[]): Promise<number> {
  const start = performance.now();
  await runDispatches(gpu, dispatches);
  return performance.now() - start;
}

/** The index of the fastest of several ways (each a list of dispatches) to do the same work. */
export async function fastestDispatches(gpu: Gpu, candidates: readonly (readonly Dispatch[])[]): Promise<number> {
  // The first run compiles the pipelines; a candidate already 3× slower than the leader there is
  // dropped, which keeps tuning short on devices where some variants are hopeless.
  const best: number[] = [];
  for (const dispatches of candidates) best.push(await timeDispatches(gpu, dispatches));
  const leader = Math.min(...best);
  const contenders = candidates.map((_, i) => i).filter((i) => best[i]! <= 3 * leader);
  // Interleaved rounds, so a burst of load from other processes does not favour one candidate.
  for (let round = 0; round < 3; round++) {
    for (const i of contenders) best[i] = Math.min(best[i]!, await timeDispatches(gpu, candidates[i]!));
  }
  return contenders.reduce((x, y) => (best[y]! < best[x]! ? y : x));
}
