// Float64 CPU references for the fused losses and the metric totals.
import { argmaxRowsRef } from './reduce.ts';

export interface CrossEntropyRef { dlogits: Float64Array; rowLoss: Float64Array; rowCorrect: Float64Array }

/** Smoothed target rows from class labels or from given target rows. */
export function crossEntropyTargets(rows: number, classes: number, target: { labels: ArrayLike<number> } | { targets: ArrayLike<number> }, smoothing: number): Float64Array {
  const t = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < classes; c++) {
      const raw = 'labels' in target ? (target.labels[r] === c ? 1 : 0) : target.targets[r * classes + c]!;
      t[r * classes + c] = (1 - smoothing) * raw + smoothing / classes;
    }
  }
  return t;
}

export function softmaxCrossEntropyRef(logits: ArrayLike<number>, rows: number, classes: number, target: { labels: ArrayLike<number> } | { targets: ArrayLike<number> }, smoothing = 0): CrossEntropyRef {
  const t = crossEntropyTargets(rows, classes, target, smoothing);
  const dlogits = new Float64Array(rows * classes), rowLoss = new Float64Array(rows), rowCorrect = new Float64Array(rows);
  const predicted = argmaxRowsRef(logits, rows, classes);
  const expected = 'labels' in target ? target.labels : argmaxRowsRef(target.targets, rows, classes);
  for (let r = 0; r < rows; r++) {
    let largest = -Infinity;
    for (let c = 0; c < classes; c++) largest = Math.max(largest, logits[r * classes + c]!);
    let total = 0;
    for (let c = 0; c < classes; c++) total += Math.exp(logits[r * classes + c]! - largest);
    const logSumExp = Math.log(total);
    for (let c = 0; c < classes; c++) {
      const i = r * classes + c;
      const logP = logits[i]! - largest - logSumExp;
      rowLoss[r]! -= t[i]! * logP;
      dlogits[i] = (Math.exp(logP) - t[i]!) / rows;
    }
    rowCorrect[r] = predicted[r] === expected[r] ? 1 : 0;
  }
  return { dlogits, rowLoss, rowCorrect };
}

export function mseLossRef(predictions: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number): { dpredictions: Float64Array; rowLoss: Float64Array } {
  const dpredictions = new Float64Array(rows * cols), rowLoss = new Float64Array(rows);
  for (let i = 0; i < rows * cols; i++) {
    const diff = predictions[i]! - targets[i]!;
    dpredictions[i] = (2 * diff) / (rows * cols);
    rowLoss[Math.floor(i / cols)]! += (diff * diff) / cols;
  }
  return { dpredictions, rowLoss };
}

/** totals after adding one batch: [Σ loss, Σ correct, rows, non-finite losses]. */
export function accumulateMetricsRef(totals: ArrayLike<number>, rowLoss: ArrayLike<number>, rowCorrect?: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(totals);
  for (let r = 0; r < rowLoss.length; r++) {
    out[0]! += rowLoss[r]!;
    out[1]! += rowCorrect?.[r] ?? 0;
    out[3]! += Number.isFinite(rowLoss[r]!) ? 0 : 1;
  }
  out[2]! += rowLoss.length;
  return out;
}
