import { describe, expect, it } from 'vitest';
import type { Gpu } from '../src/gpu/device.ts';
import { readFloat32, readUint32, runDispatches, storageBuffer } from '../src/gpu/buffers.ts';
import { int8Conv2d, int8Conv2dScratchBytes, int8Dense, int8DenseScratchBytes, int8Gemm, int8Words, packedDotSupported, quantizeRows } from '../src/kernels/int8.ts';
import { conv2dOutputSize, type Conv2dShape } from '../src/kernels/conv.ts';
import { packInt8, quantizePerChannel, unpackInt8 } from '../src/compress/quantize.ts';
import { int8GemmReference, patchRows, quantizeRowsReference } from './reference/int8.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';

function randomCodes(count: number, seed: number): Int8Array {
  const next = rng(seed);
  const codes = new Int8Array(count);
  for (let i = 0; i < count; i++) codes[i] = Math.floor(next() * 255) - 127;
  // The extremes exercise the sign extension of the top and bottom bytes.
  if (count > 1) { codes[0] = -127; codes[count - 1] = 127; }
  return codes;
}

interface GemmCase { rows: number; cols: number; depth: number; pixels?: number }

// rows·cols·depth over odd sizes, depth not a multiple of 4, conv-like pixel layouts, and a grid
// of more than 65,535 workgroups (folded into y).
const GEMM_CASES: GemmCase[] = [
  { rows: 1, cols: 1, depth: 1 }, { rows: 3, cols: 17, depth: 3 }, { rows: 17, cols: 3, depth: 129 },
  { rows: 129, cols: 17, depth: 784 }, { rows: 33, cols: 10, depth: 1600 }, { rows: 18, cols: 5, depth: 27, pixels: 9 },
  { rows: 2 * 121, cols: 64, depth: 288, pixels: 121 }, { rows: 300_001, cols: 1, depth: 5 },
];

const PATHS = [true, false] as const;

describe('int8 GEMM', () => {
  it('uses packed dot products on this device', async () => {
    const gpu = await testGpu();
    // Dawn exposes the language feature on every backend (polyfilled where the hardware lacks it).
    expect(packedDotSupported(gpu)).toBe(true);
  });

  it.each(PATHS)('accumulates exactly in integers, then scales, biases and clamps (packed dot: %s)', async (packedDot) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    try {
      const dispatches = [];
      const expectations: { got: GPUBuffer; sums: Float64Array; y: Float64Array; label: string; scaled: GPUBuffer }[] = [];
      for (const [i, c] of GEMM_CASES.entries()) {
        const x = randomCodes(c.rows * c.depth, 10 + i), w = randomCodes(c.cols * c.depth, 20 + i);
        const xScale = randomArray(c.rows, 30 + i, 0.001, 0.1), wScale = randomArray(c.cols, 40 + i, 0.001, 0.1);
        const bias = randomArray(c.cols, 50 + i);
        const xb = buffers.upload(packInt8(x, c.rows, c.depth)), wb = buffers.upload(packInt8(w, c.cols, c.depth));
        const ones = (n: number) => buffers.upload(new Float32Array(n).fill(1));
        const raw = buffers.output(c.rows * c.cols), scaled = buffers.output(c.rows * c.cols);
        const base = { x: xb, weight: wb, rows: c.rows, cols: c.cols, depth: c.depth, packedDot, ...(c.pixels ? { pixels: c.pixels } : {}) };
        dispatches.push(int8Gemm(gpu, { ...base, xScale: ones(c.rows), weightScale: ones(c.cols), y: raw }));
        dispatches.push(int8Gemm(gpu, { ...base, xScale: buffers.upload(xScale), weightScale: buffers.upload(wScale), bias: buffers.upload(bias), activation: 'relu', y: scaled }));
        const ref = int8GemmReference({ x, weight: w, xScale, weightScale: wScale, bias, rows: c.rows, cols: c.cols, depth: c.depth, relu: true, ...(c.pixels ? { pixels: c.pixels } : {}) });
        expectations.push({ got: raw, scaled, sums: ref.sums, y: ref.y, label: JSON.stringify(c) });
      }
      await runDispatches(gpu, dispatches);
      for (const e of expectations) {
        // Unit scales expose the i32 sums: |sum| ≤ 1600·127² < 2²⁴, so f32 holds each exactly.
        expect(Array.from(await readFloat32(gpu, e.got, e.sums.length)), e.label).toEqual(Array.from(e.sums));
        // f32(sum)·(s_x·s_w) + b: three roundings of values far from cancellation except near
        // zero, where the floor of 1 bounds the absolute error instead.
        expect(maxRelativeError(await readFloat32(gpu, e.scaled, e.y.length), e.y), e.label).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      buffers.destroy();
    }
  });
});

