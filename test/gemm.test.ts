import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../src/gpu/device.ts';
import { readFloat32, runDispatches, storageBuffer, writeBuffer } from '../src/gpu/buffers.ts';
import {
  chooseGemmVariant, describeVariant, gemm, gemmShape, gemmShapeClass, gemmVariantValid, gemmWith, tuneGemm,
  GEMM_VARIANTS, type GemmArgs, type GemmPrecision, type GemmShape, type GemmVariant,
} from '../src/kernels/gemm.ts';
import { gemmReference } from './reference/gemm.ts';
import { gemm16Reference } from './reference/gemm16.ts';
import { roundToF16 } from '../src/data/f16.ts';
import { gemmCaseData, type GemmCase } from './helpers/gemm-cases.ts';
import { testGpu } from './helpers/gpu.ts';

type Case = GemmCase;

interface Prepared {
  gemmCase: Case;
  a: Float32Array; b: Float32Array; c: Float32Array; bias?: Float32Array;
  expected: Float64Array; scale: Float64Array;
}

function prepare(gemmCase: Case): Prepared {
  const { a, b, c, bias } = gemmCaseData(gemmCase);
  const { c: expected, scale } = gemmReference({ ...gemmCase, a, b, c, bias });
  return { gemmCase, a, b, c, bias, expected, scale };
}

/**
 * Places `data` inside a larger buffer, one offset-alignment in, so every launch binds a range of a
 * buffer rather than a whole one, with stray floats on both sides that must stay untouched.
 */
function placeInRange(gpu: Gpu, data: Float32Array, label: string): { buffer: GPUBuffer; ref: GPUBufferBinding } {
  const offset = gpu.limits.minStorageBufferOffsetAlignment;
  const buffer = storageBuffer(gpu, offset + data.byteLength + 64, label);
  writeBuffer(gpu, buffer, data, offset);
  return { buffer, ref: { buffer, offset, size: data.byteLength } };
}

/** Largest error of `got` against the reference, in units of the tolerance: ≤ 1 passes. */
function worstError(prepared: Prepared, got: Float32Array): number {
  // fp32 accumulation: each product and each partial sum rounds by at most 2^-24 relative, so the
  // error of a dot product is bounded by ~k·2^-24·Σ|a·b|, and in practice (errors of random sign)
  // stays near √k·2^-24·Σ|a·b|. 1e-4 of the summed magnitudes covers k up to ~8000 with margin,
  // while any indexing mistake (a wrong or missing term) is off by O(1) of that scale. Elements
  // outside the product (scale 0) must come back unchanged to within 1e-4.
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - prepared.expected[i]!) / (1e-4 * Math.max(1, prepared.scale[i]!));
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

/**
 * Runs one case through gemm() (the launcher's own choice) and through every other variant that can
 * run it, all in one submission, each writing its own copy of C. Returns each run's worst error.
 */
async function runCase(gpu: Gpu, prepared: Prepared): Promise<{ label: string; variant: string; worst: number }[]> {
  const a = placeInRange(gpu, prepared.a, 'a'), b = placeInRange(gpu, prepared.b, 'b');
  const bias = prepared.bias ? placeInRange(gpu, prepared.bias, 'bias') : undefined;
  const argsFor = (c: GPUBufferBinding): GemmArgs => ({ ...prepared.gemmCase, a: a.ref, b: b.ref, c, bias: bias?.ref });
  const shape = gemmShape(argsFor(a.ref));
  const chosen = describeVariant(chooseGemmVariant(gpu, shape));
  const runs: (GemmVariant | 'default')[] = ['default', ...GEMM_VARIANTS.filter((v) => gemmVariantValid(v, shape) && describeVariant(v) !== chosen)];
  const outputs = runs.map(() => placeInRange(gpu, prepared.c, 'c'));
  await runDispatches(gpu, runs.flatMap((variant, i) => {
    const args = argsFor(outputs[i]!.ref);
    return variant === 'default' ? gemm(gpu, args) : [gemmWith(gpu, variant, args)];
  }));
  const errors = [];
  for (const [i, variant] of runs.entries()) {
    const c = outputs[i]!;
    const worst = worstError(prepared, await readFloat32(gpu, c.buffer, prepared.c.length, c.ref.offset! / 4));
    const name = variant === 'default' ? chosen : describeVariant(variant);
    errors.push({ label: variant === 'default' ? `gemm() → ${name}` : name, variant: name, worst });
  }
  for (const r of [a, b, bias, ...outputs]) if (r) gpu.destroyBuffer(r.buffer);
  return errors;
}

