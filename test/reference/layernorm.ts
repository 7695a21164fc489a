// Float64 CPU references for layer normalization over the last axis, PyTorch semantics.
import type { LayerNormShape } from '../../src/kernels/layernorm.ts';

export interface LayerNormForwardRef { y: Float64Array; mean: Float64Array; rstd: Float64Array }

export function layerNormForwardRef(s: LayerNormShape, x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): LayerNormForwardRef {
  const y = new Float64Array(s.rows * s.cols), mean = new Float64Array(s.rows), rstd = new Float64Array(s.rows);
  for (let r = 0; r < s.rows; r++) {
    const base = r * s.cols;
    let sum = 0;
    for (let c = 0; c < s.cols; c++) sum += x[base + c]!;
    const m = sum / s.cols;
    let squares = 0;
    for (let c = 0; c < s.cols; c++) squares += (x[base + c]! - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(squares / s.cols + eps);
    for (let c = 0; c < s.cols; c++) y[base + c] = (x[base + c]! - m) * rstd[r]! * gamma[c]! + beta[c]!;
  }
  return { y, mean, rstd };
}

export function layerNormBackwardRef(s: LayerNormShape, x: ArrayLike<number>, dy: ArrayLike<number>, gamma: ArrayLike<number>,
  mean: ArrayLike<number>, rstd: ArrayLike<number>): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(s.rows * s.cols), dgamma = new Float64Array(s.cols), dbeta = new Float64Array(s.cols);
  for (let r = 0; r < s.rows; r++) {
    const base = r * s.cols;
    const normalized = (c: number): number => (x[base + c]! - mean[r]!) * rstd[r]!;
    let sumG = 0, sumGx = 0;
    for (let c = 0; c < s.cols; c++) {
      const g = dy[base + c]! * gamma[c]!;
      sumG += g;
      sumGx += g * normalized(c);
      dgamma[c]! += dy[base + c]! * normalized(c);
      dbeta[c]! += dy[base + c]!;
    }
    for (let c = 0; c < s.cols; c++) dx[base + c] = rstd[r]! * (dy[base + c]! * gamma[c]! - (sumG + normalized(c) * sumGx) / s.cols);
  }
  return { dx, dgamma, dbeta };
}
