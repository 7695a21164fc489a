// The row kernels (layer norm, softmax and log-softmax along the last axis, each forward and
// backward, and softmax cross-entropy) run with one variant forced, against their float64 references. Shared by the
// Node tests and the browser's kernel-checks page (web/kernel-checks.ts), which is where the
// subgroup variants' numerics run here: Chromium's SwiftShader offers `subgroups`, llvmpipe does not.
import type { Gpu } from '../../src/gpu/device.ts';
import { readFloat32, runDispatches } from '../../src/gpu/buffers.ts';
import { LAYER_NORM_EPS, layerNormBackward, layerNormForward } from '../../src/kernels/layernorm.ts';
import { softmaxAxis, softmaxAxisBackward } from '../../src/kernels/reduce_axis.ts';
import { softmaxCrossEntropy } from '../../src/kernels/loss.ts';
import type { RowVariant } from '../../src/kernels/row-variant.ts';
import { TestBuffers } from './buffers.ts';
import { maxRelativeError, randomArray, rng } from './random.ts';
import { layerNormBackwardRef, layerNormForwardRef } from '../reference/layernorm.ts';
import { softmaxAxisBackwardRef, softmaxAxisRef } from '../reference/reduce_axis.ts';
import { softmaxCrossEntropyRef } from '../reference/loss.ts';

/** Row lengths around the subgroup kernels' edges: one value, fewer than a subgroup, around 32, past a workgroup of 128, many per lane. */
export const ROW_LENGTHS = [1, 3, 31, 33, 257, 1000];
export const ROW_COUNTS = [1, 7, 130];

export type RowKernel = 'layerNorm' | 'layerNormBackward' | 'softmax' | 'logSoftmax' | 'softmaxBackward' | 'logSoftmaxBackward'
  | 'crossEntropyLabels' | 'crossEntropyTargets';
export const ROW_KERNELS: readonly RowKernel[] = ['layerNorm', 'layerNormBackward', 'softmax', 'logSoftmax', 'softmaxBackward', 'logSoftmaxBackward',
  'crossEntropyLabels', 'crossEntropyTargets'];

export interface RowCheck { kernel: RowKernel; variant: RowVariant; rows: number; cols: number; error: number; exactMismatches: number }

/**
 * f32 against float64, relative to O(1) values: layer norm's two-pass sums over ≤ 1000 values and
 * rstd up to 1/√eps for one-value rows take 1e-4 (its dx is judged relative to rstd, its column
 * sums relative to √rows); log-sum-exp and the softmax gradients stay within 1e-5.
 */
export const ROW_TOLERANCE: Readonly<Record<RowKernel, number>> = {
  layerNorm: 1e-4, layerNormBackward: 1e-4, softmax: 1e-5, logSoftmax: 1e-5, softmaxBackward: 1e-5, logSoftmaxBackward: 1e-5,
  crossEntropyLabels: 1e-5, crossEntropyTargets: 1e-5,
};

export function rowCheckPasses(check: RowCheck): boolean {
  return check.error <= ROW_TOLERANCE[check.kernel] && check.exactMismatches === 0;
}

export function describeRowCheck(check: RowCheck): string {
  const mismatches = check.exactMismatches ? `, ${check.exactMismatches} rows' correctness wrong` : '';
  return `${check.kernel} ${check.rows}×${check.cols} (${check.variant}): max relative error ${check.error.toExponential(2)} (tolerance ${ROW_TOLERANCE[check.kernel]})${mismatches}`;
}

/** Every kernel of `kernels` with `variant` forced over ROW_LENGTHS × ROW_COUNTS; a line per failing case. */
export async function rowCheckFailures(gpu: Gpu, kernels: readonly RowKernel[], variant: RowVariant): Promise<string[]> {
  const failures: string[] = [];
  for (const kernel of kernels) {
    for (const rows of ROW_COUNTS) {
      for (const cols of ROW_LENGTHS) {
        const check = await checkRowKernel(gpu, kernel, variant, rows, cols);
        if (!rowCheckPasses(check)) failures.push(describeRowCheck(check));
      }
    }
  }
  return failures;
}

