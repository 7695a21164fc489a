// 2-D convolution (PyTorch's Conv2d: cross-correlation, NCHW activations, OIHW weights, bias per
// output channel) as im2col + GEMM. Forward and input gradient are per-image GEMMs batched over N on
// a batch-major column matrix, so they read and write NCHW without a transpose; the weight gradient
// is one GEMM that reduces over the whole batch on a row-major column matrix.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch, type UniformValues } from '../gpu/kernel.ts';
import { gemm } from './gemm.ts';

export interface Conv2dShape {
  batch: number; inChannels: number; height: number; width: number; outChannels: number;
  kernelH: number; kernelW: number; strideH: number; strideW: number; padH: number; padW: number;
}

const WORKGROUP_SIZE = 256;
const FLOAT_BYTES = 4;

export function conv2dOutputSize(s: Conv2dShape): { outH: number; outW: number } {
  return {
    outH: Math.floor((s.height + 2 * s.padH - s.kernelH) / s.strideH) + 1,
    outW: Math.floor((s.width + 2 * s.padW - s.kernelW) / s.strideW) + 1,
  };
}

/** Padding that keeps the size at stride 1 for an odd kernel. */
export function samePadding(kernel: number): number {
  if (kernel % 2 !== 1) throw new Error(`samePadding: kernel ${kernel} is even; 'same' needs asymmetric padding`);
  return (kernel - 1) / 2;
}

interface Geometry {
  outH: number; outW: number;
  /** Output pixels per image. */
  pixels: number;
  /** Column-matrix rows: C·KH·KW. */
  taps: number;
  /** A 1×1, stride-1, unpadded kernel: the image already is the batch-major column matrix. */
  pointwise: boolean;
}

function geometry(s: Conv2dShape): Geometry {
  const { outH, outW } = conv2dOutputSize(s);
  const values = Object.values(s);
  if (values.some((v) => !Number.isInteger(v) || v < 0) || s.strideH < 1 || s.strideW < 1 || outH < 1 || outW < 1 || s.batch < 1 || s.inChannels < 1 || s.outChannels < 1) {
    throw new Error(`conv2d: invalid shape ${JSON.stringify(s)}`);
  }
  const pointwise = s.kernelH === 1 && s.kernelW === 1 && s.strideH === 1 && s.strideW === 1 && s.padH === 0 && s.padW === 0;
  return { outH, outW, pixels: outH * outW, taps: s.inChannels * s.kernelH * s.kernelW, pointwise };
}

function alignUp(bytes: number, alignment: number): number {
  return Math.ceil(bytes / alignment) * alignment;
}

/** Scratch layout: the column matrix first, then (weight gradient only) dy as rows, offset-aligned. */
const SCRATCH_ALIGNMENT = 256;

function columnBytes(s: Conv2dShape, g: Geometry): number {
  return s.batch * g.taps * g.pixels * FLOAT_BYTES;
}

function rowsBytes(s: Conv2dShape, g: Geometry): number {
  return s.outChannels * s.batch * g.pixels * FLOAT_BYTES;
}

export function conv2dScratchBytes(s: Conv2dShape): number {
  const g = geometry(s);
  // Forward and input gradient need one batch-major column matrix (none when pointwise); the
  // weight gradient needs a row-major one plus dy in rows.
  return alignUp(columnBytes(s, g), SCRATCH_ALIGNMENT) + rowsBytes(s, g);
}

/** Bytes [offset, offset + size) of `ref` as a binding of their own. */
function slice(gpu: Gpu, ref: BufferRef, offset: number, size: number): GPUBufferBinding {
  const binding: GPUBufferBinding = 'buffer' in ref ? ref : { buffer: ref };
  const start = (binding.offset ?? 0) + offset;
  const available = (binding.size ?? binding.buffer.size - (binding.offset ?? 0)) - offset;
  if (size > available) throw new Error(`conv2d: scratch holds ${available + offset} bytes, needs ${offset + size}; size it with conv2dScratchBytes()`);
  if (start % gpu.limits.minStorageBufferOffsetAlignment !== 0) throw new Error(`conv2d: scratch offset ${start} is not ${gpu.limits.minStorageBufferOffsetAlignment}-byte aligned`);
  return { buffer: binding.buffer, offset: start, size };
}

