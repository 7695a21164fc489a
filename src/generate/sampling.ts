// Picking the next token from its logits: greedy at temperature 0 (the highest logit, the lowest id
// among equals), otherwise a draw from softmax(logits / temperature) over the top-k candidates. The
// draws come from the counter-based RNG keyed by the seed and the token's index in the generation,
// so a seed repeats its text exactly, whatever ran before.
import { rngUniform } from '../kernels/rng.ts';

export interface SamplingOptions {
  /** 0 picks the most likely token; higher spreads the draw, 1 samples the model's own distribution. */
  temperature: number;
  /** Draw only among the k most likely tokens (absent: all of them). */
  topK?: number;
  /** u32. */
  seed: number;
}

/** The RNG stream of sampling draws, apart from the streams the GPU kernels use. */
const SAMPLING_STREAM = 0x5a3;

export function checkSampling(who: string, o: SamplingOptions): void {
  if (!(Number.isFinite(o.temperature) && o.temperature >= 0)) throw new Error(`${who}: temperature must be a finite number ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) throw new Error(`${who}: topK must be a positive integer, got ${o.topK}`);
  if (!(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)) throw new Error(`${who}: seed must be an integer in [0, ${2 ** 32 - 1}], got ${o.seed}`);
}

/** Token ids by logit, highest first; equal logits keep the lower id first. */
function ranked(logits: ArrayLike<number>): number[] {
  return Array.from({ length: logits.length }, (_, id) => id).sort((a, b) => logits[b]! - logits[a]! || a - b);
}

/** The id to emit as token number `draw` of a generation (0, 1, …). */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, draw: number): number {
  checkSampling('sampleToken', o);
  if (logits.length === 0) throw new Error('sampleToken: no logits to sample from');
  for (let id = 0; id < logits.length; id++) {
    if (!Number.isFinite(logits[id]!)) throw new Error(`sampleToken: the logit of token ${id} is ${logits[id]}; the model produced non-finite values`);
  }
  const candidates = ranked(logits).slice(0, o.topK ?? logits.length);
  if (o.temperature === 0) return candidates[0]!;
  // In float64 and relative to the largest logit, so a low temperature cannot overflow exp.
  const top = logits[candidates[0]!]!;
  const weights = candidates.map((id) => Math.exp((logits[id]! - top) / o.temperature));
  const total = weights.reduce((sum, w) => sum + w, 0);
  let remaining = rngUniform(o.seed, SAMPLING_STREAM, draw) * total;
  for (let i = 0; i < candidates.length; i++) {
    remaining -= weights[i]!;
    if (remaining < 0) return candidates[i]!;
  }
  // Rounding can leave a sliver past the last weight; it belongs to the last candidate.
  return candidates.at(-1)!;
}
