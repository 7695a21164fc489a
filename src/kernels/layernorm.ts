// Layer normalization over the last axis (the transformer's per-token normalization), PyTorch's
// semantics: y = (x − mean)/√(var + eps)·gamma + beta with the biased variance of each row.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { biasGradient } from './reduce.ts';
import { rowVariant, workgroupPerRow, type RowVariant } from './row-variant.ts';

/** x is row-major [rows, cols]; gamma and beta have cols values. */
export interface LayerNormShape { rows: number; cols: number }

/** PyTorch's default. */
export const LAYER_NORM_EPS = 1e-5;

function checkShape(who: string, s: LayerNormShape): void {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${value}`);
  }
}

/** Rows per workgroup (WG in layernorm.wgsl); one invocation per row. */
const ROWS_PER_GROUP = 64;

function perRowGrid(gpu: Gpu, s: LayerNormShape): readonly [number, number, number] {
  return grid1d(gpu, s.rows, ROWS_PER_GROUP);
}

/**
 * Writes y and saves each row's mean and rstd = 1/√(var + eps) for the backward pass. `variant`
 * forces one kernel (src/kernels/row-variant.ts); by default the subgroup one wherever the device
 * has `subgroups`.
 */
export function layerNormForward(gpu: Gpu, s: LayerNormShape, io: {
  x: BufferRef; gamma: BufferRef; beta: BufferRef; y: BufferRef; mean: BufferRef; rstd: BufferRef; eps?: number; variant?: RowVariant;
}): Dispatch[] {
  checkShape('layerNormForward', s);
  const eps = io.eps ?? LAYER_NORM_EPS;
  if (!(eps > 0)) throw new Error(`layerNormForward: eps must be positive, got ${eps}`);
  const params = { rows: s.rows, cols: s.cols, eps };
  const { x, gamma, beta, y, mean, rstd } = io;
  const resources = { x, gamma, beta, y, mean, rstd, params };
  if (rowVariant(gpu, 'layerNormForward', io.variant) === 'subgroup') {
    return [kernel(gpu, 'layernorm_subgroup', 'forwardSubgroup').dispatch(resources, workgroupPerRow(gpu, s.rows), 'layerNormForward')];
  }
  return [kernel(gpu, 'layernorm', 'forward').dispatch(resources, perRowGrid(gpu, s), 'layerNormForward')];
}

/**
 * dx, and dgamma and dbeta (both overwritten) from the saved mean and rstd. `scratch` holds rows·cols
 * floats (dy·x̂, reduced over rows into dgamma); dgamma and dbeta are fixed-order column sums, so
 * the result repeats bit for bit. `variant` picks the row pass's kernel as in layerNormForward.
 */
export function layerNormBackward(gpu: Gpu, s: LayerNormShape, io: {
  x: BufferRef; dy: BufferRef; gamma: BufferRef; mean: BufferRef; rstd: BufferRef;
  dx: BufferRef; dgamma: BufferRef; dbeta: BufferRef; scratch: BufferRef; variant?: RowVariant;
}): Dispatch[] {
  checkShape('layerNormBackward', s);
  const params = { rows: s.rows, cols: s.cols, eps: 0 };
  const resources = { x: io.x, dy: io.dy, gamma: io.gamma, meanIn: io.mean, rstdIn: io.rstd, dx: io.dx, dyXhat: io.scratch, params };
  const rowPass = rowVariant(gpu, 'layerNormBackward', io.variant) === 'subgroup'
    ? kernel(gpu, 'layernorm_subgroup', 'backwardSubgroup').dispatch(resources, workgroupPerRow(gpu, s.rows), 'layerNormBackward')
    : kernel(gpu, 'layernorm', 'backward').dispatch(resources, perRowGrid(gpu, s), 'layerNormBackward');
  const columns = { batch: s.rows, channels: s.cols, spatial: 1 };
  return [
    rowPass,
    ...biasGradient(gpu, { dy: io.scratch, dbias: io.dgamma, ...columns }),
    ...biasGradient(gpu, { dy: io.dy, dbias: io.dbeta, ...columns }),
  ];
}