function params(s: Conv2dShape, g: Geometry, batchMajor: boolean): UniformValues {
  return {
    batch: s.batch, inChannels: s.inChannels, height: s.height, width: s.width, outChannels: s.outChannels,
    kernelH: s.kernelH, kernelW: s.kernelW, strideH: s.strideH, strideW: s.strideW, padH: s.padH, padW: s.padW,
    outH: g.outH, outW: g.outW, batchMajor: batchMajor ? 1 : 0,
  };
}

function im2col(gpu: Gpu, s: Conv2dShape, g: Geometry, image: BufferRef, columns: BufferRef, batchMajor: boolean): Dispatch {
  const count = s.batch * g.taps * g.pixels;
  return kernel(gpu, 'conv', 'im2col').dispatch({ params: params(s, g, batchMajor), image, columns }, grid1d(gpu, count, WORKGROUP_SIZE), 'conv2d.im2col');
}

export function conv2dForward(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; weight: BufferRef; bias?: BufferRef; y: BufferRef; scratch: BufferRef; activation?: 'none' | 'relu' }): Dispatch[] {
  const g = geometry(s);
  const dispatches: Dispatch[] = [];
  let columns: BufferRef = io.x;
  if (!g.pointwise) {
    columns = slice(gpu, io.scratch, 0, columnBytes(s, g));
    dispatches.push(im2col(gpu, s, g, io.x, columns, true));
  }
  // y[n] = W · columns[n]: [OC × taps] · [taps × pixels], bias per row (output channel).
  dispatches.push(...gemm(gpu, {
    a: io.weight, b: columns, c: io.y, m: s.outChannels, n: g.pixels, k: g.taps,
    batch: s.batch, strideA: 0, strideB: g.taps * g.pixels, strideC: s.outChannels * g.pixels,
    ...(io.bias ? { bias: io.bias, biasAxis: 'm' as const } : {}), activation: io.activation ?? 'none', label: 'conv2d.forward',
  }));
  return dispatches;
}

export function conv2dBackwardInput(gpu: Gpu, s: Conv2dShape, io: { dy: BufferRef; weight: BufferRef; dx: BufferRef; scratch: BufferRef }): Dispatch[] {
  const g = geometry(s);
  const columns = g.pointwise ? io.dx : slice(gpu, io.scratch, 0, columnBytes(s, g));
  // columns[n] = Wᵀ · dy[n]: [taps × OC] · [OC × pixels].
  const dispatches = gemm(gpu, {
    a: io.weight, b: io.dy, c: columns, m: g.taps, n: g.pixels, k: s.outChannels, transA: true,
    batch: s.batch, strideA: 0, strideB: s.outChannels * g.pixels, strideC: g.taps * g.pixels, label: 'conv2d.backwardInput',
  });
  if (!g.pointwise) {
    const count = s.batch * s.inChannels * s.height * s.width;
    dispatches.push(kernel(gpu, 'conv', 'col2im').dispatch({ params: params(s, g, true), columnsIn: columns, imageOut: io.dx }, grid1d(gpu, count, WORKGROUP_SIZE), 'conv2d.col2im'));
  }
  return dispatches;
}

export function conv2dBackwardWeight(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; dy: BufferRef; dweight: BufferRef; dbias?: BufferRef; scratch: BufferRef }): Dispatch[] {
  const g = geometry(s);
  const columnsAt = alignUp(columnBytes(s, g), SCRATCH_ALIGNMENT);
  const columns = slice(gpu, io.scratch, 0, columnBytes(s, g));
  const rows = slice(gpu, io.scratch, columnsAt, rowsBytes(s, g));
  const count = s.outChannels * s.batch * g.pixels;
  const dispatches: Dispatch[] = [
    im2col(gpu, s, g, io.x, columns, false),
    kernel(gpu, 'conv', 'nchwToRows').dispatch({ params: params(s, g, false), nchw: io.dy, rows }, grid1d(gpu, count, WORKGROUP_SIZE), 'conv2d.dyToRows'),
    // dW = dyRows · columnsᵀ: [OC × N·pixels] · [N·pixels × taps], which sums over the batch.
    ...gemm(gpu, { a: rows, b: columns, c: io.dweight, m: s.outChannels, n: g.taps, k: s.batch * g.pixels, transB: true, label: 'conv2d.backwardWeight' }),
  ];
  if (io.dbias) {
    dispatches.push(kernel(gpu, 'conv', 'channelSums').dispatch({ params: params(s, g, false), nchw: io.dy, channelSum: io.dbias }, [s.outChannels, 1, 1], 'conv2d.biasGradient'));
  }
  return dispatches;
}
