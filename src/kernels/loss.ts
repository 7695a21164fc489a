// Losses fused with their gradients (one pass per row), and metric totals accumulated on the GPU so
// training reads back nothing per step.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { rowVariant, workgroupPerRow, type RowVariant } from './row-variant.ts';

const ROWS_PER_GROUP = 64;

/**
 * Softmax cross-entropy over [rows, classes] logits against u32 class labels or f32 target rows
 * (exactly one of the two). Writes dlogits = (softmax − target)/rows — the gradient of the batch
 * MEAN loss — the per-row loss, and rowCorrect = 1 where the logits' argmax is the label (or the
 * targets' argmax). Label smoothing ε turns each target into (1 − ε)·target + ε/classes, as PyTorch
 * does. A label ≥ classes gives a NaN row loss, which accumulateMetrics counts. `variant` forces
 * one kernel (src/kernels/row-variant.ts); by default the subgroup one wherever the device has
 * `subgroups`.
 */
export function softmaxCrossEntropy(gpu: Gpu, io: {
  logits: BufferRef; labels?: BufferRef; targets?: BufferRef; dlogits: BufferRef; rowLoss: BufferRef; rowCorrect: BufferRef;
  rows: number; classes: number; labelSmoothing?: number; variant?: RowVariant;
}): Dispatch[] {
  if ((io.labels === undefined) === (io.targets === undefined)) throw new Error('softmaxCrossEntropy: pass exactly one of labels and targets');
  const labelSmoothing = io.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`softmaxCrossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  if (io.classes < 1) throw new Error(`softmaxCrossEntropy: needs at least one class, got ${io.classes}`);
  const params = { rows: io.rows, cols: io.classes, labelSmoothing, countCorrect: 0, delta: 0 };
  const outputs = { logits: io.logits, dlogits: io.dlogits, rowLoss: io.rowLoss, rowCorrect: io.rowCorrect, params };
  const subgroup = rowVariant(gpu, 'softmaxCrossEntropy', io.variant) === 'subgroup';
  const [shader, suffix, grid] = subgroup
    ? ['loss_subgroup', 'Subgroup', workgroupPerRow(gpu, io.rows)] as const
    : ['loss', '', grid1d(gpu, io.rows, ROWS_PER_GROUP)] as const;
  if (io.labels !== undefined) {
    return [kernel(gpu, shader, `softmaxCrossEntropyLabels${suffix}`).dispatch({ ...outputs, labels: io.labels }, grid, 'softmaxCrossEntropy')];
  }
  return [kernel(gpu, shader, `softmaxCrossEntropyTargets${suffix}`).dispatch({ ...outputs, targets: io.targets! }, grid, 'softmaxCrossEntropy')];
}

/**
 * Mean squared error over all rows·cols elements (PyTorch MSELoss 'mean'): dpredictions =
 * 2(p − t)/(rows·cols) and rowLoss[r] = Σ_c (p − t)²/cols, so Σ_r rowLoss / rows is the loss.
 */
export function mseLoss(gpu: Gpu, io: { predictions: BufferRef; targets: BufferRef; dpredictions: BufferRef; rowLoss: BufferRef; rows: number; cols: number }): Dispatch[] {
  const k = kernel(gpu, 'loss', 'mseLoss');
  const params = { rows: io.rows, cols: io.cols, labelSmoothing: 0, countCorrect: 0, delta: 0 };
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
  const params = { rows: io.rows, cols: 1, labelSmoothing: 0, countCorrect: io.rowCorrect === undefined ? 0 : 1, delta: 0 };
  // Without rowCorrect the kernel never reads it; rowLoss stands in so the binding is filled.
  const rowCorrectIn = io.rowCorrect ?? io.rowLoss;
  return [k.dispatch({ rowLossIn: io.rowLoss, rowCorrectIn, totals: io.totals, params }, [1, 1, 1], 'accumulateMetrics')];
}

export interface ElementLossIo { predictions: BufferRef; targets: BufferRef; dpredictions: BufferRef; rowLoss: BufferRef; rows: number; cols: number }

function elementParams(rows: number, cols: number, delta = 0) {
  return { rows, cols, labelSmoothing: 0, countCorrect: 0, delta };
}

/** PyTorch L1Loss('mean'): dpredictions = sign(p − t)/(rows·cols), rowLoss[r] = Σ_c |p − t|/cols. */
export function l1Loss(gpu: Gpu, io: ElementLossIo): Dispatch[] {
  const { predictions, targets, dpredictions, rowLoss } = io;
  return [kernel(gpu, 'loss', 'l1Loss').dispatch({ predictions, targets, dpredictions, rowLoss, params: elementParams(io.rows, io.cols) }, grid1d(gpu, io.rows, ROWS_PER_GROUP), 'l1Loss')];
}

/** PyTorch HuberLoss(delta, 'mean'), laid out like l1Loss; delta must be positive. */
export function huberLoss(gpu: Gpu, io: ElementLossIo & { delta: number }): Dispatch[] {
  if (!(io.delta > 0 && Number.isFinite(io.delta))) throw new Error(`huberLoss: delta must be a positive number, got ${io.delta}`);
  const { predictions, targets, dpredictions, rowLoss } = io;
  return [kernel(gpu, 'loss', 'huberLoss').dispatch({ predictions, targets, dpredictions, rowLoss, params: elementParams(io.rows, io.cols, io.delta) }, grid1d(gpu, io.rows, ROWS_PER_GROUP), 'huberLoss')];
}

/**
 * PyTorch BCEWithLogitsLoss('mean') over [rows, cols] logits and f32 targets in [0, 1], laid out
 * like l1Loss; also rowMetrics[r, c] = 1 where (logit > 0) agrees with (target > ½), and
 * rowCorrect[r] = the row's mean of those (per-label accuracy for multi-label classification).
 */
export function binaryCrossEntropyWithLogits(gpu: Gpu, io: ElementLossIo & { rowCorrect: BufferRef; rowMetrics: BufferRef }): Dispatch[] {
  const { predictions, targets, dpredictions, rowLoss, rowCorrect, rowMetrics } = io;
  return [kernel(gpu, 'loss', 'binaryCrossEntropyWithLogits').dispatch({ predictions, targets, dpredictions, rowLoss, rowCorrect, rowMetrics, params: elementParams(io.rows, io.cols) },
    grid1d(gpu, io.rows, ROWS_PER_GROUP), 'binaryCrossEntropyWithLogits')];
}

/** rowMetrics[r] = (mean squared error, mean absolute error) over row r of predictions − targets. */
export function regressionMetrics(gpu: Gpu, io: { predictions: BufferRef; targets: BufferRef; rowMetrics: BufferRef; rows: number; cols: number }): Dispatch[] {
  const { predictions, targets, rowMetrics } = io;
  return [kernel(gpu, 'loss', 'regressionMetrics').dispatch({ predictions, targets, rowMetrics, params: elementParams(io.rows, io.cols) }, grid1d(gpu, io.rows, ROWS_PER_GROUP), 'regressionMetrics')];
}

/** rowLoss[r] = Σ_c elements[r, c]/cols: the per-row means of a loss drawn as tensor ops. */
export function rowMean(gpu: Gpu, io: { elements: BufferRef; rowLoss: BufferRef; rows: number; cols: number }): Dispatch[] {
  return [kernel(gpu, 'loss', 'rowMean').dispatch({ lossElements: io.elements, rowLoss: io.rowLoss, params: elementParams(io.rows, io.cols) }, grid1d(gpu, io.rows, ROWS_PER_GROUP), 'rowMean')];
}

/** ADDS the column sums of rowMetrics [rows, cols] into totals[4 .. 4 + cols); deterministic. */
export function accumulateColumns(gpu: Gpu, io: { rowMetrics: BufferRef; rows: number; cols: number; totals: BufferRef }): Dispatch[] {
  if (!Number.isInteger(io.cols) || io.cols < 1) throw new Error(`accumulateColumns: cols must be a positive integer, got ${io.cols}`);
  return [kernel(gpu, 'loss', 'accumulateColumns').dispatch({ rowMetricsIn: io.rowMetrics, totals: io.totals, params: elementParams(io.rows, io.cols) }, [io.cols, 1, 1], 'accumulateColumns')];
}
