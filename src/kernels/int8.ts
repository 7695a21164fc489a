// Int8 inference kernels: activations quantized per row on the fly, int8 GEMM with packed 4×i8 dot
// products (dot4I8Packed where the device has it, shifts otherwise), f32 epilogue with per-row and
// per-output-channel scales, bias and ReLU. Dense quantizes rows of x; Conv2D quantizes the image
// patch under each output pixel straight from NCHW (im2col fused into quantization).
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch, type UniformValues } from '../gpu/kernel.ts';
import { conv2dOutputSize, type Conv2dShape } from './conv.ts';

const PACKED_DOT_FEATURE = 'packed_4x8_integer_dot_product';
const QUANTIZE_WG = 64;
/** Invocations per workgroup × rows × columns per invocation (the shader's override defaults). */
const TILE = { WG: 8, ROWS: 4, COLS: 4 };
const SCRATCH_ALIGNMENT = 256;

/** Whether this device's WGSL has dot4I8Packed. */
export function packedDotSupported(gpu: Gpu): boolean {
  return gpu.wgslLanguageFeatures().has(PACKED_DOT_FEATURE);
}

/** u32 words holding one row of `depth` int8 values. */
export function int8Words(depth: number): number {
  return Math.ceil(depth / 4);
}

export interface Int8Options {
  /** Use dot4I8Packed (default: where supported); false forces the shift-unpacking path. */
  packedDot?: boolean;
}

type ParamName = 'rows' | 'depth' | 'cols' | 'pixels' | 'has_bias' | 'relu' | 'in_channels' | 'height' | 'width' | 'out_w'
  | 'kernel_h' | 'kernel_w' | 'stride_h' | 'stride_w' | 'pad_h' | 'pad_w';

/** The shared uniform, with the fields an entry point does not read left at 0. */
function allParams(values: Partial<Record<ParamName, number>>): UniformValues {
  const depth = values.depth ?? 0;
  const unused = { rows: 0, cols: 0, pixels: 1, has_bias: 0, relu: 0, in_channels: 0, height: 0, width: 0, out_w: 0, kernel_h: 0, kernel_w: 0, stride_h: 0, stride_w: 0, pad_h: 0, pad_w: 0 };
  return { ...unused, ...values, depth, words: int8Words(depth) };
}

export interface QuantizeRowsArgs {
  /** f32 rows × depth, row-major; or with `patches`, the NCHW input of that convolution. */
  source: BufferRef;
  /** rows × int8Words(depth) u32. */
  packed: BufferRef;
  /** rows f32: max|row| / 127. */
  scales: BufferRef;
  rows: number; depth: number;
  /** Rows are the C·KH·KW patches under each output pixel (rows = N·OH·OW, depth = C·KH·KW). */
  patches?: Conv2dShape;
}

/** Symmetric per-row int8 quantization of f32 activations (round to nearest even), packed 4 per u32. */
export function quantizeRows(gpu: Gpu, args: QuantizeRowsArgs): Dispatch {
  const s = args.patches;
  const out = s ? conv2dOutputSize(s) : undefined;
  const conv = s && out ? {
    pixels: out.outH * out.outW, out_w: out.outW, in_channels: s.inChannels, height: s.height, width: s.width, kernel_h: s.kernelH, kernel_w: s.kernelW,
    stride_h: s.strideH, stride_w: s.strideW, pad_h: s.padH, pad_w: s.padW,
  } : {};
  const params = allParams({ rows: args.rows, depth: args.depth, ...conv });
  return kernel(gpu, 'int8', 'quantizeRows', { QUANTIZE_WG, PATCHES: Number(Boolean(s)) }).dispatch(
    { params, source: args.source, packed: args.packed, scales: args.scales }, grid1d(gpu, args.rows, QUANTIZE_WG), s ? 'int8.quantizePatches' : 'int8.quantizeRows');
}

export interface Int8GemmArgs extends Int8Options {
  /** rows × int8Words(depth) packed activations and their rows scales. */
  x: BufferRef; xScale: BufferRef;
  /** cols × int8Words(depth) packed weights and their cols scales. */
  weight: BufferRef; weightScale: BufferRef;
  bias?: BufferRef;
  /** f32 [rows / pixels][cols][pixels]: [rows][cols] for Dense, NCHW for a convolution. */
  y: BufferRef;
  rows: number; cols: number; depth: number;
  pixels?: number;
  activation?: 'none' | 'relu';
  label?: string;
}

export function int8Gemm(gpu: Gpu, args: Int8GemmArgs): Dispatch {
  const packedDot = args.packedDot ?? packedDotSupported(gpu);
  const rowBlocks = Math.ceil(args.rows / TILE.ROWS);
  const colGroups = Math.ceil(args.cols / (TILE.WG * TILE.COLS));
  const k = kernel(gpu, 'int8', 'gemmInt8', { ...TILE, PACKED_DOT: Number(packedDot) });
  const params = allParams({
    rows: args.rows, depth: args.depth, cols: args.cols, pixels: args.pixels ?? 1,
    has_bias: args.bias ? 1 : 0, relu: args.activation === 'relu' ? 1 : 0,
  });
  // Without a bias the shader never reads it; the weight scales stand in for the binding.
  return k.dispatch({
    params, x_packed: args.x, x_scale: args.xScale, w_packed: args.weight, w_scale: args.weightScale,
    bias: args.bias ?? args.weightScale, y: args.y,
  }, grid1d(gpu, rowBlocks * colGroups * TILE.WG, TILE.WG), args.label ?? `int8.gemm ${args.rows}×${args.cols}×${args.depth}`);
}

