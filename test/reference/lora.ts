// Float64 reference of a LoRA-adapted Dense over rows: y = x·Wᵀ + b + scale·(xa·Aᵀ)·Bᵀ, and every gradient,
// where the adapter reads xa: x itself, or its dropout while training.

export interface LoraShape { rows: number; inFeatures: number; units: number; rank: number; scale: number }

export interface LoraWeights { w: ArrayLike<number>; bias?: ArrayLike<number>; a: ArrayLike<number>; b: ArrayLike<number> }

/** h = xa·Aᵀ [rows, rank] and y [rows, units]. */
export function loraForwardRef(s: LoraShape, x: ArrayLike<number>, p: LoraWeights, xa: ArrayLike<number> = x): { y: Float64Array; h: Float64Array } {
  const { rows, inFeatures, units, rank, scale } = s;
  const h = new Float64Array(rows * rank), y = new Float64Array(rows * units);
  for (let n = 0; n < rows; n++) {
    for (let r = 0; r < rank; r++) {
      let sum = 0;
      for (let i = 0; i < inFeatures; i++) sum += xa[n * inFeatures + i]! * p.a[r * inFeatures + i]!;
      h[n * rank + r] = sum;
    }
    for (let o = 0; o < units; o++) {
      let sum = p.bias ? p.bias[o]! : 0;
      for (let i = 0; i < inFeatures; i++) sum += x[n * inFeatures + i]! * p.w[o * inFeatures + i]!;
      let low = 0;
      for (let r = 0; r < rank; r++) low += h[n * rank + r]! * p.b[o * rank + r]!;
      y[n * units + o] = sum + scale * low;
    }
  }
  return { y, h };
}

/** dx is the base path's share of x's gradient; dxa, the adapter's, is the gradient of xa. */
export interface LoraGradients { dx: Float64Array; dxa: Float64Array; dw: Float64Array; dbias: Float64Array; da: Float64Array; db: Float64Array }

export function loraBackwardRef(s: LoraShape, x: ArrayLike<number>, p: LoraWeights, h: ArrayLike<number>, dy: ArrayLike<number>, xa: ArrayLike<number> = x): LoraGradients {
  const { rows, inFeatures, units, rank, scale } = s;
  const dx = new Float64Array(rows * inFeatures), dxa = new Float64Array(rows * inFeatures), dw = new Float64Array(units * inFeatures), dbias = new Float64Array(units);
  const da = new Float64Array(rank * inFeatures), db = new Float64Array(units * rank);
  for (let n = 0; n < rows; n++) {
    const dh = new Float64Array(rank);
    for (let o = 0; o < units; o++) {
      const g = dy[n * units + o]!;
      dbias[o]! += g;
      for (let i = 0; i < inFeatures; i++) { dw[o * inFeatures + i]! += g * x[n * inFeatures + i]!; dx[n * inFeatures + i]! += g * p.w[o * inFeatures + i]!; }
      for (let r = 0; r < rank; r++) { db[o * rank + r]! += scale * g * h[n * rank + r]!; dh[r]! += scale * g * p.b[o * rank + r]!; }
    }
    for (let r = 0; r < rank; r++) for (let i = 0; i < inFeatures; i++) {
      da[r * inFeatures + i]! += dh[r]! * xa[n * inFeatures + i]!;
      dxa[n * inFeatures + i]! += dh[r]! * p.a[r * inFeatures + i]!;
    }
  }
  return { dx, dxa, dw, dbias, da, db };
}
