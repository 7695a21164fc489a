// Float64 CPU references for activations and row softmax.
import type { ActivationKind } from '../../src/kernels/activation.ts';

export function activationForwardRef(kind: ActivationKind, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = kind === 'relu' ? Math.max(v, 0) : kind === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : Math.tanh(v);
  }
  return y;
}

/** dx from the forward output y, as the GPU kernel computes it. */
export function activationBackwardRef(kind: ActivationKind, y: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const out = y[i]!;
    const slope = kind === 'relu' ? (out > 0 ? 1 : 0) : kind === 'sigmoid' ? out * (1 - out) : 1 - out * out;
    dx[i] = dy[i]! * slope;
  }
  return dx;
}

export function softmaxRowsRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let largest = -Infinity;
    for (let c = 0; c < cols; c++) largest = Math.max(largest, x[r * cols + c]!);
    let total = 0;
    for (let c = 0; c < cols; c++) total += (y[r * cols + c] = Math.exp(x[r * cols + c]! - largest));
    for (let c = 0; c < cols; c++) y[r * cols + c]! /= total;
  }
  return y;
}
