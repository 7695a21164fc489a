// 2-D convolution (PyTorch's Conv2d: cross-correlation, NCHW activations, OIHW weights, bias per
// output channel) as direct register-blocked kernels. They replaced im2col + GEMM (commit 2c81db3),
// which lost on llvmpipe for the MNIST CNN's conv2 (best of 8 runs on a loaded 2-core machine:
// forward ≈ 300 → 100 ms, input gradient ≈ 430 → 90 ms, weight gradient ≈ 130 → 70 ms) and tied on
// conv1's forward: writing and re-reading the column matrix cost as much as the product, per-image
// GEMMs on 11×11 outputs left most lanes idle, and conv1's weight-gradient GEMM (n = 9, k = 43,264)
// had almost no parallelism (≈ 700 → 9 ms).
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch, type UniformValues, type Workgroups } from '../gpu/kernel.ts';

export interface Conv2dShape {
  batch: number; inChannels: number; height: number; width: number; outChannels: number;
  kernelH: number; kernelW: number; strideH: number; strideW: number; padH: number; padW: number;
}

const WORKGROUP_SIZE = 256;
const FLOAT_BYTES = 4;
/** The shader's register arrays hold at most this many channels or pixels per invocation. */
const MAX_BLOCK = 8;

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

function checkedOutputSize(s: Conv2dShape): { outH: number; outW: number } {
  const { outH, outW } = conv2dOutputSize(s);
  const positive = [s.batch, s.inChannels, s.outChannels, s.height, s.width, s.kernelH, s.kernelW, s.strideH, s.strideW];
  if (Object.values(s).some((v) => !Number.isInteger(v) || v < 0) || positive.some((v) => v < 1) || outH < 1 || outW < 1) {
    throw new Error(`conv2d: invalid shape ${JSON.stringify(s)}`);
  }
  return { outH, outW };
}

function weightCount(s: Conv2dShape): number {
  return s.outChannels * s.inChannels * s.kernelH * s.kernelW;
}

/** Scratch for the weight gradient's per-image partial sums; forward and input gradient need none. */
export function conv2dScratchBytes(s: Conv2dShape): number {
  checkedOutputSize(s);
  return s.batch * weightCount(s) * FLOAT_BYTES;
}

/** The first `size` bytes of `ref` as a binding of their own. */
function scratchSlice(ref: BufferRef, size: number): GPUBufferBinding {
  const binding: GPUBufferBinding = 'buffer' in ref ? ref : { buffer: ref };
  const offset = binding.offset ?? 0;
  const available = binding.size ?? binding.buffer.size - offset;
  if (size > available) throw new Error(`conv2d: scratch holds ${available} bytes, needs ${size}; size it with conv2dScratchBytes()`);
  return { buffer: binding.buffer, offset, size };
}

function params(s: Conv2dShape, epilogue = { hasBias: 0, relu: 0 }): UniformValues {
  const { outH, outW } = checkedOutputSize(s);
  return { ...s, outH, outW, ...epilogue };
}

/** Channels per invocation: 8 where there are that many, else the power of two that covers them. */
function channelBlock(channels: number): number {
  return Math.min(MAX_BLOCK, 2 ** Math.ceil(Math.log2(channels)));
}

/**
 * Tiles of the two pixel-parallel kernels: a workgroup owns CHANNEL_BLOCK channels, an invocation
 * PIXEL_BLOCK pixels; 8×8 over 32 lanes was the fastest measured for the MNIST layers.
 */
function pixelTile(channels: number): Record<string, number> {
  return { CHANNEL_BLOCK: channelBlock(channels), PIXEL_BLOCK: 8, DIRECT_WG: 32 };
}

function padded(s: Conv2dShape): number {
  return Number(s.padH > 0 || s.padW > 0);
}

function pixelGrid(pixels: number, channels: number, tile: Record<string, number>): Workgroups {
  return [Math.ceil(pixels / (tile.DIRECT_WG! * tile.PIXEL_BLOCK!)), Math.ceil(channels / tile.CHANNEL_BLOCK!), 1];
}

