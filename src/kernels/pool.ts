// 2-D max and average pooling launchers (NCHW). Shapes and semantics follow PyTorch's MaxPool2d /
// AvgPool2d with ceil_mode=False; average pooling counts padding in the divisor (count_include_pad=True).
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch, type UniformValues } from '../gpu/kernel.ts';

export interface Pool2dShape {
  batch: number; channels: number; height: number; width: number;
  windowH: number; windowW: number; strideH: number; strideW: number; padH: number; padW: number;
}

const WORKGROUP_SIZE = 256;

export function pool2dOutputSize(s: Pool2dShape): { outH: number; outW: number } {
  return {
    outH: Math.floor((s.height + 2 * s.padH - s.windowH) / s.strideH) + 1,
    outW: Math.floor((s.width + 2 * s.padW - s.windowW) / s.strideW) + 1,
  };
}

function checkShape(s: Pool2dShape): { outH: number; outW: number } {
  const { outH, outW } = pool2dOutputSize(s);
  // PyTorch's rule: padding at most half the window, so every window holds at least one real input.
  if (2 * s.padH > s.windowH || 2 * s.padW > s.windowW) throw new Error(`pool2d: padding ${s.padH}×${s.padW} exceeds half the window ${s.windowH}×${s.windowW}`);
  if (outH < 1 || outW < 1 || s.strideH < 1 || s.strideW < 1) throw new Error(`pool2d: ${JSON.stringify(s)} gives no output`);
  return { outH, outW };
}

function params(s: Pool2dShape): UniformValues {
  return { planes: s.batch * s.channels };
}

/** The pipeline constants of a plane geometry (see shaders/pool.wgsl). */
function geometry(s: Pool2dShape, outH: number, outW: number): Record<string, number> {
  return {
    HEIGHT: s.height, WIDTH: s.width, OUT_H: outH, OUT_W: outW, WINDOW_H: s.windowH, WINDOW_W: s.windowW,
    STRIDE_H: s.strideH, STRIDE_W: s.strideW, PAD_H: s.padH, PAD_W: s.padW,
  };
}

export function maxPool2dForward(gpu: Gpu, s: Pool2dShape, io: { x: BufferRef; y: BufferRef; argmax: BufferRef }): Dispatch[] {
  const { outH, outW } = checkShape(s);
  const outputs = s.batch * s.channels * outH * outW;
  const k = kernel(gpu, 'pool', 'maxPoolForward', geometry(s, outH, outW));
  return [k.dispatch({ params: params(s), ...io }, grid1d(gpu, outputs, WORKGROUP_SIZE), 'maxPool2dForward')];
}

/** Windows that partition the plane (the usual 2×2, stride 2), which maxPoolBackwardTiled relies on. */
function windowsTile(s: Pool2dShape): boolean {
  return s.strideH === s.windowH && s.strideW === s.windowW && s.padH === 0 && s.padW === 0;
}

/** dx gets each output's gradient at its recorded argmax; every element of dx is written. */
export function maxPool2dBackward(gpu: Gpu, s: Pool2dShape, io: { dy: BufferRef; argmax: BufferRef; dx: BufferRef }): Dispatch[] {
  const { outH, outW } = checkShape(s);
  const inputs = s.batch * s.channels * s.height * s.width;
  const bindings = { params: params(s), dy: io.dy, argmaxIn: io.argmax, dx: io.dx };
  if (windowsTile(s)) {
    const outputs = s.batch * s.channels * outH * outW;
    return [kernel(gpu, 'pool', 'maxPoolBackwardTiled', geometry(s, outH, outW)).dispatch(bindings, grid1d(gpu, outputs, WORKGROUP_SIZE), 'maxPool2dBackward')];
  }
  const k = kernel(gpu, 'pool', 'maxPoolBackward', geometry(s, outH, outW));
  return [k.dispatch(bindings, grid1d(gpu, inputs, WORKGROUP_SIZE), 'maxPool2dBackward')];
}

export function avgPool2dForward(gpu: Gpu, s: Pool2dShape, io: { x: BufferRef; y: BufferRef }): Dispatch[] {
  const { outH, outW } = checkShape(s);
  const outputs = s.batch * s.channels * outH * outW;
  const k = kernel(gpu, 'pool', 'avgPoolForward', geometry(s, outH, outW));
  return [k.dispatch({ params: params(s), ...io }, grid1d(gpu, outputs, WORKGROUP_SIZE), 'avgPool2dForward')];
}

export function avgPool2dBackward(gpu: Gpu, s: Pool2dShape, io: { dy: BufferRef; dx: BufferRef }): Dispatch[] {
  const { outH, outW } = checkShape(s);
  const inputs = s.batch * s.channels * s.height * s.width;
  const k = kernel(gpu, 'pool', 'avgPoolBackward', geometry(s, outH, outW));
  return [k.dispatch({ params: params(s), ...io }, grid1d(gpu, inputs, WORKGROUP_SIZE), 'avgPool2dBackward')];
}
