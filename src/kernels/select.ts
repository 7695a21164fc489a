// Launchers for choosing elements by a condition with broadcasting (shaders/select.wgsl):
// where(cond, a, b), maskedFill(x, mask, value) and the gradient that keeps dy on one side.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { elementCount, formatShape, type DType } from '../graph/graph.ts';
import { broadcastShape, collapseBroadcast } from './elementwise.ts';

const WORKGROUP_SIZE = 256;
const MAX_RANK = 6;

/** The uniform values for output `outShape` read from cond, a and b of their own (broadcast) shapes. */
function selectParams(outShape: readonly number[], shapes: readonly (readonly number[])[], value: number): { params: Record<string, number>; rank: number } {
  const { dims, strides } = collapseBroadcast(outShape, shapes);
  const count = elementCount(outShape);
  const params: Record<string, number> = { count, value };
  for (let k = 0; k < MAX_RANK; k++) {
    params[`d${k}`] = dims[k] ?? 1;
    ['c', 'a', 'b'].forEach((operand, o) => { params[`${operand}${k}`] = strides[o]?.[k] ?? 0; });
  }
  return { params, rank: dims.length };
}

function checkCondDType(dtype: DType, label: string): number {
  if (dtype !== 'f32' && dtype !== 'u32') throw new Error(`${label}: the condition must be f32 or u32, got ${JSON.stringify(dtype)}`);
  return dtype === 'f32' ? 1 : 0;
}

export interface WhereIO {
  cond: BufferRef; a: BufferRef; b: BufferRef; out: BufferRef;
  condShape: readonly number[]; aShape: readonly number[]; bShape: readonly number[];
  /** How cond's words are read: f32 (true unless ±0) or u32 (true unless 0). */
  condDType: DType;
}

/** out = cond ? a : b elementwise, all three broadcast to the output (their broadcast shape). */
export function selectWhere(gpu: Gpu, io: WhereIO, label = 'select.where'): Dispatch[] {
  const outShape = broadcastShape(broadcastShape(io.condShape, io.aShape, label), io.bShape, label);
  const { params, rank } = selectParams(outShape, [io.condShape, io.aShape, io.bShape], 0);
  const k = kernel(gpu, 'select', 'whereForward', { RANK: rank, COND_F32: checkCondDType(io.condDType, label) });
  return [k.dispatch({ cond: io.cond, a: io.a, b: io.b, out: io.out, params }, grid1d(gpu, params.count!, WORKGROUP_SIZE), label)];
}

export interface MaskedFillIO { x: BufferRef; mask: BufferRef; out: BufferRef; shape: readonly number[]; maskShape: readonly number[]; maskDType: DType; value: number }

/** out = mask ? value : x; the mask broadcasts to x's shape, which the output keeps. */
export function selectMaskedFill(gpu: Gpu, io: MaskedFillIO, label = 'select.maskedFill'): Dispatch[] {
  checkBroadcastsTo(io.maskShape, io.shape, label);
  const { params, rank } = selectParams(io.shape, [io.maskShape, io.shape, io.shape], io.value);
  const k = kernel(gpu, 'select', 'maskedFillForward', { RANK: rank, COND_F32: checkCondDType(io.maskDType, label) });
  return [k.dispatch({ cond: io.mask, b: io.x, out: io.out, params }, grid1d(gpu, params.count!, WORKGROUP_SIZE), label)];
}

export interface WhereBackwardIO { cond: BufferRef; dy: BufferRef; out: BufferRef; condShape: readonly number[]; outShape: readonly number[]; condDType: DType; takeTrue: boolean }

/** out = dy where cond is true (takeTrue) or false (not takeTrue), else 0; out has dy's shape. */
export function whereBackward(gpu: Gpu, io: WhereBackwardIO, label = 'select.whereBackward'): Dispatch[] {
  checkBroadcastsTo(io.condShape, io.outShape, label);
  const { params, rank } = selectParams(io.outShape, [io.condShape, io.outShape, io.outShape], 0);
  const k = kernel(gpu, 'select', 'whereBackward', { RANK: rank, COND_F32: checkCondDType(io.condDType, label), TAKE_TRUE: io.takeTrue ? 1 : 0 });
  return [k.dispatch({ cond: io.cond, dy: io.dy, out: io.out, params }, grid1d(gpu, params.count!, WORKGROUP_SIZE), label)];
}

function checkBroadcastsTo(shape: readonly number[], target: readonly number[], label: string): void {
  const joint = broadcastShape(shape, target, label);
  if (joint.length !== target.length || joint.some((d, i) => d !== target[i])) throw new Error(`${label}: the mask ${formatShape(shape)} does not broadcast to ${formatShape(target)}`);
}