export function conv2dForward(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; weight: BufferRef; bias?: BufferRef; y: BufferRef; scratch: BufferRef; activation?: 'none' | 'relu' }): Dispatch[] {
  const { outH, outW } = checkedOutputSize(s);
  const tile = { ...pixelTile(s.outChannels), PADDED: padded(s) };
  const epilogue = { hasBias: io.bias ? 1 : 0, relu: io.activation === 'relu' ? 1 : 0 };
  // Without a bias the shader never reads it; the weight stands in because a binding cannot be empty.
  return [kernel(gpu, 'conv', 'forwardDirect', tile).dispatch(
    { params: params(s, epilogue), image: io.x, weight: io.weight, bias: io.bias ?? io.weight, output: io.y },
    pixelGrid(s.batch * outH * outW, s.outChannels, tile), 'conv2d.forward')];
}

export function conv2dBackwardInput(gpu: Gpu, s: Conv2dShape, io: { dy: BufferRef; weight: BufferRef; dx: BufferRef; scratch: BufferRef }): Dispatch[] {
  const tile = { ...pixelTile(s.inChannels), UNIT_STRIDE: Number(s.strideH === 1 && s.strideW === 1) };
  return [kernel(gpu, 'conv', 'backwardInputDirect', tile).dispatch(
    { params: params(s), gradOut: io.dy, weight: io.weight, output: io.dx },
    pixelGrid(s.batch * s.height * s.width, s.inChannels, tile), 'conv2d.backwardInput')];
}

/** Floats in the column matrix conv2dColumns writes: N · C·KH·KW · OH·OW. */
export function conv2dColumnsCount(s: Conv2dShape): number {
  const { outH, outW } = checkedOutputSize(s);
  return s.batch * s.inChannels * s.kernelH * s.kernelW * outH * outW;
}

/**
 * im2col: the batch-major column matrix [N][C·KH·KW][OH·OW] (rows in OIHW weight order, zeros in the
 * padding), for consumers that multiply it themselves (the int8 convolution).
 */
export function conv2dColumns(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; columns: BufferRef }): Dispatch {
  return kernel(gpu, 'conv', 'im2col').dispatch({ params: params(s), image: io.x, output: io.columns },
    grid1d(gpu, conv2dColumnsCount(s), WORKGROUP_SIZE), 'conv2d.im2col');
}

/** dweight and dbias are overwritten: per-image partials in scratch, then a sum over the batch. */
export function conv2dBackwardWeight(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; dy: BufferRef; dweight: BufferRef; dbias?: BufferRef; scratch: BufferRef }): Dispatch[] {
  const partials = scratchSlice(io.scratch, conv2dScratchBytes(s));
  // Lanes run over images: a workgroup no wider than the batch (llvmpipe's SIMD is 8 wide).
  const lanes = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(s.batch))));
  const tile = { CHANNEL_BLOCK: 4, PIXEL_BLOCK: Math.min(MAX_BLOCK, s.kernelW), WEIGHT_WG: lanes, PADDED: padded(s) };
  const kernelRowBlocks = s.inChannels * s.kernelH * Math.ceil(s.kernelW / tile.PIXEL_BLOCK);
  const dispatches = [
    kernel(gpu, 'conv', 'weightGradientPartials', tile).dispatch(
      { params: params(s), image: io.x, gradOut: io.dy, output: partials },
      [Math.ceil(s.batch / lanes), kernelRowBlocks, Math.ceil(s.outChannels / tile.CHANNEL_BLOCK)], 'conv2d.weightGradientPartials'),
    kernel(gpu, 'conv', 'sumPartials').dispatch({ params: params(s), partials, output: io.dweight }, grid1d(gpu, weightCount(s), WORKGROUP_SIZE), 'conv2d.sumPartials'),
  ];
  if (io.dbias) {
    dispatches.push(kernel(gpu, 'conv', 'channelSums').dispatch({ params: params(s), gradOut: io.dy, output: io.dbias }, [s.outChannels, 1, 1], 'conv2d.biasGradient'));
  }
  return dispatches;
}