export function randomLabels(rows: number, classes: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length: rows }, () => Math.floor(next() * classes));
}

/** Probability rows (positive, summing to 1). */
export function randomTargets(rows: number, classes: number, seed: number): Float32Array {
  const t = randomArray(rows * classes, seed, 0.01, 1);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += t[r * classes + c]!;
    for (let c = 0; c < classes; c++) t[r * classes + c]! /= sum;
  }
  return t;
}

/** Row-dependent offsets and spreads, so each row's statistics differ. */
export function spreadRows(rows: number, cols: number, seed: number): Float32Array {
  const x = randomArray(rows * cols, seed, -1, 1);
  for (let i = 0; i < x.length; i++) {
    const r = Math.floor(i / cols);
    x[i] = x[i]! * (0.5 + (r % 5)) + (r % 7) - 3;
  }
  return x;
}

async function layerNormError(gpu: Gpu, buffers: TestBuffers, rows: number, cols: number, variant: RowVariant): Promise<number> {
  const x = spreadRows(rows, cols, rows * 31 + cols);
  const gamma = randomArray(cols, cols + 1, 0.5, 1.5), beta = randomArray(cols, cols + 2);
  const io = { x: buffers.upload(x), gamma: buffers.upload(gamma), beta: buffers.upload(beta), y: buffers.output(rows * cols), mean: buffers.output(rows), rstd: buffers.output(rows), variant };
  await runDispatches(gpu, layerNormForward(gpu, { rows, cols }, io));
  const expected = layerNormForwardRef({ rows, cols }, x, gamma, beta, LAYER_NORM_EPS);
  return Math.max(
    maxRelativeError(await readFloat32(gpu, io.y, rows * cols), expected.y),
    maxRelativeError(await readFloat32(gpu, io.mean, rows), expected.mean),
    maxRelativeError(await readFloat32(gpu, io.rstd, rows), expected.rstd),
  );
}

async function layerNormBackwardError(gpu: Gpu, buffers: TestBuffers, rows: number, cols: number, variant: RowVariant): Promise<number> {
  const s = { rows, cols };
  const x = spreadRows(rows, cols, rows * 37 + cols), dy = randomArray(rows * cols, rows + cols + 3);
  const gamma = randomArray(cols, cols + 4, 0.5, 1.5);
  const stats = layerNormForwardRef(s, x, gamma, new Float64Array(cols), LAYER_NORM_EPS);
  const mean = Float32Array.from(stats.mean), rstd = Float32Array.from(stats.rstd);
  const io = {
    x: buffers.upload(x), dy: buffers.upload(dy), gamma: buffers.upload(gamma), mean: buffers.upload(mean), rstd: buffers.upload(rstd),
    dx: buffers.output(rows * cols), dgamma: buffers.output(cols), dbeta: buffers.output(cols), scratch: buffers.output(rows * cols), variant,
  };
  await runDispatches(gpu, layerNormBackward(gpu, s, io));
  const expected = layerNormBackwardRef(s, x, dy, gamma, mean, rstd);
  return Math.max(
    maxRelativeError(await readFloat32(gpu, io.dx, rows * cols), expected.dx, Math.max(...rstd)),
    maxRelativeError(await readFloat32(gpu, io.dgamma, cols), expected.dgamma, Math.sqrt(rows)),
    maxRelativeError(await readFloat32(gpu, io.dbeta, cols), expected.dbeta, Math.sqrt(rows)),
  );
}

