// Deterministic reductions shared by layers: bias gradients (Dense and conv) and row argmax.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

const WORKGROUP_SIZE = 64;
/** Dense bias gradients with at least this many channels sum one column per invocation. */
const COLUMN_SUM_MIN_CHANNELS = 32;

/**
 * dbias[c] = Σ_n Σ_s dy[(n·channels + c)·spatial + s], overwriting dbias. Dense layers pass
 * spatial = 1 (dy is [batch, channels]); convolutions pass spatial = H·W of their NCHW output.
 */
export function biasGradient(gpu: Gpu, io: { dy: BufferRef; dbias: BufferRef; batch: number; channels: number; spatial: number }): Dispatch[] {
  const params = { batch: io.batch, channels: io.channels, spatial: io.spatial };
  // One column per invocation once there are columns for half a workgroup or more; a few channels
  // keep a workgroup each, which splits their long sums across 64 lanes.
  if (io.spatial === 1 && io.channels >= COLUMN_SUM_MIN_CHANNELS) {
    return [kernel(gpu, 'reduce', 'biasGradientColumns').dispatch({ dy: io.dy, dbias: io.dbias, params }, grid1d(gpu, io.channels, WORKGROUP_SIZE), 'biasGradient.columns')];
  }
  const k = kernel(gpu, 'reduce', 'biasGradient');
  // One workgroup per channel, folded into y past the per-dimension limit.
  return [k.dispatch({ dy: io.dy, dbias: io.dbias, params }, grid1d(gpu, io.channels, 1), 'biasGradient')];
}

/** indices[r] (u32) = the column of row r's largest value; the first one on ties. */
export function argmaxRows(gpu: Gpu, io: { x: BufferRef; indices: BufferRef; rows: number; cols: number }): Dispatch[] {
  if (io.cols < 1) throw new Error(`argmaxRows: needs at least one column, got ${io.cols}`);
  const k = kernel(gpu, 'reduce', 'argmaxRows');
  const params = { batch: io.rows, channels: io.cols, spatial: 1 };
  return [k.dispatch({ x: io.x, indices: io.indices, params }, grid1d(gpu, io.rows, WORKGROUP_SIZE), 'argmaxRows')];
}
