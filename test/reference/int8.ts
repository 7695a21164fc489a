// Float64 / exact-integer references for the int8 inference kernels.
import { conv2dOutputSize, type Conv2dShape } from '../../src/kernels/conv.ts';

export interface Int8GemmReferenceArgs {
  /** rows × depth codes and rows scales. */
  x: Int8Array; xScale: ArrayLike<number>;
  /** cols × depth codes and cols scales. */
  weight: Int8Array; weightScale: ArrayLike<number>;
  bias?: ArrayLike<number>;
  rows: number; cols: number; depth: number;
  /** Output pixels per image: y is [rows / pixels][cols][pixels]. */
  pixels?: number;
  relu?: boolean;
}

/** Exact integer sums (in the output layout) and the scaled f32 result computed in float64. */
export function int8GemmReference(a: Int8GemmReferenceArgs): { sums: Float64Array; y: Float64Array } {
  const pixels = a.pixels ?? 1;
  const sums = new Float64Array(a.rows * a.cols);
  const y = new Float64Array(a.rows * a.cols);
  for (let r = 0; r < a.rows; r++) {
    const at = (o: number) => (Math.floor(r / pixels) * a.cols + o) * pixels + (r % pixels);
    for (let o = 0; o < a.cols; o++) {
      let sum = 0;
      for (let k = 0; k < a.depth; k++) sum += a.x[r * a.depth + k]! * a.weight[o * a.depth + k]!;
      let v = sum * a.xScale[r]! * a.weightScale[o]! + (a.bias ? a.bias[o]! : 0);
      if (a.relu) v = Math.max(v, 0);
      sums[at(o)] = sum;
      y[at(o)] = v;
    }
  }
  return { sums, y };
}

/** Rows × depth codes for `values` with one scale per row (max|row| / 127), as the GPU's quantizeRows. */
export function quantizeRowsReference(values: ArrayLike<number>, rows: number, depth: number): { codes: Int8Array; scales: Float64Array } {
  const codes = new Int8Array(rows * depth);
  const scales = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let largest = 0;
    for (let k = 0; k < depth; k++) largest = Math.max(largest, Math.abs(values[r * depth + k]!));
    scales[r] = largest / 127;
    if (largest === 0) continue;
    for (let k = 0; k < depth; k++) codes[r * depth + k] = Math.round((values[r * depth + k]! * 127) / largest);
  }
  return { codes, scales };
}

/** Rows (image, output pixel) × taps (c, ky, kx) of an NCHW input: the patches int8Conv2d quantizes. */
export function patchRows(s: Conv2dShape, x: ArrayLike<number>): Float64Array {
  const { outH, outW } = conv2dOutputSize(s);
  const taps = s.inChannels * s.kernelH * s.kernelW;
  const rows = new Float64Array(s.batch * outH * outW * taps);
  let at = 0;
  for (let n = 0; n < s.batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let c = 0; c < s.inChannels; c++) {
          for (let ky = 0; ky < s.kernelH; ky++) {
            for (let kx = 0; kx < s.kernelW; kx++) {
              const iy = oy * s.strideH - s.padH + ky, ix = ox * s.strideW - s.padW + kx;
              const inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width;
              rows[at++] = inside ? x[((n * s.inChannels + c) * s.height + iy) * s.width + ix]! : 0;
            }
          }
        }
      }
    }
  }
  return rows;
}
