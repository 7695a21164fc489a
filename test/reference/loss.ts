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

export interface ElementLossRef { dpredictions: Float64Array; rowLoss: Float64Array }

/**
 * A loss of reduction='mean' over all rows·cols elements from its per-element value ℓ(p, t) and
 * derivative ∂ℓ/∂p: the gradient of the mean is ∂ℓ/∂p / (rows·cols), rowLoss[r] the row's mean.
 */
function elementLossRef(predictions: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number,
  loss: (p: number, t: number) => number, derivative: (p: number, t: number) => number): ElementLossRef {
  const dpredictions = new Float64Array(rows * cols), rowLoss = new Float64Array(rows);
  for (let i = 0; i < rows * cols; i++) {
    dpredictions[i] = derivative(predictions[i]!, targets[i]!) / (rows * cols);
    rowLoss[Math.floor(i / cols)]! += loss(predictions[i]!, targets[i]!) / cols;
  }
  return { dpredictions, rowLoss };
}

/** torch.nn.L1Loss: ℓ = |p − t|; torch's gradient is sign(p − t) with sign(0) = 0. */
export function l1LossRef(predictions: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number): ElementLossRef {
  return elementLossRef(predictions, targets, rows, cols, (p, t) => Math.abs(p - t), (p, t) => Math.sign(p - t));
}

/** torch.nn.HuberLoss(delta): ℓ = ½d² if |d| ≤ delta else delta·(|d| − ½·delta), d = p − t. */
export function huberLossRef(predictions: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number, delta: number): ElementLossRef {
  return elementLossRef(predictions, targets, rows, cols,
    (p, t) => (Math.abs(p - t) <= delta ? 0.5 * (p - t) ** 2 : delta * (Math.abs(p - t) - 0.5 * delta)),
    (p, t) => Math.max(-delta, Math.min(delta, p - t)));
}

/**
 * torch.nn.BCEWithLogitsLoss: ℓ = −[t·log σ(x) + (1 − t)·log(1 − σ(x))], written as
 * max(x, 0) − x·t + log(1 + e^−|x|) (the same value, no overflow); ∂ℓ/∂x = σ(x) − t.
 */
export function bceWithLogitsRef(logits: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number): ElementLossRef & { rowCorrect: Float64Array; labelCorrect: Float64Array } {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const r = elementLossRef(logits, targets, rows, cols, (x, t) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))), (x, t) => sigmoid(x) - t);
  const labelCorrect = new Float64Array(rows * cols), rowCorrect = new Float64Array(rows);
  for (let i = 0; i < rows * cols; i++) {
    labelCorrect[i] = (logits[i]! > 0) === (targets[i]! > 0.5) ? 1 : 0;
    rowCorrect[Math.floor(i / cols)]! += labelCorrect[i]! / cols;
  }
  return { ...r, rowCorrect, labelCorrect };
}

/** Per row: [mean (p − t)², mean |p − t|]. */
export function regressionMetricsRef(predictions: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(2 * rows);
  for (let i = 0; i < rows * cols; i++) {
    const d = predictions[i]! - targets[i]!, r = Math.floor(i / cols);
    out[2 * r]! += (d * d) / cols;
    out[2 * r + 1]! += Math.abs(d) / cols;
  }
  return out;
}

/** The column sums of a [rows, cols] table. */
export function columnSumsRef(table: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < rows * cols; i++) out[i % cols]! += table[i]!;
  return out;
}
