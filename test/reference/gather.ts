// CPU twins of shaders/gather.wgsl. The token gather is a plain copy. The plain image gather mirrors
// the kernel's two f32 roundings with Math.fround so tests can demand identical bits; the augmenting gather computes in float64 from the
// same RNG draws (src/kernels/rng.ts), so only the kernel's f32 arithmetic separates the two.
import type { AugmentOptions } from '../../src/kernels/gather.ts';
import { rngU32, rngUniform } from '../../src/kernels/rng.ts';

export interface Dataset { images: Uint8Array; labels: ArrayLike<number>; channels: number; height: number; width: number }

const AUGMENT_STREAM = 0x61756700;

/** The kernel's scaling: (v − f32(255·mean)) · f32(1/(255·std)), each step rounded to f32. */
export function scaleF32(v: number, mean: number, std: number): number {
  return Math.fround(Math.fround(v - Math.fround(255 * mean)) * Math.fround(1 / (255 * std)));
}

export function gatherReference(d: Dataset, indices: ArrayLike<number>, mean: number, std: number): { x: Float32Array; y: Uint32Array } {
  const pixels = d.channels * d.height * d.width;
  const x = new Float32Array(indices.length * pixels);
  const y = new Uint32Array(indices.length);
  for (let row = 0; row < indices.length; row++) {
    const image = indices[row]!;
    for (let p = 0; p < pixels; p++) x[row * pixels + p] = scaleF32(d.images[image * pixels + p]!, mean, std);
    y[row] = d.labels[image]!;
  }
  return { x, y };
}

/** The next-token windows gather_tokens cuts from a stream: x = stream[s .. s+context), y one later. */
export function gatherTokensReference(tokens: ArrayLike<number>, starts: ArrayLike<number>, context: number): { x: Uint32Array; y: Uint32Array } {
  const x = new Uint32Array(starts.length * context), y = new Uint32Array(starts.length * context);
  for (let row = 0; row < starts.length; row++) {
    for (let t = 0; t < context; t++) {
      x[row * context + t] = tokens[starts[row]! + t]!;
      y[row * context + t] = tokens[starts[row]! + t + 1]!;
    }
  }
  return { x, y };
}

export interface AffineDraw { angle: number; zoom: number; tx: number; ty: number }

/** The transform the kernel draws for one batch row: angle in radians, counter-clockwise on screen. */
export function augmentDraw(seed: number, step: number, row: number, a: AugmentOptions): AffineDraw {
  const stepSeed = rngU32(seed, step, 0);
  const u = (k: number): number => rngUniform(stepSeed, AUGMENT_STREAM, 4 * row + k);
  return {
    angle: (2 * u(0) - 1) * (a.maxRotationDegrees * Math.PI) / 180,
    zoom: a.minScale + (a.maxScale - a.minScale) * u(1),
    tx: (2 * u(2) - 1) * a.maxTranslatePixels,
    ty: (2 * u(3) - 1) * a.maxTranslatePixels,
  };
}

/**
 * Each output pixel samples its image bilinearly (zero outside) at the inverse of: rotate by the
 * angle and zoom about the centre, then shift by (tx, ty). Returns values before and after scaling.
 */
export function gatherAugmentReference(d: Dataset, indices: ArrayLike<number>, mean: number, std: number, seed: number, step: number, a: AugmentOptions): { raw: Float64Array; x: Float64Array } {
  const { channels, height, width } = d;
  const plane = height * width;
  const raw = new Float64Array(indices.length * channels * plane);
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  for (let row = 0; row < indices.length; row++) {
    const t = augmentDraw(seed, step, row, a);
    const cos = Math.cos(t.angle), sin = Math.sin(t.angle);
    for (let c = 0; c < channels; c++) {
      const source = (indices[row]! * channels + c) * plane;
      const pixel = (sx: number, sy: number): number =>
        sx < 0 || sy < 0 || sx >= width || sy >= height ? 0 : d.images[source + sy * width + sx]!;
      for (let oy = 0; oy < height; oy++) {
        for (let ox = 0; ox < width; ox++) {
          const dx = ox - cx - t.tx, dy = oy - cy - t.ty;
          const sx = cx + (cos * dx - sin * dy) / t.zoom;
          const sy = cy + (sin * dx + cos * dy) / t.zoom;
          const x0 = Math.floor(sx), y0 = Math.floor(sy);
          const fx = sx - x0, fy = sy - y0;
          const top = (1 - fx) * pixel(x0, y0) + fx * pixel(x0 + 1, y0);
          const bottom = (1 - fx) * pixel(x0, y0 + 1) + fx * pixel(x0 + 1, y0 + 1);
          raw[((row * channels + c) * height + oy) * width + ox] = (1 - fy) * top + fy * bottom;
        }
      }
    }
  }
  return { raw, x: raw.map((v) => (v / 255 - mean) / std) };
}

/** gather_words: out[row] = the `width` values of sample indices[row] (any 32-bit data). */
export function gatherRowsReference<T extends Float32Array | Uint32Array>(source: T, indices: ArrayLike<number>, width: number): T {
  const out = new (source.constructor as new (n: number) => T)(indices.length * width);
  for (let row = 0; row < indices.length; row++) out.set(source.subarray(indices[row]! * width, (indices[row]! + 1) * width), row * width);
  return out;
}

/** gather_scaled_bytes: each value through its channel plane's (mean, std), rounded as the kernel rounds. */
export function gatherScaledBytesReference(bytes: Uint8Array, indices: ArrayLike<number>, width: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const plane = width / mean.length;
  const out = new Float32Array(indices.length * width);
  for (let row = 0; row < indices.length; row++) {
    for (let i = 0; i < width; i++) {
      const c = Math.floor(i / plane);
      out[row * width + i] = scaleF32(bytes[indices[row]! * width + i]!, mean[c]!, std[c]!);
    }
  }
  return out;
}
