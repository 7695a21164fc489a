// Launchers for reductions and normalizations along one axis (shaders/reduce_axis.wgsl): sum, max
// with argmax, softmax and log-softmax, and their gradients. A tensor is seen as [outer, n, inner]
// around the axis; one invocation per column, each walking its n elements in order.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { elementCount, formatShape } from '../graph/graph.ts';
import { rowVariant, workgroupPerRow, type RowVariant } from './row-variant.ts';

const WORKGROUP_SIZE = 64;

/** A tensor around one axis: `outer` blocks of `n` elements along it, each `inner` apart. */
export interface AxisShape { outer: number; n: number; inner: number }

/** The [outer, n, inner] view of a row-major `shape` around `axis` (non-negative). */
export function axisShape(shape: readonly number[], axis: number): AxisShape {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new Error(`axisShape: axis ${axis} is out of range for ${formatShape(shape)}`);
  return { outer: elementCount(shape.slice(0, axis)), n: shape[axis]!, inner: elementCount(shape.slice(axis + 1)) };
}

function checkAxisShape(who: string, s: AxisShape): void {
  if (![s.outer, s.n, s.inner].every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`${who}: sizes must be positive integers, got outer ${s.outer}, n ${s.n}, inner ${s.inner}`);
}

function launch(gpu: Gpu, entry: string, s: AxisShape, resources: Record<string, BufferRef>, alpha = 1, constants: Record<string, number> = {}): Dispatch[] {
  checkAxisShape(entry, s);
  const columns = s.outer * s.inner;
  const params = { outer: s.outer, n: s.n, inner: s.inner, alpha };
  return [kernel(gpu, 'reduce_axis', entry, constants).dispatch({ ...resources, params }, grid1d(gpu, columns, WORKGROUP_SIZE), entry)];
}

/** y [outer, inner] = alpha · the sum of x [outer, n, inner] along n (alpha = 1/n gives the mean). */
export function sumAxis(gpu: Gpu, s: AxisShape, io: { x: BufferRef; y: BufferRef; alpha?: number }): Dispatch[] {
  return launch(gpu, 'sumAxis', s, { x: io.x, y: io.y }, io.alpha ?? 1);
}

/** dx [outer, n, inner] = alpha · dy [outer, inner] repeated along n: sumAxis's gradient. */
export function sumAxisBackward(gpu: Gpu, s: AxisShape, io: { dy: BufferRef; dx: BufferRef; alpha?: number }): Dispatch[] {
  return launch(gpu, 'sumAxisBackward', s, { dy: io.dy, dx: io.dx }, io.alpha ?? 1);
}

/** y [outer, inner] = the maximum along n; argmax (u32) = its first index, so ties go to the lowest. */
export function maxAxis(gpu: Gpu, s: AxisShape, io: { x: BufferRef; y: BufferRef; argmax: BufferRef }): Dispatch[] {
  return launch(gpu, 'maxAxis', s, { x: io.x, y: io.y, argmax: io.argmax });
}

/** dx = dy at each column's recorded argmax, zero elsewhere: maxAxis's gradient. */
export function maxAxisBackward(gpu: Gpu, s: AxisShape, io: { dy: BufferRef; argmax: BufferRef; dx: BufferRef }): Dispatch[] {
  return launch(gpu, 'maxAxisBackward', s, { dy: io.dy, argmaxIn: io.argmax, dx: io.dx });
}

/**
 * Softmax (or log-softmax, with `log`) along n, shifted by the column maximum. Along the last axis
 * (inner = 1) `variant` forces one kernel (src/kernels/row-variant.ts); by default the subgroup one
 * wherever the device has `subgroups`. Other axes have only the invocation-per-column kernel.
 */
export function softmaxAxis(gpu: Gpu, s: AxisShape, io: { x: BufferRef; y: BufferRef; log?: boolean; variant?: RowVariant }): Dispatch[] {
  return launchRows(gpu, 'softmaxAxis', 'softmaxRowsSubgroup', s, { x: io.x, y: io.y }, io.log, io.variant);
}

/** The gradient of softmaxAxis from its output y; `variant` as in softmaxAxis. */
export function softmaxAxisBackward(gpu: Gpu, s: AxisShape, io: { y: BufferRef; dy: BufferRef; dx: BufferRef; log?: boolean; variant?: RowVariant }): Dispatch[] {
  return launchRows(gpu, 'softmaxAxisBackward', 'softmaxRowsBackwardSubgroup', s, { yIn: io.y, dy: io.dy, dx: io.dx }, io.log, io.variant);
}

/** `entry` of reduce_axis.wgsl, or along the last axis `subgroupEntry` of reduce_axis_subgroup.wgsl (row-variant.ts decides). */
function launchRows(gpu: Gpu, entry: string, subgroupEntry: string, s: AxisShape, resources: Record<string, BufferRef>, log: boolean | undefined, variant: RowVariant | undefined): Dispatch[] {
  const constants = { LOG: log ? 1 : 0 };
  if (s.inner !== 1) {
    if (variant === 'subgroup') throw new Error(`${entry}: the subgroup variant runs along the last axis only (inner = 1), got inner ${s.inner}`);
    return launch(gpu, entry, s, resources, 1, constants);
  }
  if (rowVariant(gpu, entry, variant) === 'invocation') return launch(gpu, entry, s, resources, 1, constants);
  checkAxisShape(entry, s);
  const params = { outer: s.outer, n: s.n, inner: s.inner, alpha: 1 };
  return [kernel(gpu, 'reduce_axis_subgroup', subgroupEntry, constants).dispatch({ ...resources, params }, workgroupPerRow(gpu, s.outer), entry)];
}
