// Elementwise arithmetic with NumPy broadcasting, unary functions, broadcast-gradient reduction and
// fills (shaders/elementwise.wgsl).
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { elementCount, formatShape } from '../graph/graph.ts';

const WORKGROUP_SIZE = 256;
const MAX_RANK = 6;

export const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];
export const UNARY_OPS = ['affine', 'exp', 'log', 'sqrt'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** NumPy broadcasting: shapes align on the right; each pair of sizes must match or one must be 1. */
export function broadcastShape(a: readonly number[], b: readonly number[], what = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (${x} vs ${y} at axis ${i - rank})`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** The output's dims with each operand's element strides, after merging axes that broadcast alike. */
export interface Collapsed { dims: number[]; strides: number[][] }

/**
 * Collapses `out` and operands broadcast to it into at most six dimensions: size-1 output axes
 * drop, and neighbouring axes merge where every operand either spans both or broadcasts along both.
 */
export function collapseBroadcast(out: readonly number[], operands: readonly (readonly number[])[]): Collapsed {
  const padded = operands.map((s) => [...Array<number>(out.length - s.length).fill(1), ...s]);
  const contiguous = padded.map((s) => {
    const strides = new Array<number>(s.length).fill(1);
    for (let i = s.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * s[i + 1]!;
    return strides;
  });
  const dims: number[] = [];
  const strides: number[][] = operands.map(() => []);
  let lastPattern = '';
  for (let axis = 0; axis < out.length; axis++) {
    const size = out[axis]!;
    if (size === 1) continue;
    const spans = padded.map((s) => s[axis] === size);
    const pattern = spans.map(Number).join('');
    if (pattern === lastPattern) {
      dims[dims.length - 1]! *= size;
      spans.forEach((span, o) => { if (span) strides[o]![strides[o]!.length - 1] = contiguous[o]![axis]!; });
    } else {
      dims.push(size);
      spans.forEach((span, o) => strides[o]!.push(span ? contiguous[o]![axis]! : 0));
      lastPattern = pattern;
    }
  }
  if (dims.length === 0) return { dims: [1], strides: operands.map(() => [0]) };
  if (dims.length > MAX_RANK) throw new Error(`broadcast of ${operands.map(formatShape).join(' and ')} to ${formatShape(out)} alternates too often (${dims.length} collapsed axes; at most ${MAX_RANK})`);
  return { dims, strides };
}

function shapeParams(collapsed: Collapsed, count: number, alpha: number, beta: number): Record<string, number> {
  const params: Record<string, number> = { count, alpha, beta };
  for (let k = 0; k < MAX_RANK; k++) {
    params[`d${k}`] = collapsed.dims[k] ?? 1;
    params[`a${k}`] = collapsed.strides[0]?.[k] ?? 0;
    params[`b${k}`] = collapsed.strides[1]?.[k] ?? 0;
  }
  return params;
}

export interface BinaryIO {
  op: BinaryOp;
  a: BufferRef;
  b: BufferRef;
  out: BufferRef;
  aShape: readonly number[];
  bShape: readonly number[];
  /** Defaults to the broadcast of aShape and bShape. */
  outShape?: readonly number[];
  /** out = alpha · op(a, b); default 1. */
  alpha?: number;
}

/** out = alpha · op(a, b), a and b broadcast to out's shape. */
export function binaryOp(gpu: Gpu, io: BinaryIO, label = `elementwise.${io.op}`): Dispatch[] {
  const outShape = io.outShape ?? broadcastShape(io.aShape, io.bShape, label);
  const collapsed = collapseBroadcast(outShape, [io.aShape, io.bShape]);
  const count = elementCount(outShape);
  const k = kernel(gpu, 'elementwise', 'binary', { RANK: collapsed.dims.length, OP: BINARY_OPS.indexOf(io.op) });
  return [k.dispatch({ a: io.a, b: io.b, out: io.out, params: shapeParams(collapsed, count, io.alpha ?? 1, 0) }, grid1d(gpu, count, WORKGROUP_SIZE), label)];
}

export interface UnaryIO { op: UnaryOp; x: BufferRef; y: BufferRef; count: number; alpha?: number; beta?: number }

/** y = f(alpha · x + beta) elementwise; f is the identity for 'affine'. */
export function unaryOp(gpu: Gpu, io: UnaryIO, label = `elementwise.${io.op}`): Dispatch[] {
  const k = kernel(gpu, 'elementwise', 'unary', { OP: UNARY_OPS.indexOf(io.op) });
  const params = shapeParams({ dims: [io.count], strides: [] }, io.count, io.alpha ?? 1, io.beta ?? 0);
  return [k.dispatch({ a: io.x, out: io.y, params }, grid1d(gpu, io.count, WORKGROUP_SIZE), label)];
}

export interface SumToShapeIO {
  /** A tensor of the broadcast shape. */
  src: BufferRef;
  /** The operand-shaped result. */
  dst: BufferRef;
  srcShape: readonly number[];
  dstShape: readonly number[];
  alpha?: number;
}

/** dst = alpha · the sum of src over the axes along which dstShape was broadcast to srcShape. */
export function sumToShape(gpu: Gpu, io: SumToShapeIO, label = 'elementwise.sumToShape'): Dispatch[] {
  const broadcast = broadcastShape(io.srcShape, io.dstShape, label);
  if (broadcast.length !== io.srcShape.length || broadcast.some((d, i) => d !== io.srcShape[i])) {
    throw new Error(`${label}: ${formatShape(io.dstShape)} does not broadcast to ${formatShape(io.srcShape)}`);
  }
  const collapsed = collapseBroadcast(io.srcShape, [io.srcShape, io.dstShape]);
  const count = elementCount(io.dstShape);
  const k = kernel(gpu, 'elementwise', 'sumToShape', { RANK: collapsed.dims.length });
  return [k.dispatch({ a: io.src, out: io.dst, params: shapeParams(collapsed, count, io.alpha ?? 1, 0) }, grid1d(gpu, count, WORKGROUP_SIZE), label)];
}

/** out[0..count) = value. */
export function fillBuffer(gpu: Gpu, io: { out: BufferRef; count: number; value: number }, label = 'elementwise.fill'): Dispatch[] {
  const params = shapeParams({ dims: [io.count], strides: [] }, io.count, 1, io.value);
  return [kernel(gpu, 'elementwise', 'fill').dispatch({ out: io.out, params }, grid1d(gpu, io.count, WORKGROUP_SIZE), label)];
}

/**
 * y = x with its axes permuted: y's axis k is x's axis perm[k] (shape is x's). Axes that stay
 * neighbours in the same order merge, so a batched matrix transpose runs at rank 3.
 */
export function permuteAxes(gpu: Gpu, io: { x: BufferRef; y: BufferRef; shape: readonly number[]; perm: readonly number[] }, label = 'elementwise.permute'): Dispatch[] {
  const { shape, perm } = io;
  if (perm.length !== shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new Error(`${label}: ${JSON.stringify(perm)} is not a permutation of the ${shape.length} axes of ${formatShape(shape)}`);
  }
  const inStrides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
  const dims: number[] = [];
  const strides: number[] = [];
  let previous = -2;
  for (const axis of perm) {
    const size = shape[axis]!;
    if (size === 1) continue;
    if (axis === previous + 1 && dims.length > 0) {
      dims[dims.length - 1]! *= size;
      strides[strides.length - 1] = inStrides[axis]!;
    } else {
      dims.push(size);
      strides.push(inStrides[axis]!);
    }
    previous = axis;
  }
  const collapsed: Collapsed = dims.length ? { dims, strides: [strides] } : { dims: [1], strides: [[0]] };
  if (collapsed.dims.length > MAX_RANK) throw new Error(`${label}: ${JSON.stringify(perm)} of ${formatShape(shape)} needs ${collapsed.dims.length} axes; at most ${MAX_RANK}`);
  const count = elementCount(shape);
  const k = kernel(gpu, 'elementwise', 'permute', { RANK: collapsed.dims.length });
  return [k.dispatch({ a: io.x, out: io.y, params: shapeParams(collapsed, count, 1, 0) }, grid1d(gpu, count, WORKGROUP_SIZE), label)];
}

/** y (of outShape) = x (of shape, which broadcasts to outShape) copied out to every broadcast position. */
export function broadcastTo(gpu: Gpu, io: { x: BufferRef; y: BufferRef; shape: readonly number[]; outShape: readonly number[] }, label = 'elementwise.broadcastTo'): Dispatch[] {
  const joint = broadcastShape(io.shape, io.outShape, label);
  if (joint.length !== io.outShape.length || joint.some((d, i) => d !== io.outShape[i])) throw new Error(`${label}: ${formatShape(io.shape)} does not broadcast to ${formatShape(io.outShape)}`);
  // The permute kernel reads x through per-axis strides; a stride of 0 repeats x along that axis.
  const collapsed = collapseBroadcast(io.outShape, [io.shape]);
  const count = elementCount(io.outShape);
  const k = kernel(gpu, 'elementwise', 'permute', { RANK: collapsed.dims.length });
  return [k.dispatch({ a: io.x, out: io.y, params: shapeParams(collapsed, count, 1, 0) }, grid1d(gpu, count, WORKGROUP_SIZE), label)];
}