const TRANSPOSES = [[false, false], [false, true], [true, false], [true, true]] as const;
const SIZES = [1, 3, 17, 129];

function caseName(c: Case): string {
  const flags = [c.transA ? 'T' : 'N', c.transB ? 'T' : 'N'].join('');
  const extras = Object.entries(c).filter(([key]) => !['m', 'n', 'k', 'transA', 'transB', 'seed'].includes(key));
  return `${c.m}×${c.n}×${c.k} ${flags}${extras.length ? ` ${extras.map(([key, v]) => `${key}=${v}`).join(' ')}` : ''}`;
}

/** Checks every case with every variant that can run it; returns the names of the variants that ran. */
async function expectAllVariants(cases: Case[]): Promise<Set<string>> {
  const gpu = await testGpu();
  const failures: string[] = [];
  const ran = new Set<string>();
  for (const gemmCase of cases) {
    for (const { label, variant, worst } of await runCase(gpu, prepare(gemmCase))) {
      ran.add(variant);
      if (!(worst <= 1)) failures.push(`${caseName(gemmCase)} with ${label}: ${worst.toFixed(2)}× tolerance`);
    }
  }
  gpu.check();
  expect(failures).toEqual([]);
  return ran;
}

describe('gemm matches the float64 reference', () => {
  it.each(TRANSPOSES)('transA=%s transB=%s over every mix of sizes 1, 3, 17, 129', async (transA, transB) => {
    const cases: Case[] = [];
    let seed = 1;
    for (const m of SIZES) for (const n of SIZES) for (const k of SIZES) cases.push({ m, n, k, transA, transB, seed: seed += 4 });
    await expectAllVariants(cases);
  });

  // One test per transpose pair, so that each stays well inside the timeout on a busy machine.
  const ranAligned = new Set<string>();
  it.each(TRANSPOSES)('transA=%s transB=%s on sizes that are multiples of 4 but not of any tile, and larger ones', async (transA, transB) => {
    const cases: Case[] = [];
    let seed = 1000 + 40 * Number(transA) + 20 * Number(transB);
    for (const [m, n, k] of [[4, 8, 12], [68, 36, 20], [784, 17, 129], [33, 784, 64], [128, 128, 128], [196, 132, 72]] as const) {
      cases.push({ m, n, k, transA, transB, seed: seed += 4 });
    }
    for (const variant of await expectAllVariants(cases)) ranAligned.add(variant);
  });

  it('every variant ran on those aligned shapes', () => {
    // vec4 variants run only on aligned shapes: make sure each one was exercised at least there.
    expect([...ranAligned].sort()).toEqual(GEMM_VARIANTS.map(describeVariant).sort());
  });

  it('the MNIST CNN shapes, with the bias and activation each one uses', async () => {
    await expectAllVariants([
      { m: 32, n: 43264, k: 9, bias: true, biasAxis: 'm', activation: 'relu', seed: 1 }, // conv1 forward
      { m: 64, n: 7744, k: 288, bias: true, biasAxis: 'm', activation: 'relu', seed: 2 }, // conv2 forward
      { m: 64, n: 288, k: 7744, transB: true, seed: 3 }, // conv2 weight gradient
      { m: 288, n: 7744, k: 64, transA: true, seed: 4 }, // conv2 input gradient
      { m: 64, n: 10, k: 1600, transB: true, bias: true, biasAxis: 'n', seed: 5 }, // dense forward
      { m: 10, n: 1600, k: 64, transA: true, beta: 1, seed: 6 }, // dense weight gradient, accumulated
      { m: 64, n: 1600, k: 10, seed: 7 }, // dense input gradient
    ]);
  });

  it('batched, with per-item strides and stride-0 broadcasting', async () => {
    const cases: Case[] = [];
    let seed = 2000;
    for (const [transA, transB] of TRANSPOSES) {
      cases.push({ m: 17, n: 9, k: 5, transA, transB, batch: 3, seed: seed += 4 });
      cases.push({ m: 17, n: 9, k: 5, transA, transB, batch: 4, strideA: 0, seed: seed += 4 });
      cases.push({ m: 6, n: 33, k: 7, transA, transB, batch: 2, strideB: 0, seed: seed += 4 });
      // Gaps between items (strides longer than the matrices) must be neither read nor written.
      cases.push({ m: 5, n: 7, k: 3, transA, transB, batch: 3, strideA: 20, strideB: 25, strideC: 40, seed: seed += 4 });
      // The same with every axis and stride a multiple of 4, so that the vec4 tiles run batched too.
      cases.push({ m: 68, n: 20, k: 36, transA, transB, batch: 3, strideA: 68 * 36 + 4, strideB: 20 * 36 + 8, strideC: 68 * 20 + 4, seed: seed += 4 });
      cases.push({ m: 68, n: 20, k: 36, transA, transB, batch: 2, strideB: 0, seed: seed += 4 });
    }
    await expectAllVariants(cases);
  });

  it('alpha, beta, bias on either axis, relu', async () => {
    const cases: Case[] = [];
    let seed = 3000;
    for (const [transA, transB] of TRANSPOSES) {
      for (const [m, n, k] of [[1, 1, 1], [3, 17, 129], [129, 3, 17], [68, 132, 36]] as const) {
        cases.push({ m, n, k, transA, transB, alpha: -0.75, beta: 0.5, seed: seed += 4 });
        cases.push({ m, n, k, transA, transB, beta: 1, bias: true, biasAxis: 'n', seed: seed += 4 });
        cases.push({ m, n, k, transA, transB, bias: true, biasAxis: 'm', activation: 'relu', seed: seed += 4 });
        // beta = 0 must overwrite C without reading it: NaN left in C must not leak into the result.
        cases.push({ m, n, k, transA, transB, alpha: 2, activation: 'relu', cNaN: true, seed: seed += 4 });
      }
    }
    await expectAllVariants(cases);
  });

  it('offers the vec4 tiles only where both operands can be read four floats at a time', () => {
    const tiled4 = GEMM_VARIANTS.filter((v) => v.entry === 'gemm_tiled4');
    expect(tiled4.length).toBe(2);
    const shape = (over: Partial<GemmShape>): GemmShape => ({
      m: 64, n: 128, k: 32, transA: false, transB: false, strideA: 64 * 32, strideB: 32 * 128, aBytes: 4 * 64 * 32, bBytes: 4 * 32 * 128, ...over,
    });
    const cases: [Partial<GemmShape>, boolean][] = [
      [{}, true],
      [{ k: 9, strideA: 64 * 9, strideB: 9 * 128, aBytes: 4 * 64 * 9, bBytes: 4 * 9 * 128 }, false], // A's rows are k = 9 floats
      [{ transA: true, m: 10, strideA: 10 * 32, aBytes: 4 * 10 * 32 }, false], // A stored k×m with m = 10
      [{ transA: true }, true],
      [{ n: 130, strideB: 32 * 130, bBytes: 4 * 32 * 130 }, false], // B's rows are n = 130 floats
      [{ transB: true, n: 130, strideB: 32 * 130, bBytes: 4 * 32 * 130 }, true], // B stored n×k: rows of k = 32
      [{ strideA: 64 * 32 + 2 }, false], // a batch item of A starts off a 4-float boundary
      [{ bBytes: 4 * 32 * 128 + 8 }, false], // B bound with a ragged length
    ];
    for (const [over, valid] of cases) {
      for (const variant of tiled4) expect(gemmVariantValid(variant, shape(over)), `${JSON.stringify(over)} ${describeVariant(variant)}`).toBe(valid);
    }
  });

  it('rejects shapes it cannot run', async () => {
    const gpu = await testGpu();
    const buffer = storageBuffer(gpu, 64, 'x');
    expect(() => gemm(gpu, { a: buffer, b: buffer, c: buffer, m: 0, n: 1, k: 1 })).toThrow(/m must be a positive integer/);
    expect(() => gemm(gpu, { a: buffer, b: buffer, c: buffer, m: 2, n: 2, k: 2, batch: 2, strideC: 0 })).toThrow(/race/);
    gpu.destroyBuffer(buffer);
  });
});

