// 2-D convolution (PyTorch's Conv2d: cross-correlation, NCHW activations, OIHW weights, bias per
// output channel). By default each pass runs one of two ways, picked per shape by convAlgorithm():
// - columns: im2col of the whole batch into [C·KH·KW][N·OH·OW], then one GEMM (so small images
//   leave no lanes idle, as per-image products did in commit 2c81db3), and layout swaps to and from
//   channel-major; col2im for the input gradient is a gather, so no float atomics are needed.
// - direct: register-blocked kernels that read the image in place. They win where the GEMM would be
//   shallow: conv1's 9-deep forward, and its weight gradient, whose GEMM (n = 9) has almost no
//   parallelism.
// Measured on llvmpipe, training the default cnn (conv1 direct, conv2 columns) ran 24% faster per step than all-direct.
// - implicit: one workgroup-tiled product per pass with operands gathered in place (conv_implicit.ts),
//   for GPUs. It replaces the default only where the per-adapter tuner timed it faster (conv_tune.ts)
//   or a caller forces it, so every pass's scratch is sized for both.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch, type UniformValues, type Workgroups } from '../gpu/kernel.ts';
import { gemm, type GemmPrecision } from './gemm.ts';
import { swapOuterAxes } from './layout.ts';
import { implicitConvPass, implicitScratchBytes } from './conv_implicit.ts';

export interface Conv2dShape {
  batch: number; inChannels: number; height: number; width: number; outChannels: number;
  kernelH: number; kernelW: number; strideH: number; strideW: number; padH: number; padW: number;
}

const WORKGROUP_SIZE = 256;
const FLOAT_BYTES = 4;
/** The shader's register arrays hold at most this many channels or pixels per invocation. */
const MAX_BLOCK = 8;
/** GEMM depth from which the column path is used by default (see convAlgorithm). */
const COLUMNS_MIN_DEPTH = 32;
/**
 * The largest column matrix the column path writes: WebGPU's default maxStorageBufferBindingSize,
 * which every device supports. Bigger batches (evaluation runs 500 images at a time) go direct.
 */
const COLUMNS_MAX_BYTES = 128 * 2 ** 20;

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

/** The three passes of a convolution, each of which may run direct, through a column matrix or as implicit GEMM. */
export type ConvPass = 'forward' | 'backwardInput' | 'backwardWeight';
export type ConvAlgorithm = 'direct' | 'columns' | 'implicit';

/**
 * The algorithm a pass runs unless the caller names one: columns (im2col + one GEMM over the batch)
 * where the GEMM has enough depth to pay for writing and re-reading the column matrix.
 */
export function convAlgorithm(s: Conv2dShape, pass: ConvPass): 'direct' | 'columns' {
  const depth = pass === 'backwardInput' ? s.outChannels : s.inChannels * s.kernelH * s.kernelW;
  const [columnBytes] = conv2dScratchBytes(s, { pass, algorithm: 'columns' }) as [number];
  return depth >= COLUMNS_MIN_DEPTH && columnBytes <= COLUMNS_MAX_BYTES ? 'columns' : 'direct';
}

/**
 * Byte sizes of the scratch buffers a pass needs (every pass's needs when none is named), one entry per
 * buffer. They must be distinct buffers, since a dispatch reads one while it writes another: the
 * column path keeps its column matrix [C·KH·KW][N·OH·OW] in the first and a channel-major copy
 * [OC][N·OH·OW] of the output or its gradient in the second; the direct weight gradient keeps
 * per-image partial sums in the first.
 */
export function conv2dScratchBytes(s: Conv2dShape, options: { pass?: ConvPass; algorithm?: ConvAlgorithm } = {}): number[] {
  const { outH, outW } = checkedOutputSize(s);
  const { pass, algorithm } = options;
  if (pass === undefined) return largestEach(PASSES.map((p) => conv2dScratchBytes(s, { pass: p, ...(algorithm ? { algorithm } : {}) })));
  // The algorithm is settled when the pass is emitted (chooseConvAlgorithm), after its scratch is sized.
  if (algorithm === undefined) return largestEach([conv2dScratchBytes(s, { pass, algorithm: convAlgorithm(s, pass) }), implicitScratchBytes(s, { outH, outW }, pass)]);
  if (algorithm === 'implicit') return implicitScratchBytes(s, { outH, outW }, pass);
  if (algorithm === 'columns') {
    const width = s.batch * outH * outW;
    return [s.inChannels * s.kernelH * s.kernelW * width * FLOAT_BYTES, s.outChannels * width * FLOAT_BYTES];
  }
  return pass === 'backwardWeight' ? [s.batch * weightCount(s) * FLOAT_BYTES] : [];
}

