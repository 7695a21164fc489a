// Where a language model's windows start in one token stream: the last part of the stream is held
// out, training windows are drawn at random from the part before it, and evaluation windows are a
// fixed set in each part. Every start is a hash of (seed, what it is for, its number), so the windows of
// step s are the same whether the run got there in one go or was resumed. Browser-safe.
//
//   const split = splitTokenStream(tokens.length, 0.1, context)
//   trainer.step(trainingStarts(split, seed, trainer.stepCount, batch))
//   evaluator.evaluate(evaluationStarts(split, 'validation', seed, windows))
import { rngU32 } from '../kernels/rng.ts';

export interface TokenSplit {
  /** Tokens in the stream. */
  count: number;
  /** Tokens [0, trainEnd) train; [trainEnd, count) are held out. */
  trainEnd: number;
  context: number;
}

export type SplitPart = 'train' | 'validation';

// Distinct RNG streams, so training draws and the two fixed evaluation sets never share a hash input.
const STREAMS = { training: 0x1f3d5b79, train: 0x2e4c6a88, validation: 0x3b5d7f91 } as const;

/**
 * The last `valFraction` of the stream held out (train keeps floor(count × (1 − valFraction)) tokens).
 * Each part must hold a window of `context` tokens and the token after it, so no window crosses the split.
 */
export function splitTokenStream(count: number, valFraction: number, context: number): TokenSplit {
  if (!(valFraction > 0 && valFraction < 1)) throw new Error(`the held-out fraction must be in (0, 1), got ${valFraction}`);
  const trainEnd = Math.floor(count * (1 - valFraction));
  const need = context + 1;
  if (trainEnd < need || count - trainEnd < need) {
    throw new Error(`${count} tokens split into ${trainEnd} to train on and ${count - trainEnd} held out; each part needs at least ${need} (a window of context ${context} and its next token)`);
  }
  return { count, trainEnd, context };
}

/** The first and last start whose window and targets lie inside the part. */
function startRange(split: TokenSplit, part: SplitPart): [number, number] {
  return part === 'train' ? [0, split.trainEnd - split.context - 1] : [split.trainEnd, split.count - split.context - 1];
}

function draw(range: [number, number], seed: number, stream: number, first: number, n: number): Uint32Array {
  const [lo, hi] = range;
  const span = hi - lo + 1;
  return Uint32Array.from({ length: n }, (_, i) => lo + Math.floor((rngU32(seed, stream, (first + i) >>> 0) / 2 ** 32) * span));
}

/** The batch of step `step`: uniform over the training part, a function of (seed, step) alone. */
export function trainingStarts(split: TokenSplit, seed: number, step: number, batch: number): Uint32Array {
  return draw(startRange(split, 'train'), seed, STREAMS.training, step * batch, batch);
}

/** A fixed set of `windows` starts in one part, the same at every evaluation of a run. */
export function evaluationStarts(split: TokenSplit, part: SplitPart, seed: number, windows: number): Uint32Array {
  return draw(startRange(split, part), seed, STREAMS[part], 0, windows);
}