async function quantizeOnGpu(gpu: Gpu, buffers: TestBuffers, values: Float32Array, rows: number, depth: number, patches?: Conv2dShape) {
  const packed = buffers.upload(new Uint32Array(rows * int8Words(depth)).fill(0xdeadbeef), 'packed');
  const scales = buffers.output(rows, 'scales');
  await runDispatches(gpu, [quantizeRows(gpu, { source: buffers.upload(values), packed, scales, rows, depth, ...(patches ? { patches } : {}) })]);
  const words = await readUint32(gpu, packed, rows * int8Words(depth));
  return { words, codes: unpackInt8(words, rows, depth), scales: await readFloat32(gpu, scales, rows) };
}

/** |v − code·scale| ≤ scale/2 for every element, with f32 slack for the scale's own rounding. */
function worstRoundTrip(values: ArrayLike<number>, codes: Int8Array, scales: ArrayLike<number>, depth: number): number {
  let worst = 0;
  for (let i = 0; i < codes.length; i++) {
    const scale = scales[Math.floor(i / depth)]!;
    const error = Math.abs(values[i]! - codes[i]! * scale);
    worst = Math.max(worst, scale === 0 ? (values[i] === 0 ? 0 : Infinity) : error / (scale / 2));
  }
  return worst;
}

describe('activation quantization', () => {
  it.each([[1, 1], [3, 17], [17, 3], [129, 784], [4, 1600]])('rows %i × depth %i: round trip within scale/2, padding zeroed', async (rows, depth) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    try {
      const values = randomArray(rows * depth, rows * 1000 + depth, -3, 3);
      if (rows > 2) values.fill(0, depth, 2 * depth); // an all-zero row: scale 0, codes 0
      const got = await quantizeOnGpu(gpu, buffers, values, rows, depth);
      const ref = quantizeRowsReference(values, rows, depth);
      // The scale is one f32 division of the row maximum by 127.
      expect(maxRelativeError(got.scales, ref.scales, 1e-30)).toBeLessThanOrEqual(1e-6);
      // Slack 1e-5: the code is chosen against 127/max in f32, not the exact f64 quotient.
      expect(worstRoundTrip(values, got.codes, got.scales, depth)).toBeLessThanOrEqual(1 + 1e-5);
      const words = int8Words(depth);
      for (let r = 0; r < rows && depth % 4; r++) expect(got.words[r * words + words - 1]! >>> (8 * (depth % 4))).toBe(0);
    } finally {
      buffers.destroy();
    }
  });
});

const CONV_CASES: Conv2dShape[] = [
  { batch: 2, inChannels: 1, height: 28, width: 28, outChannels: 32, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0 },
  { batch: 2, inChannels: 32, height: 13, width: 13, outChannels: 64, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0 },
  { batch: 3, inChannels: 3, height: 7, width: 9, outChannels: 5, kernelH: 3, kernelW: 2, strideH: 2, strideW: 1, padH: 1, padW: 1 },
  { batch: 1, inChannels: 2, height: 5, width: 5, outChannels: 3, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1, padH: 0, padW: 0 },
  { batch: 1, inChannels: 1, height: 1, width: 1, outChannels: 1, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1, padH: 0, padW: 0 },
];

/**
 * GPU vs the float64 pipeline on the same codes: equal to 1e-5 of the output's largest value except
 * where f32 and f64 resolve a rounding tie of x·127/max differently, which moves one code by one
 * step (≤ 1/127 of a row's largest product); 1% bounds that, while a layout error is O(1).
 */
function expectQuantizedMatch(got: Float32Array, expected: Float64Array, label: string): void {
  const floor = Math.max(...expected.map(Math.abs), 1e-6);
  expect(maxRelativeError(got, expected, floor), label).toBeLessThanOrEqual(1e-2);
  let close = 0;
  for (let i = 0; i < got.length; i++) if (Math.abs(got[i]! - expected[i]!) <= 1e-5 * floor) close++;
  expect(close / got.length, label).toBeGreaterThanOrEqual(0.999);
}

