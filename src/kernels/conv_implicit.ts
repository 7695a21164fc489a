// Convolution as implicit GEMM on workgroup-memory tiles (shaders/conv_implicit.wgsl): each pass is
// one tiled product whose operands are gathered from the NCHW tensors as the tiles load, so no
// column matrix is written. Meant for GPUs, where workgroup memory and barriers are cheap; conv.ts
// runs it when the tuner (conv_tune.ts) timed it faster for a pass, or when a caller forces it.
import type { Gpu } from '../gpu/device.ts';
import { kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import type { Conv2dShape, ConvPass } from './conv.ts';

/** A workgroup's shape (pipeline constants of shaders/conv_implicit.wgsl). */
interface ImplicitTile { SIDE_X: number; SIDE_Y: number; TM: number; TN: number; TILE_K: number }

/**
 * 64×64 outputs per workgroup with 16 KiB of double-buffered k-tiles; 16×256 for products of at most
 * 16 rows (an input gradient of 1 or 3 channels would fill a 64-row tile with padding) and 256×16 for
 * those of at most 16 columns (the weight gradient of a 1- or 3-channel 3×3 layer has 9 or 27).
 */
export const IMPLICIT_TILES: { square: ImplicitTile; thin: ImplicitTile; narrow: ImplicitTile } = {
  square: { SIDE_X: 16, SIDE_Y: 16, TM: 4, TN: 4, TILE_K: 16 },
  thin: { SIDE_X: 64, SIDE_Y: 4, TM: 4, TN: 4, TILE_K: 4 },
  narrow: { SIDE_X: 4, SIDE_Y: 64, TM: 4, TN: 4, TILE_K: 4 },
};
const PASS_INDEX: Record<ConvPass, number> = { forward: 0, backwardInput: 1, backwardWeight: 2 };
/**
 * Workgroups the weight gradient aims for by splitting its depth (every output pixel of the batch):
 * its product is small (OC × C·KH·KW), so a few tiles would otherwise leave a GPU nearly idle.
 */
const WEIGHT_GRADIENT_WORKGROUPS = 256;
const FLOAT_BYTES = 4;

/** The output size, which conv.ts computes and checks. */
export interface ConvOutputSize { outH: number; outW: number }

interface Product { m: number; n: number; k: number }

function product(s: Conv2dShape, size: ConvOutputSize, pass: ConvPass): Product {
  const taps = s.kernelH * s.kernelW;
  const outputPixels = s.batch * size.outH * size.outW;
  if (pass === 'forward') return { m: s.outChannels, n: outputPixels, k: s.inChannels * taps };
  if (pass === 'backwardInput') return { m: s.inChannels, n: s.batch * s.height * s.width, k: s.outChannels * taps };
  return { m: s.outChannels, n: s.inChannels * taps, k: outputPixels };
}

function tileFor(p: Product): ImplicitTile {
  const { thin, narrow, square } = IMPLICIT_TILES;
  if (p.m <= thin.SIDE_Y * thin.TM) return thin;
  return p.n <= narrow.SIDE_X * narrow.TN ? narrow : square;
}

/** Output rows and columns per workgroup. */
function tileSides(tile: ImplicitTile): { rows: number; cols: number } {
  return { rows: tile.SIDE_Y * tile.TM, cols: tile.SIDE_X * tile.TN };
}

/** How the weight gradient splits its depth: slices of kPerSlice (a whole number of k-tiles). */
function weightGradientSplit(s: Conv2dShape, size: ConvOutputSize): { slices: number; kPerSlice: number } {
  const shape = product(s, size, 'backwardWeight');
  const tile = tileFor(shape);
  const { rows, cols } = tileSides(tile);
  const tiles = Math.ceil(shape.m / rows) * Math.ceil(shape.n / cols);
  const kTiles = Math.ceil(shape.k / tile.TILE_K);
  const wanted = Math.min(kTiles, Math.max(1, Math.ceil(WEIGHT_GRADIENT_WORKGROUPS / tiles)));
  const kPerSlice = Math.ceil(kTiles / wanted) * tile.TILE_K;
  return { slices: Math.ceil(shape.k / kPerSlice), kPerSlice };
}

/** Scratch bytes a pass needs: only a split weight gradient keeps its per-slice partial sums. */
export function implicitScratchBytes(s: Conv2dShape, size: ConvOutputSize, pass: ConvPass): number[] {
  if (pass !== 'backwardWeight') return [];
  const { slices } = weightGradientSplit(s, size);
  return slices > 1 ? [slices * s.outChannels * s.inChannels * s.kernelH * s.kernelW * FLOAT_BYTES] : [];
}

export interface ImplicitPassIo {
  /** A's and B's tensors: (weight, x) forward, (weight, dy) input gradient, (dy, x) weight gradient. */
  lhs: BufferRef; rhs: BufferRef;
  /** y, dx, or (split weight gradient) the partials scratch sized by implicitScratchBytes. */
  output: BufferRef;
  bias?: BufferRef; activation?: 'none' | 'relu';
}

/**
 * One pass as one tiled product. A split weight gradient writes per-slice partials into `output`,
 * which the caller sums (conv.ts reuses the direct path's sumPartials); `slices` says how many.
 */
export function implicitConvPass(gpu: Gpu, s: Conv2dShape, size: ConvOutputSize, pass: ConvPass, io: ImplicitPassIo): { dispatch: Dispatch; slices: number } {
  const shape = product(s, size, pass);
  const { m, n, k } = shape;
  const split = pass === 'backwardWeight' ? weightGradientSplit(s, size) : { slices: 1, kPerSlice: k };
  const tile = tileFor(shape);
  const { rows, cols } = tileSides(tile);
  const params = {
    m, n, k, kPerSlice: split.kPerSlice, ...s, ...size,
    hasBias: io.bias ? 1 : 0, relu: io.activation === 'relu' ? 1 : 0,
  };
  // Without a bias the shader never reads it; A's tensor stands in because a binding cannot be empty.
  const dispatch = kernel(gpu, 'conv_implicit', 'implicitGemm', { ...tile, PASS: PASS_INDEX[pass] }).dispatch(
    { params, lhs: io.lhs, rhs: io.rhs, bias: io.bias ?? io.lhs, output: io.output },
    [Math.ceil(n / cols), Math.ceil(m / rows), split.slices], `conv2d.${pass}.implicitGemm`);
  return { dispatch, slices: split.slices };
}

/** The variant's name in tuning records: a new tile shape is a new candidate, so it is retimed. */
export function describeImplicitVariant(): string {
  const describe = (tile: ImplicitTile) => Object.entries(tile).map(([key, v]) => `${key}=${v}`).join(',');
  return `implicit[${Object.values(IMPLICIT_TILES).map(describe).join(';')}]`;
}
