// Losses fused with their gradients (one pass per row), and metric totals accumulated on the GPU so
// training reads back nothing per step.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

const ROWS_PER_GROUP = 64;

/**
 * Softmax cross-entropy over [rows, classes] logits against u32 class labels or f32 target rows
 * (exactly one of the two). Writes dlogits = (softmax − target)/rows — the gradient of the batch
 * MEAN loss — the per-row loss, and rowCorrect = 1 where the logits' argmax is the label (or the
 * targets' argmax). Label smoothing ε turns each target into (1 − ε)·target + ε/classes, as PyTorch
 * does. A label ≥ classes gives a NaN row loss, which accumulateMetrics counts.
 */
export function softmaxCrossEntropy(gpu: Gpu, io: {
  logits: BufferRef; labels?: BufferRef; targets?: BufferRef; dlogits: BufferRef; rowLoss: BufferRef; rowCorrect: BufferRef;
  rows: number; classes: number; labelSmoothing?: number;
}): Dispatch[] {
  if ((io.labels === undefined) === (io.targets === undefined)) throw new Error('softmaxCrossEntropy: pass exactly one of labels and targets');
  const labelSmoothing = io.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`softmaxCrossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  if (io.classes < 1) throw new Error(`softmaxCrossEntropy: needs at least one class, got ${io.classes}`);
  const params = { rows: io.rows, cols: io.classes, labelSmoothing, countCorrect: 0 };
  const outputs = { logits: io.logits, dlogits: io.dlogits, rowLoss: io.rowLoss, rowCorrect: io.rowCorrect, params };
  const grid = grid1d(gpu, io.rows, ROWS_PER_GROUP);
  if (io.labels !== undefined) {
    return [kernel(gpu, 'loss', 'softmaxCrossEntropyLabels').dispatch({ ...outputs, labels: io.labels }, grid, 'softmaxCrossEntropy')];
  }
  return [kernel(gpu, 'loss', 'softmaxCrossEntropyTargets').dispatch({ ...outputs, targets: io.targets! }, grid, 'softmaxCrossEntropy')];
}

/**
 * Mean squared error over all rows·cols elements (PyTorch MSELoss 'mean'): dpredictions =
 * 2(p − t)/(rows·cols) and rowLoss[r] = Σ_c (p − t)²/cols, so Σ_r rowLoss / rows is the loss.
 */
export function mseLoss(gpu: Gpu, io: { predictions: BufferRef; targets: BufferRef; dpredictions: BufferRef; rowLoss: BufferRef; rows: number; cols: number }): Dispatch[] {
  const k = kernel(gpu, 'loss', 'mseLoss');
  const params = { rows: io.rows, cols: io.cols, labelSmoothing: 0, countCorrect: 0 };
  const { predictions, targets, dpredictions, rowLoss } = io;
  return [k.dispatch({ predictions, targets, dpredictions, rowLoss, params }, grid1d(gpu, io.rows, ROWS_PER_GROUP), 'mseLoss')];
}

/**
 * ADDS [Σ rowLoss, Σ rowCorrect, rows, count of non-finite rowLoss] into the f32[4] totals; the
 * executor clears totals at epoch start. Non-finite losses are included in the sum (making it
 * non-finite too) and counted, so a NaN/Inf is seen without a readback per step. Deterministic.
 */
export function accumulateMetrics(gpu: Gpu, io: { rowLoss: BufferRef; rowCorrect?: BufferRef; rows: number; totals: BufferRef }): Dispatch[] {
  const k = kernel(gpu, 'loss', 'accumulateMetrics');
  const params = { rows: io.rows, cols: 1, labelSmoothing: 0, countCorrect: io.rowCorrect === undefined ? 0 : 1 };
  // Without rowCorrect the kernel never reads it; rowLoss stands in so the binding is filled.
  const rowCorrectIn = io.rowCorrect ?? io.rowLoss;
  return [k.dispatch({ rowLossIn: io.rowLoss, rowCorrectIn, totals: io.totals, params }, [1, 1, 1], 'accumulateMetrics')];
}