const PASSES: readonly ConvPass[] = ['forward', 'backwardInput', 'backwardWeight'];

/** The largest size at each scratch index over several needs, so one set of buffers serves them all. */
function largestEach(needs: readonly number[][]): number[] {
  return [0, 1].map((i) => Math.max(...needs.map((sizes) => sizes[i] ?? 0))).filter((bytes) => bytes > 0);
}

/** Per Gpu: the passes (by tuning key) where implicit GEMM was timed faster than the default. */
const implicitWins = new WeakMap<Gpu, ReadonlySet<string>>();
const forced = new WeakMap<Gpu, 'implicit'>();

/** What the tuner times and records a winner for: a pass, with the algorithm it runs by default. */
export function convTuningKey(s: Conv2dShape, pass: ConvPass): string {
  return `${pass}.${convAlgorithm(s, pass)}`;
}

/** Records the tuner's result: these tuning keys run implicit GEMM on this Gpu. */
export function setConvTuning(gpu: Gpu, keys: Iterable<string>): void {
  implicitWins.set(gpu, new Set(keys));
}

/** Whether tuneConv has run (or read its cache) for this Gpu. */
export function convTuned(gpu: Gpu): boolean {
  return implicitWins.has(gpu);
}

/**
 * Makes every pass compiled from now on for this Gpu run implicit GEMM (undefined: back to the tuned
 * or default choice), for tests on adapters where the tuner would not pick it.
 */
export function forceConvAlgorithm(gpu: Gpu, algorithm: 'implicit' | undefined): void {
  if (algorithm === undefined) forced.delete(gpu);
  else forced.set(gpu, algorithm);
}

/** The algorithm a pass runs on this Gpu unless its caller names one. */
export function chooseConvAlgorithm(gpu: Gpu, s: Conv2dShape, pass: ConvPass): ConvAlgorithm {
  return forced.get(gpu) ?? (implicitWins.get(gpu)?.has(convTuningKey(s, pass)) ? 'implicit' : convAlgorithm(s, pass));
}

/** Scratch buffer `index`, checked against the size `bytes` the pass needs. */
function scratchBuffer(scratch: readonly BufferRef[], index: number, bytes: number): GPUBufferBinding {
  const ref = scratch[index];
  if (!ref) throw new Error(`conv2d: scratch buffer ${index} is missing; allocate them with conv2dScratchBytes()`);
  const binding: GPUBufferBinding = 'buffer' in ref ? ref : { buffer: ref };
  const offset = binding.offset ?? 0;
  const available = binding.size ?? binding.buffer.size - offset;
  if (bytes > available) throw new Error(`conv2d: scratch buffer ${index} holds ${available} bytes, needs ${bytes}; size it with conv2dScratchBytes()`);
  return { buffer: binding.buffer, offset, size: bytes };
}

/** The column matrix and the channel-major tensor of the column path. */
function columnBuffers(s: Conv2dShape, scratch: readonly BufferRef[]): { columns: GPUBufferBinding; channelMajor: GPUBufferBinding } {
  const [columnBytes, channelMajorBytes] = conv2dScratchBytes(s, { pass: 'forward', algorithm: 'columns' }) as [number, number];
  return { columns: scratchBuffer(scratch, 0, columnBytes), channelMajor: scratchBuffer(scratch, 1, channelMajorBytes) };
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

export function conv2dForward(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; weight: BufferRef; bias?: BufferRef; y: BufferRef; scratch: readonly BufferRef[]; activation?: 'none' | 'relu'; algorithm?: ConvAlgorithm; precision?: GemmPrecision }): Dispatch[] {
  const { outH, outW } = checkedOutputSize(s);
  const algorithm = io.algorithm ?? chooseConvAlgorithm(gpu, s, 'forward');
  if (algorithm === 'implicit') {
    return [implicitConvPass(gpu, s, { outH, outW }, 'forward', { lhs: io.weight, rhs: io.x, output: io.y, activation: io.activation ?? 'none', ...(io.bias ? { bias: io.bias } : {}) }).dispatch];
  }
  if (algorithm === 'columns') {
    // Y[OC][N·P] = W[OC][C·KH·KW] · columns, bias and activation in the GEMM's epilogue, then NCHW.
    const { columns, channelMajor } = columnBuffers(s, io.scratch);
    const pixels = outH * outW;
    return [
      im2colBatch(gpu, s, io.x, columns),
      ...gemm(gpu, {
        a: io.weight, b: columns, c: channelMajor, m: s.outChannels, n: s.batch * pixels, k: s.inChannels * s.kernelH * s.kernelW,
        ...(io.bias ? { bias: io.bias, biasAxis: 'm' as const } : {}), activation: io.activation ?? 'none', precision: io.precision, label: 'conv2d.forward.gemm',
      }),
      swapOuterAxes(gpu, { src: channelMajor, dst: io.y, outer: s.outChannels, inner: s.batch, width: pixels }, 'conv2d.forward.toNCHW'),
    ];
  }
  const tile = { ...pixelTile(s.outChannels), PADDED: padded(s) };
  const epilogue = { hasBias: io.bias ? 1 : 0, relu: io.activation === 'relu' ? 1 : 0 };
  // Without a bias the shader never reads it; the weight stands in because a binding cannot be empty.
  return [kernel(gpu, 'conv', 'forwardDirect', tile).dispatch(
    { params: params(s, epilogue), image: io.x, weight: io.weight, bias: io.bias ?? io.weight, output: io.y },
    pixelGrid(s.batch * outH * outW, s.outChannels, tile), 'conv2d.forward')];
}

