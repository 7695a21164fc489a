// The loss a language model must beat first: a bigram model, P(next | previous) from counts over the
// training part with add-one (Laplace) smoothing, so a pair never seen there still has a finite loss.
// Counted on the CPU in float64, sparse (a character vocabulary may be large). Browser-safe.

export interface BigramLoss {
  /** Mean cross-entropy in nats per predicted token over the training pairs (in-sample). */
  train: number;
  /** The same over the held-out pairs: tokens[trainEnd + 1 …] each given the token before it. */
  validation: number;
}

/** Tokens [0, trainEnd) are counted; the pairs inside the held-out part [trainEnd, end) are scored. */
export function bigramLoss(tokens: ArrayLike<number>, vocab: number, trainEnd: number): BigramLoss {
  if (!(trainEnd >= 2 && trainEnd <= tokens.length - 2)) throw new Error(`bigramLoss: the split at ${trainEnd} leaves no pair on one side of ${tokens.length} tokens`);
  const pairs = new Map<number, number>();
  const rows = new Float64Array(vocab);
  for (let i = 0; i + 1 < trainEnd; i++) {
    const from = tokens[i]!, key = from * vocab + tokens[i + 1]!;
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
    rows[from]!++;
  }
  const meanLoss = (first: number, end: number): number => {
    let sum = 0;
    for (let i = first; i + 1 < end; i++) {
      const from = tokens[i]!;
      sum -= Math.log(((pairs.get(from * vocab + tokens[i + 1]!) ?? 0) + 1) / (rows[from]! + vocab));
    }
    return sum / (end - first - 1);
  };
  return { train: meanLoss(0, trainEnd), validation: meanLoss(trainEnd, tokens.length) };
}