describe('int8 Dense and Conv2D', () => {
  it.each(PATHS)('Dense matches quantize-rows → integer GEMM → scale (packed dot: %s)', async (packedDot) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    try {
      for (const [batch, inFeatures, outFeatures] of [[1, 1, 1], [3, 17, 5], [64, 784, 64], [17, 1600, 10], [5, 129, 3]] as const) {
        const x = randomArray(batch * inFeatures, inFeatures, -2, 2);
        const w = randomArray(outFeatures * inFeatures, outFeatures + 7, -0.3, 0.3);
        const bias = randomArray(outFeatures, 3);
        const q = quantizePerChannel(w, outFeatures, inFeatures);
        const y = buffers.output(batch * outFeatures);
        const scratch = storageBuffer(gpu, int8DenseScratchBytes(batch, inFeatures), 'scratch');
        await runDispatches(gpu, int8Dense(gpu, {
          x: buffers.upload(x), weight: buffers.upload(q.packed), weightScale: buffers.upload(q.scales), bias: buffers.upload(bias),
          y, scratch, batch, inFeatures, outFeatures, activation: 'relu', packedDot,
        }));
        gpu.destroyBuffer(scratch);
        const xq = quantizeRowsReference(x, batch, inFeatures);
        const ref = int8GemmReference({ x: xq.codes, xScale: xq.scales, weight: unpackInt8(q.packed, outFeatures, inFeatures), weightScale: q.scales, bias, rows: batch, cols: outFeatures, depth: inFeatures, relu: true });
        expectQuantizedMatch(await readFloat32(gpu, y, batch * outFeatures), ref.y, `${batch}×${inFeatures}→${outFeatures}`);
      }
    } finally {
      buffers.destroy();
    }
  });

  it.each(PATHS)('Conv2D (patches quantized from NCHW) matches the float64 pipeline (packed dot: %s)', async (packedDot) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    try {
      for (const [i, s] of CONV_CASES.entries()) {
        const { outH, outW } = conv2dOutputSize(s);
        const pixels = outH * outW, taps = s.inChannels * s.kernelH * s.kernelW;
        const x = randomArray(s.batch * s.inChannels * s.height * s.width, 60 + i, 0, 2);
        const w = randomArray(s.outChannels * taps, 70 + i, -0.5, 0.5);
        const bias = randomArray(s.outChannels, 80 + i);
        const q = quantizePerChannel(w, s.outChannels, taps);
        const y = buffers.output(s.batch * s.outChannels * pixels);
        const scratch = storageBuffer(gpu, int8Conv2dScratchBytes(s), 'scratch');
        await runDispatches(gpu, int8Conv2d(gpu, s, {
          x: buffers.upload(x), weight: buffers.upload(q.packed), weightScale: buffers.upload(q.scales), bias: buffers.upload(bias), y, scratch, packedDot,
        }));
        gpu.destroyBuffer(scratch);
        const rows = s.batch * pixels;
        const xq = quantizeRowsReference(patchRows(s, x), rows, taps);
        const ref = int8GemmReference({ x: xq.codes, xScale: xq.scales, weight: unpackInt8(q.packed, s.outChannels, taps), weightScale: q.scales, bias, rows, cols: s.outChannels, depth: taps, pixels });
        expectQuantizedMatch(await readFloat32(gpu, y, ref.y.length), ref.y, JSON.stringify(s));
      }
    } finally {
      buffers.destroy();
    }
  });

  it('quantizes patches within scale/2, zero padding included', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    try {
      const s = CONV_CASES[2]!;
      const { outH, outW } = conv2dOutputSize(s);
      const rows = s.batch * outH * outW, taps = s.inChannels * s.kernelH * s.kernelW;
      const x = randomArray(s.batch * s.inChannels * s.height * s.width, 5, -1, 1);
      const got = await quantizeOnGpu(gpu, buffers, x, rows, taps, s);
      const patches = patchRows(s, x);
      expect(worstRoundTrip(patches, got.codes, got.scales, taps)).toBeLessThanOrEqual(1 + 1e-5);
      for (let i = 0; i < patches.length; i++) if (patches[i] === 0) expect(got.codes[i]).toBe(0);
    } finally {
      buffers.destroy();
    }
  });
});