/** The sizes the column kernels divide by, as pipeline constants (see shaders/conv.wgsl). */
function columnGeometry(s: Conv2dShape): Record<string, number> {
  const { outH, outW } = checkedOutputSize(s);
  return { IMAGE_H: s.height, IMAGE_W: s.width, OUT_H: outH, OUT_W: outW, KERNEL_H: s.kernelH, KERNEL_W: s.kernelW, IN_CHANNELS: s.inChannels };
}

/** The batch's column matrix [C·KH·KW][N·OH·OW] (shaders/conv.wgsl im2colBatch). */
function im2colBatch(gpu: Gpu, s: Conv2dShape, x: BufferRef, columns: BufferRef): Dispatch {
  const { outH, outW } = checkedOutputSize(s);
  const [gx, gy] = grid1d(gpu, s.batch * outH * outW, WORKGROUP_SIZE);
  return kernel(gpu, 'conv', 'im2colBatch', { PADDED: padded(s), ...columnGeometry(s) }).dispatch({ params: params(s), image: x, output: columns }, [gx, gy, s.inChannels], 'conv2d.im2colBatch');
}

/** dY [N][OC][P] → [OC][N·P], the layout the column GEMMs multiply. */
function channelMajorGradient(gpu: Gpu, s: Conv2dShape, dy: BufferRef, channelMajor: BufferRef): Dispatch {
  const { outH, outW } = checkedOutputSize(s);
  return swapOuterAxes(gpu, { src: dy, dst: channelMajor, outer: s.batch, inner: s.outChannels, width: outH * outW }, 'conv2d.gradient.channelMajor');
}

export function conv2dBackwardInput(gpu: Gpu, s: Conv2dShape, io: { dy: BufferRef; weight: BufferRef; dx: BufferRef; scratch: readonly BufferRef[]; algorithm?: ConvAlgorithm; precision?: GemmPrecision }): Dispatch[] {
  const unitStride = Number(s.strideH === 1 && s.strideW === 1);
  const algorithm = io.algorithm ?? chooseConvAlgorithm(gpu, s, 'backwardInput');
  if (algorithm === 'implicit') return [implicitConvPass(gpu, s, checkedOutputSize(s), 'backwardInput', { lhs: io.weight, rhs: io.dy, output: io.dx }).dispatch];
  if (algorithm === 'columns') {
    const { outH, outW } = checkedOutputSize(s);
    // dColumns[C·KH·KW][N·P] = Wᵀ · dY[OC][N·P], then each input pixel gathers its taps (col2im).
    const { columns, channelMajor } = columnBuffers(s, io.scratch);
    const [gx, gy] = grid1d(gpu, s.batch * s.height * s.width, WORKGROUP_SIZE);
    return [
      channelMajorGradient(gpu, s, io.dy, channelMajor),
      ...gemm(gpu, { a: io.weight, b: channelMajor, c: columns, m: s.inChannels * s.kernelH * s.kernelW, n: s.batch * outH * outW, k: s.outChannels, transA: true, precision: io.precision, label: 'conv2d.backwardInput.gemm' }),
      kernel(gpu, 'conv', 'col2imBatch', { UNIT_STRIDE: unitStride, ...columnGeometry(s) }).dispatch({ params: params(s), columns, output: io.dx }, [gx, gy, s.inChannels], 'conv2d.col2imBatch'),
    ];
  }
  const tile = { ...pixelTile(s.inChannels), UNIT_STRIDE: unitStride };
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

/** dweight and dbias are overwritten. */
export function conv2dBackwardWeight(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; dy: BufferRef; dweight: BufferRef; dbias?: BufferRef; scratch: readonly BufferRef[]; algorithm?: ConvAlgorithm; precision?: GemmPrecision }): Dispatch[] {
  const algorithm = io.algorithm ?? chooseConvAlgorithm(gpu, s, 'backwardWeight');
  const gradient = { implicit: implicitWeightGradient, columns: columnWeightGradient, direct: directWeightGradient }[algorithm];
  const dispatches = gradient(gpu, s, io);
  if (io.dbias) {
    dispatches.push(kernel(gpu, 'conv', 'channelSums').dispatch({ params: params(s), gradOut: io.dy, output: io.dbias }, [s.outChannels, 1, 1], 'conv2d.biasGradient'));
  }
  return dispatches;
}

