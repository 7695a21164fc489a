// Batch normalization, NCHW (spatial = H·W; Dense features pass spatial = 1), with PyTorch's
// semantics: the biased batch variance normalizes, the unbiased one feeds runningVar, and
// running = (1 − momentum)·running + momentum·batch.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

export interface BatchNormShape { batch: number; channels: number; spatial: number }

const ELEMENTWISE_WG = 256;

function shapeParams(s: BatchNormShape, momentum: number, eps: number): Record<string, number> {
  return { batch: s.batch, channels: s.channels, spatial: s.spatial, momentum, eps };
}

/** One workgroup per channel, folded into y past the per-dimension limit. */
function perChannelGrid(gpu: Gpu, s: BatchNormShape): readonly [number, number, number] {
  return grid1d(gpu, s.channels, 1);
}

/**
 * Normalizes with the batch statistics, saves mean and invStd = 1/√(var + eps) per channel for the
 * backward pass, and updates runningMean/runningVar in place.
 */
export function batchNormForwardTrain(gpu: Gpu, s: BatchNormShape, io: {
  x: BufferRef; gamma: BufferRef; beta: BufferRef; y: BufferRef; mean: BufferRef; invStd: BufferRef;
  runningMean: BufferRef; runningVar: BufferRef; momentum: number; eps: number;
}): Dispatch[] {
  // PyTorch refuses too: the unbiased variance of one value is undefined.
  if (s.batch * s.spatial < 2) throw new Error(`batchNormForwardTrain: needs more than one value per channel, got batch ${s.batch} × spatial ${s.spatial}`);
  const k = kernel(gpu, 'batchnorm', 'forwardTrain');
  const { x, gamma, beta, y, mean, invStd, runningMean, runningVar } = io;
  const params = shapeParams(s, io.momentum, io.eps);
  return [k.dispatch({ x, gamma, beta, y, mean, invStd, runningMean, runningVar, params }, perChannelGrid(gpu, s), 'batchNormForwardTrain')];
}

/** Normalizes with the running statistics (evaluation mode). */
export function batchNormForwardInference(gpu: Gpu, s: BatchNormShape, io: {
  x: BufferRef; gamma: BufferRef; beta: BufferRef; runningMean: BufferRef; runningVar: BufferRef; y: BufferRef; eps: number;
}): Dispatch[] {
  const k = kernel(gpu, 'batchnorm', 'forwardInference');
  const resources = { x: io.x, gamma: io.gamma, beta: io.beta, runningMeanIn: io.runningMean, runningVarIn: io.runningVar, y: io.y, params: shapeParams(s, 0, io.eps) };
  return [k.dispatch(resources, grid1d(gpu, s.batch * s.channels * s.spatial, ELEMENTWISE_WG), 'batchNormForwardInference')];
}

/** dx, dgamma and dbeta (both overwritten) from the saved mean and invStd of the training forward. */
export function batchNormBackward(gpu: Gpu, s: BatchNormShape, io: {
  x: BufferRef; dy: BufferRef; gamma: BufferRef; mean: BufferRef; invStd: BufferRef; dx: BufferRef; dgamma: BufferRef; dbeta: BufferRef;
}): Dispatch[] {
  const k = kernel(gpu, 'batchnorm', 'backward');
  const resources = { x: io.x, dy: io.dy, gamma: io.gamma, meanIn: io.mean, invStdIn: io.invStd, dx: io.dx, dgamma: io.dgamma, dbeta: io.dbeta, params: shapeParams(s, 0, 0) };
  return [k.dispatch(resources, perChannelGrid(gpu, s), 'batchNormBackward')];
}