describe('gemm autotuning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgrad-gemm-cache-'));
  const previous = process.env.WEBGRAD_CACHE;
  afterAll(() => {
    if (previous === undefined) delete process.env.WEBGRAD_CACHE;
    else process.env.WEBGRAD_CACHE = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a winner per shape class and reads it back from the cache', async () => {
    process.env.WEBGRAD_CACHE = dir;
    const gpu = await testGpu();
    const square = { m: 512, n: 512, k: 512, transA: false, transB: false, strideA: 512 * 512, strideB: 512 * 512, aBytes: 4 * 512 * 512, bBytes: 4 * 512 * 512 };
    const before = Date.now();
    await tuneGemm(gpu, { cache: 'always' });
    const tuneMs = Date.now() - before;
    expect(readdirSync(dir).length).toBe(1);
    const tunedChoice = chooseGemmVariant(gpu, square);
    expect(GEMM_VARIANTS).toContainEqual(tunedChoice);
    // A second call must come from the cache: no timing, so far faster than the first.
    const again = Date.now();
    await tuneGemm(gpu, { cache: 'always' });
    expect(Date.now() - again).toBeLessThan(Math.max(50, tuneMs / 4));
    expect(chooseGemmVariant(gpu, square)).toEqual(tunedChoice);
    expect(gemmShapeClass(square)).toBe('general');
  });

  it('retunes when the cached record was made with other candidates', async () => {
    process.env.WEBGRAD_CACHE = dir;
    const gpu = await testGpu();
    await tuneGemm(gpu, { cache: 'always' });
    const path = join(dir, readdirSync(dir)[0]!);
    const candidatesOnDisk = () => (JSON.parse(readFileSync(path, 'utf8')) as { candidates: string[] }).candidates;
    const variants = GEMM_VARIANTS.map(describeVariant);
    const current = candidatesOnDisk();
    // The variants, then one entry per shape class naming the product it was timed on.
    expect(current.slice(0, variants.length)).toEqual(variants);
    expect(current.slice(variants.length).map((entry) => entry.split('[')[0])).toEqual(['general', 'smallK', 'largeK', 'thin']);
    // As older versions would have left it: one variant fewer, or the same variants timed on other
    // products (before the shapes were recorded); either way its winners may be stale.
    for (const stale of [current.slice(1), variants]) {
      writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), candidates: stale }));
      await tuneGemm(gpu, { cache: 'always' });
      expect(candidatesOnDisk()).toEqual(current);
    }
  });
});