const alignUp = (bytes: number): number => Math.ceil(bytes / SCRATCH_ALIGNMENT) * SCRATCH_ALIGNMENT;

/** Scratch layout: the packed rows, then their scales at an aligned offset. */
function scratchLayout(rows: number, depth: number): { scalesAt: number; total: number } {
  const scalesAt = alignUp(rows * int8Words(depth) * 4);
  return { scalesAt, total: scalesAt + rows * 4 };
}

function slice(gpu: Gpu, ref: BufferRef, offset: number, size: number, what: string): GPUBufferBinding {
  const binding: GPUBufferBinding = 'buffer' in ref ? ref : { buffer: ref };
  const start = (binding.offset ?? 0) + offset;
  const available = (binding.size ?? binding.buffer.size - (binding.offset ?? 0)) - offset;
  if (size > available) throw new Error(`${what}: scratch is ${available + offset} bytes, needs ${offset + size}`);
  if (start % gpu.limits.minStorageBufferOffsetAlignment !== 0) throw new Error(`${what}: scratch offset ${start} is not ${gpu.limits.minStorageBufferOffsetAlignment}-byte aligned`);
  return { buffer: binding.buffer, offset: start, size: Math.max(4, size) };
}

export interface Int8DenseArgs extends Int8Options {
  /** f32 [batch][inFeatures]. */
  x: BufferRef;
  /** Packed [outFeatures][int8Words(inFeatures)] and outFeatures scales (quantizeWeights). */
  weight: BufferRef; weightScale: BufferRef;
  bias?: BufferRef;
  y: BufferRef;
  scratch: BufferRef;
  batch: number; inFeatures: number; outFeatures: number;
  activation?: 'none' | 'relu';
}

export function int8DenseScratchBytes(batch: number, inFeatures: number): number {
  return scratchLayout(batch, inFeatures).total;
}

/** y = (xq · Wqᵀ) · s_x[row] · s_w[out] + b, with x quantized per row. */
export function int8Dense(gpu: Gpu, args: Int8DenseArgs): Dispatch[] {
  const { batch, inFeatures } = args;
  const layout = scratchLayout(batch, inFeatures);
  const packed = slice(gpu, args.scratch, 0, batch * int8Words(inFeatures) * 4, 'int8Dense');
  const scales = slice(gpu, args.scratch, layout.scalesAt, batch * 4, 'int8Dense');
  return [
    quantizeRows(gpu, { source: args.x, packed, scales, rows: batch, depth: inFeatures }),
    int8Gemm(gpu, {
      x: packed, xScale: scales, weight: args.weight, weightScale: args.weightScale, y: args.y,
      rows: batch, cols: args.outFeatures, depth: inFeatures, label: 'int8.dense',
      ...(args.bias ? { bias: args.bias } : {}), ...(args.activation ? { activation: args.activation } : {}),
      ...(args.packedDot === undefined ? {} : { packedDot: args.packedDot }),
    }),
  ];
}

function convGeometry(s: Conv2dShape): { pixels: number; taps: number; rows: number } {
  const { outH, outW } = conv2dOutputSize(s);
  if (outH < 1 || outW < 1) throw new Error(`int8Conv2d: invalid shape ${JSON.stringify(s)}`);
  const pixels = outH * outW;
  return { pixels, taps: s.inChannels * s.kernelH * s.kernelW, rows: s.batch * pixels };
}

export function int8Conv2dScratchBytes(s: Conv2dShape): number {
  const g = convGeometry(s);
  return scratchLayout(g.rows, g.taps).total;
}

export interface Int8Conv2dArgs extends Int8Options {
  /** f32 NCHW. */
  x: BufferRef;
  /** Packed [outChannels][int8Words(C·KH·KW)] (OIHW rows) and outChannels scales. */
  weight: BufferRef; weightScale: BufferRef;
  bias?: BufferRef;
  /** f32 NCHW. */
  y: BufferRef;
  scratch: BufferRef;
  activation?: 'none' | 'relu';
}

/**
 * Quantize the patch under each output pixel (one scale per pixel: an outlier pixel coarsens only
 * its own row) → int8 GEMM against the OIHW filters, writing NCHW.
 */
export function int8Conv2d(gpu: Gpu, s: Conv2dShape, args: Int8Conv2dArgs): Dispatch[] {
  const g = convGeometry(s);
  const layout = scratchLayout(g.rows, g.taps);
  const packed = slice(gpu, args.scratch, 0, g.rows * int8Words(g.taps) * 4, 'int8Conv2d');
  const scales = slice(gpu, args.scratch, layout.scalesAt, g.rows * 4, 'int8Conv2d');
  return [
    quantizeRows(gpu, { source: args.x, packed, scales, rows: g.rows, depth: g.taps, patches: s }),
    int8Gemm(gpu, {
      x: packed, xScale: scales, weight: args.weight, weightScale: args.weightScale, y: args.y,
      rows: g.rows, cols: s.outChannels, depth: g.taps, pixels: g.pixels, label: 'int8.conv2d',
      ...(args.bias ? { bias: args.bias } : {}), ...(args.activation ? { activation: args.activation } : {}),
      ...(args.packedDot === undefined ? {} : { packedDot: args.packedDot }),
    }),
  ];
}
