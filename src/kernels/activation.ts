// Elementwise activations (forward from x, backward from the forward output y) and row softmax.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, holdsVec4s, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

export type ActivationKind = 'relu' | 'sigmoid' | 'tanh';

/** The value of the WGSL override KIND for each activation. */
const KIND_CODE: Record<ActivationKind, number> = { relu: 0, sigmoid: 1, tanh: 2 };
const WORKGROUP_SIZE = 256;
const ROWS_PER_GROUP = 64;

export function activationForward(gpu: Gpu, kind: ActivationKind, io: { x: BufferRef; y: BufferRef; count: number }): Dispatch[] {
  const vec4 = [io.x, io.y].every((ref) => holdsVec4s(ref, io.count));
  const count = vec4 ? io.count / 4 : io.count;
  const k = kernel(gpu, 'activation', vec4 ? 'forward4' : 'forward', { KIND: KIND_CODE[kind] });
  return [k.dispatch({ [vec4 ? 'x4' : 'x']: io.x, [vec4 ? 'y4' : 'y']: io.y, params: { count, cols: 1 } }, grid1d(gpu, count, WORKGROUP_SIZE), `${kind}Forward`)];
}

/** dx = dy · f′, with f′ written in terms of y = f(x): relu y>0, sigmoid y(1−y), tanh 1−y². */
export function activationBackward(gpu: Gpu, kind: ActivationKind, io: { y: BufferRef; dy: BufferRef; dx: BufferRef; count: number }): Dispatch[] {
  const vec4 = [io.y, io.dy, io.dx].every((ref) => holdsVec4s(ref, io.count));
  const count = vec4 ? io.count / 4 : io.count;
  const k = kernel(gpu, 'activation', vec4 ? 'backward4' : 'backward', { KIND: KIND_CODE[kind] });
  const suffix = vec4 ? '4' : '';
  return [k.dispatch({ [`yIn${suffix}`]: io.y, [`dy${suffix}`]: io.dy, [`dx${suffix}`]: io.dx, params: { count, cols: 1 } }, grid1d(gpu, count, WORKGROUP_SIZE), `${kind}Backward`)];
}

/** Numerically stable softmax of each row of a row-major [rows, cols] matrix. */
export function softmaxRows(gpu: Gpu, io: { x: BufferRef; y: BufferRef; rows: number; cols: number }): Dispatch[] {
  if (io.cols < 1) throw new Error(`softmaxRows: needs at least one column, got ${io.cols}`);
  const k = kernel(gpu, 'activation', 'softmaxRows');
  const params = { count: io.rows * io.cols, cols: io.cols };
  return [k.dispatch({ x: io.x, y: io.y, params }, grid1d(gpu, io.rows, ROWS_PER_GROUP), 'softmaxRows')];
}