/**
 * Elements of one precision-f16 run (f32 storage) outside their bounds. The reference rounds A, B
 * and C's incoming values and the result to f16 and computes exactly in between. Products of two
 * f16 values are exact in f32, so the GPU's only other error is the f32 accumulation, at most about
 * k·2^-24 of the summed magnitudes: 1e-5 of them covers k ≤ 167. An element passes when it is the
 * f16 rounding of a value that close to the exact result (rounding is monotone, so that is an
 * interval of one or two f16 values); random operands left unrounded land outside it.
 */
async function f16PrecisionFailures(gpu: Gpu, gemmCase: Case, precision: GemmPrecision, o: { magnify?: number; onlyDefault?: boolean } = {}): Promise<number> {
  const magnify = o.magnify ?? 1;
  const data = gemmCaseData(gemmCase);
  const a = data.a.map((v) => v * magnify), b = data.b.map((v) => v * magnify);
  const expected = gemm16Reference({ ...gemmCase, a, b, c: data.c, bias: data.bias });
  const buffers = [placeInRange(gpu, a, 'a'), placeInRange(gpu, b, 'b'), ...(data.bias ? [placeInRange(gpu, data.bias, 'bias')] : [])];
  const [aRef, bRef, biasRef] = buffers.map((x) => x.ref);
  const { bias: _, ...shapeOnly } = gemmCase;
  const argsFor = (c: GPUBufferBinding): GemmArgs => ({ ...shapeOnly, a: aRef!, b: bRef!, c, ...(biasRef ? { bias: biasRef } : {}), precision });
  const shape = gemmShape(argsFor(aRef!));
  const variants = o.onlyDefault ? [chooseGemmVariant(gpu, shape)] : GEMM_VARIANTS.filter((v) => gemmVariantValid(v, shape));
  const outputs = variants.map(() => placeInRange(gpu, data.c, 'c'));
  await runDispatches(gpu, variants.map((v, i) => gemmWith(gpu, v, argsFor(outputs[i]!.ref))));
  let bad = 0;
  for (const out of outputs) {
    const got = await readFloat32(gpu, out.buffer, data.c.length, out.ref.offset! / 4);
    for (let e = 0; e < got.length; e++) {
      const slack = 1e-5 * expected.scale[e]!;
      const low = roundToF16(expected.exact[e]! - slack), high = roundToF16(expected.exact[e]! + slack);
      if (!(got[e]! >= low && got[e]! <= high)) bad++;
    }
  }
  for (const r of [...buffers, ...outputs]) gpu.destroyBuffer(r.buffer);
  return bad;
}