/**
 * dW[OC][C·KH·KW] = dY[OC][N·P] · rows[N·P][C·KH·KW]: one GEMM whose depth is every output pixel of
 * the batch, over the transposed column matrix (shaders/conv.wgsl im2colBatchRows).
 */
function columnWeightGradient(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; dy: BufferRef; dweight: BufferRef; scratch: readonly BufferRef[]; precision?: GemmPrecision }): Dispatch[] {
  const { outH, outW } = checkedOutputSize(s);
  const { columns: rows, channelMajor } = columnBuffers(s, io.scratch);
  const rowLength = s.inChannels * s.kernelH * s.kernelW;
  const constants = { PADDED: padded(s), ...columnGeometry(s) };
  const [gx, gy] = grid1d(gpu, s.batch * outH * outW, WORKGROUP_SIZE);
  return [
    kernel(gpu, 'conv', 'im2colBatchRows', constants).dispatch({ params: params(s), image: io.x, output: rows }, [gx, gy, s.inChannels], 'conv2d.im2colBatchRows'),
    channelMajorGradient(gpu, s, io.dy, channelMajor),
    ...gemm(gpu, { a: channelMajor, b: rows, c: io.dweight, m: s.outChannels, n: rowLength, k: s.batch * outH * outW, precision: io.precision, label: 'conv2d.backwardWeight.gemm' }),
  ];
}

/** One tiled product; when its depth is split, per-slice partials in scratch, then their sum. */
function implicitWeightGradient(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; dy: BufferRef; dweight: BufferRef; scratch: readonly BufferRef[] }): Dispatch[] {
  const size = checkedOutputSize(s);
  const [partialBytes] = implicitScratchBytes(s, size, 'backwardWeight');
  const output = partialBytes === undefined ? io.dweight : scratchBuffer(io.scratch, 0, partialBytes);
  const { dispatch, slices } = implicitConvPass(gpu, s, size, 'backwardWeight', { lhs: io.dy, rhs: io.x, output });
  return slices === 1 ? [dispatch] : [dispatch, sumPartials(gpu, { ...s, batch: slices }, output, io.dweight)];
}

/** dweight = the sum of `s.batch` partial copies of it (per image, or per slice of a split product). */
function sumPartials(gpu: Gpu, s: Conv2dShape, partials: BufferRef, dweight: BufferRef): Dispatch {
  return kernel(gpu, 'conv', 'sumPartials').dispatch({ params: params(s), partials, output: dweight }, grid1d(gpu, weightCount(s), WORKGROUP_SIZE), 'conv2d.sumPartials');
}

/** Per-image partial sums in scratch, then a sum over the batch. */
function directWeightGradient(gpu: Gpu, s: Conv2dShape, io: { x: BufferRef; dy: BufferRef; dweight: BufferRef; scratch: readonly BufferRef[] }): Dispatch[] {
  const partials = scratchBuffer(io.scratch, 0, s.batch * weightCount(s) * FLOAT_BYTES);
  // Lanes run over images: a workgroup no wider than the batch (llvmpipe's SIMD is 8 wide).
  const lanes = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(s.batch))));
  const tile = { CHANNEL_BLOCK: 4, PIXEL_BLOCK: Math.min(MAX_BLOCK, s.kernelW), WEIGHT_WG: lanes, PADDED: padded(s) };
  const kernelRowBlocks = s.inChannels * s.kernelH * Math.ceil(s.kernelW / tile.PIXEL_BLOCK);
  return [
    kernel(gpu, 'conv', 'weightGradientPartials', tile).dispatch(
      { params: params(s), image: io.x, gradOut: io.dy, output: partials },
      [Math.ceil(s.batch / lanes), kernelRowBlocks, Math.ceil(s.outChannels / tile.CHANNEL_BLOCK)], 'conv2d.weightGradientPartials'),
    sumPartials(gpu, s, partials, io.dweight),
  ];
}
