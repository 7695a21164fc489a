// Float64 CPU references for batch normalization over NCHW, PyTorch semantics.
import type { BatchNormShape } from '../../src/kernels/batchnorm.ts';

function forEachInChannel(s: BatchNormShape, c: number, visit: (index: number) => void): void {
  for (let n = 0; n < s.batch; n++) {
    for (let p = 0; p < s.spatial; p++) visit((n * s.channels + c) * s.spatial + p);
  }
}

export interface BatchNormTrainRef { y: Float64Array; mean: Float64Array; invStd: Float64Array; runningMean: Float64Array; runningVar: Float64Array }

export function batchNormForwardTrainRef(s: BatchNormShape, x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  running: { mean: ArrayLike<number>; var: ArrayLike<number> }, momentum: number, eps: number): BatchNormTrainRef {
  const count = s.batch * s.spatial;
  const y = new Float64Array(x.length), mean = new Float64Array(s.channels), invStd = new Float64Array(s.channels);
  const runningMean = Float64Array.from(running.mean), runningVar = Float64Array.from(running.var);
  for (let c = 0; c < s.channels; c++) {
    let sum = 0;
    forEachInChannel(s, c, (i) => { sum += x[i]!; });
    const m = sum / count;
    let squares = 0;
    forEachInChannel(s, c, (i) => { squares += (x[i]! - m) ** 2; });
    const variance = squares / count;
    mean[c] = m;
    invStd[c] = 1 / Math.sqrt(variance + eps);
    forEachInChannel(s, c, (i) => { y[i] = (x[i]! - m) * invStd[c]! * gamma[c]! + beta[c]!; });
    runningMean[c] = (1 - momentum) * runningMean[c]! + momentum * m;
    runningVar[c] = (1 - momentum) * runningVar[c]! + momentum * (squares / (count - 1));
  }
  return { y, mean, invStd, runningMean, runningVar };
}

export function batchNormForwardInferenceRef(s: BatchNormShape, x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let c = 0; c < s.channels; c++) {
    const scale = gamma[c]! / Math.sqrt(runningVar[c]! + eps);
    forEachInChannel(s, c, (i) => { y[i] = (x[i]! - runningMean[c]!) * scale + beta[c]!; });
  }
  return y;
}

export function batchNormBackwardRef(s: BatchNormShape, x: ArrayLike<number>, dy: ArrayLike<number>, gamma: ArrayLike<number>,
  mean: ArrayLike<number>, invStd: ArrayLike<number>): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const count = s.batch * s.spatial;
  const dx = new Float64Array(x.length), dgamma = new Float64Array(s.channels), dbeta = new Float64Array(s.channels);
  for (let c = 0; c < s.channels; c++) {
    const normalized = (i: number): number => (x[i]! - mean[c]!) * invStd[c]!;
    forEachInChannel(s, c, (i) => { dbeta[c]! += dy[i]!; dgamma[c]! += dy[i]! * normalized(i); });
    const scale = (gamma[c]! * invStd[c]!) / count;
    forEachInChannel(s, c, (i) => { dx[i] = scale * (count * dy[i]! - dbeta[c]! - normalized(i) * dgamma[c]!); });
  }
  return { dx, dgamma, dbeta };
}