describe("gemm with precision 'f16' on f32 storage (mixed precision's products)", () => {
  const cases: Case[] = [];
  let seed = 5000;
  for (const [transA, transB] of TRANSPOSES) {
    // Multiples of 4 but of no tile, so every variant runs them; then ragged sizes.
    for (const [m, n, k] of [[68, 36, 20], [1, 3, 17], [17, 129, 3], [129, 17, 129]] as const) cases.push({ m, n, k, transA, transB, seed: seed += 4 });
  }
  cases.push({ m: 32, n: 200, k: 9, bias: true, biasAxis: 'm', activation: 'relu', seed: 6001 });
  cases.push({ m: 10, n: 160, k: 64, transA: true, beta: 1, seed: 6002 });
  cases.push({ m: 8, n: 12, k: 16, batch: 3, alpha: 0.5, seed: 6003 });

  it('every variant rounds operands and results to f16 with f32 sums: every transpose, ragged sizes, bias, relu, alpha, beta, batches', async () => {
    const gpu = await testGpu();
    const failures: string[] = [];
    for (const c of cases) {
      const bad = await f16PrecisionFailures(gpu, c, 'f16');
      if (bad) failures.push(`${caseName(c)}: ${bad} elements out of bounds`);
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it('the same bounds reject the f32 product, so they see the rounding', async () => {
    const gpu = await testGpu();
    for (const c of [cases[0]!, cases[7]!]) expect(await f16PrecisionFailures(gpu, c, 'f32', { onlyDefault: true }), caseName(c)).toBeGreaterThan(0);
  });

  it('overflows to ±Inf past f16 range, as an f16 product does', async () => {
    const gpu = await testGpu();
    // Operands up to ±300: sums of 129 products reach far past 65504, where f16 becomes ±Inf.
    const c: Case = { m: 17, n: 20, k: 129, seed: 6100 };
    expect(await f16PrecisionFailures(gpu, c, 'f16', { magnify: 300, onlyDefault: true })).toBe(0);
    const data = gemmCaseData(c);
    const big = gemm16Reference({ m: c.m, n: c.n, k: c.k, a: data.a.map((v) => v * 300), b: data.b.map((v) => v * 300), c: data.c });
    expect([...big.c].filter((v) => !Number.isFinite(v)).length).toBeGreaterThan(10);
  });

  it('keeps subnormal operands and results, rounded to multiples of 2^-24', async () => {
    // Operands up to ±1e-3: many lie below f16's smallest normal 2^-14 ≈ 6.1e-5, and so do the results.
    const c: Case = { m: 17, n: 20, k: 9, seed: 6200 };
    expect(await f16PrecisionFailures(await testGpu(), c, 'f16', { magnify: 1e-3, onlyDefault: true })).toBe(0);
  });

  it('refuses an unknown precision, naming it', () => {
    expect(() => gemmShape({ m: 2, n: 2, k: 2, a: {} as GPUBuffer, b: {} as GPUBuffer, c: {} as GPUBuffer, precision: 'bf16' as GemmPrecision })).toThrow(/precision must be 'f32' or 'f16', got "bf16"/);
  });
});