async function softmaxBackwardError(gpu: Gpu, buffers: TestBuffers, rows: number, cols: number, log: boolean, variant: RowVariant): Promise<number> {
  const s = { outer: rows, n: cols, inner: 1 };
  const y = Float32Array.from(softmaxAxisRef(s, randomArray(rows * cols, rows * 19 + cols, -6, 6), log));
  const dy = randomArray(rows * cols, rows * 23 + cols);
  const dx = buffers.output(rows * cols);
  await runDispatches(gpu, softmaxAxisBackward(gpu, s, { y: buffers.upload(y), dy: buffers.upload(dy), dx, log, variant }));
  return maxRelativeError(await readFloat32(gpu, dx, rows * cols), softmaxAxisBackwardRef(s, y, dy, log));
}

async function softmaxError(gpu: Gpu, buffers: TestBuffers, rows: number, cols: number, log: boolean, variant: RowVariant): Promise<number> {
  const s = { outer: rows, n: cols, inner: 1 };
  const x = randomArray(rows * cols, rows * 17 + cols, -6, 6);
  const y = buffers.output(rows * cols);
  await runDispatches(gpu, softmaxAxis(gpu, s, { x: buffers.upload(x), y, log, variant }));
  return maxRelativeError(await readFloat32(gpu, y, rows * cols), softmaxAxisRef(s, x, log));
}

/** The error of rowLoss and dlogits, and how many rows' correctness differs (it must be exact). */
async function crossEntropyError(gpu: Gpu, buffers: TestBuffers, rows: number, classes: number, kind: 'labels' | 'targets', variant: RowVariant): Promise<[number, number]> {
  const logits = randomArray(rows * classes, rows * 7 + classes, -6, 6);
  const target: { labels: Uint32Array } | { targets: Float32Array } = kind === 'labels' ? { labels: randomLabels(rows, classes, rows + classes) } : { targets: randomTargets(rows, classes, rows + classes) };
  const smoothing = 0.1;
  const io = {
    logits: buffers.upload(logits), dlogits: buffers.output(rows * classes), rowLoss: buffers.output(rows), rowCorrect: buffers.output(rows),
    rows, classes, labelSmoothing: smoothing, variant,
    ...('labels' in target ? { labels: buffers.upload(target.labels) } : { targets: buffers.upload(target.targets) }),
  };
  await runDispatches(gpu, softmaxCrossEntropy(gpu, io));
  const expected = softmaxCrossEntropyRef(logits, rows, classes, target, smoothing);
  const correct = await readFloat32(gpu, io.rowCorrect, rows);
  const error = Math.max(
    maxRelativeError(await readFloat32(gpu, io.rowLoss, rows), expected.rowLoss),
    // Gradients are (p − y)/rows: judged relative to 1/rows, their natural size.
    maxRelativeError(await readFloat32(gpu, io.dlogits, rows * classes), expected.dlogits, 1 / rows),
  );
  return [error, correct.filter((v, r) => v !== expected.rowCorrect[r]).length];
}

/** Runs one row kernel with `variant` forced on random rows and compares it with its float64 reference. */
export async function checkRowKernel(gpu: Gpu, kernel: RowKernel, variant: RowVariant, rows: number, cols: number): Promise<RowCheck> {
  const buffers = new TestBuffers(gpu);
  try {
    let error = 0, exactMismatches = 0;
    if (kernel === 'layerNorm') error = await layerNormError(gpu, buffers, rows, cols, variant);
    else if (kernel === 'layerNormBackward') error = await layerNormBackwardError(gpu, buffers, rows, cols, variant);
    else if (kernel === 'softmax' || kernel === 'logSoftmax') error = await softmaxError(gpu, buffers, rows, cols, kernel === 'logSoftmax', variant);
    else if (kernel === 'softmaxBackward' || kernel === 'logSoftmaxBackward') error = await softmaxBackwardError(gpu, buffers, rows, cols, kernel === 'logSoftmaxBackward', variant);
    else [error, exactMismatches] = await crossEntropyError(gpu, buffers, rows, cols, kernel === 'crossEntropyLabels' ? 'labels' : 'targets', variant);
    return { kernel, variant, rows, cols, error, exactMismatches };
  } finally {
    buffers.destroy();
  }
}
