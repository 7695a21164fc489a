// The f16-storage GEMMs against a float64 reference that rounds to f16 where they store f16. The
// portable variant runs here; the native one (shader-f16) runs wherever the adapter offers the
// feature, and elsewhere its WGSL is still reflected, its refusal checked, and its pipelines built
// on Dawn's null backend, which offers shader-f16 (and executes nothing).
import { describe, expect, it, onTestFinished } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../src/gpu/device.ts';
import { createGpu } from '../src/gpu/device.ts';
import { readUint32, runDispatches, storageBuffer, writeBuffer } from '../src/gpu/buffers.ts';
import { entryInfo, shaderSource } from '../src/gpu/reflect.ts';
import { packF16, roundToF16, unpackF16 } from '../src/data/f16.ts';
import {
  chooseGemmVariant, describeVariant, gemm, gemmShape, gemmVariantAvailable, gemmVariantValid, gemmWith, tuneGemm,
  GEMM_F16_VARIANTS, GEMM_VARIANTS, type GemmArgs, type GemmVariant,
} from '../src/kernels/gemm.ts';
import { gemm16Reference } from './reference/gemm16.ts';
import { testGpu } from './helpers/gpu.ts';
import { gemmCaseData, type GemmCase } from './helpers/gemm-cases.ts';

type Case = GemmCase;

const PORTABLE = GEMM_F16_VARIANTS.filter((v) => v.entry === 'gemm16_rows');
const NATIVE = GEMM_F16_VARIANTS.filter((v) => v.entry === 'gemm16_native');
const TRANSPOSES = [[false, false], [false, true], [true, false], [true, true]] as const;

/** Packed f16 data one offset-alignment into a larger buffer, with guard words on both sides. */
function placePacked(gpu: Gpu, words: Uint32Array, label: string): { buffer: GPUBuffer; ref: GPUBufferBinding; offset: number } {
  const offset = gpu.limits.minStorageBufferOffsetAlignment;
  const buffer = storageBuffer(gpu, offset + words.byteLength + 64, label);
  writeBuffer(gpu, buffer, new Uint32Array((offset + words.byteLength + 64) / 4).fill(0xdeadbeef));
  writeBuffer(gpu, buffer, words, offset);
  return { buffer, ref: { buffer, offset, size: words.byteLength }, offset };
}

function caseName(c: Case): string {
  const extras = Object.entries(c).filter(([key]) => !['m', 'n', 'k', 'transA', 'transB', 'seed'].includes(key));
  return `${c.m}×${c.n}×${c.k} ${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'}${extras.map(([key, v]) => ` ${key}=${v}`).join('')}`;
}

/**
 * Runs one case with each variant (plus gemm()'s own choice) and returns a line per element out of
 * bounds. An element passes when it equals the f16 rounding of some value within the f32
 * accumulation error (1e-4 of the summed magnitudes, as the f32 tests allow) of the exact result:
 * rounding is monotone, so that is the interval [f16(exact − δ), f16(exact + δ)]. Outside the
 * product, C and the guard words must come back bit for bit.
 */
async function failuresOf(gpu: Gpu, gemmCase: Case, variants: readonly GemmVariant[]): Promise<string[]> {
  const { a, b, c, bias } = gemmCaseData(gemmCase);
  const expected = gemm16Reference({ ...gemmCase, a, b, c, bias });
  const aBuffer = placePacked(gpu, packF16(a), 'a'), bBuffer = placePacked(gpu, packF16(b), 'b');
  const biasBuffer = bias ? placePacked(gpu, new Uint32Array(bias.buffer), 'bias') : undefined;
  const cWords = packF16(c);
  const argsFor = (out: GPUBufferBinding): GemmArgs => ({ ...gemmCase, a: aBuffer.ref, b: bBuffer.ref, c: out, bias: biasBuffer?.ref, storage: 'f16' });
  const shape = gemmShape(argsFor(aBuffer.ref));
  const runs: (GemmVariant | 'gemm()')[] = ['gemm()', ...variants.filter((v) => gemmVariantValid(v, shape))];
  const outputs = runs.map(() => placePacked(gpu, cWords, 'c'));
  await runDispatches(gpu, runs.flatMap((run, i) => (run === 'gemm()' ? gemm(gpu, argsFor(outputs[i]!.ref)) : [gemmWith(gpu, run, argsFor(outputs[i]!.ref))])));
  const failures: string[] = [];
  for (const [i, run] of runs.entries()) {
    const words = await readUint32(gpu, outputs[i]!.buffer);
    const before = outputs[i]!.offset / 4, after = before + cWords.length;
    const got = unpackF16(words.subarray(before, after), c.length);
    const name = `${caseName(gemmCase)} with ${run === 'gemm()' ? `gemm() → ${describeVariant(chooseGemmVariant(gpu, shape))}` : describeVariant(run)}`;
    let bad = 0, first = '';
    for (let e = 0; e < c.length; e++) {
      const slack = 1e-4 * expected.scale[e]!;
      const low = roundToF16(expected.exact[e]! - slack), high = roundToF16(expected.exact[e]! + slack);
      const value = got[e]!;
      const ok = expected.scale[e] === 0 ? Object.is(value, expected.c[e]) || (Number.isNaN(value) && Number.isNaN(expected.c[e]!)) : value >= low && value <= high;
      if (!ok && bad++ === 0) first = `element ${e}: ${value}, expected ${expected.c[e]} (within [${low}, ${high}])`;
    }
    if (bad) failures.push(`${name}: ${bad} elements out of bounds, first ${first}`);
    if (c.length % 2 === 1 && (words[after - 1]! >>> 16) !== (cWords[cWords.length - 1]! >>> 16)) failures.push(`${name}: wrote the padding half past C`);
    if ([...words.subarray(0, before), ...words.subarray(after)].some((w) => w !== 0xdeadbeef)) failures.push(`${name}: wrote outside C's words`);
  }
  for (const r of [aBuffer, bBuffer, biasBuffer, ...outputs]) if (r) gpu.destroyBuffer(r.buffer);
  return failures;
}

async function expectCases(gpu: Gpu, cases: Case[], variants: readonly GemmVariant[]): Promise<void> {
  const failures: string[] = [];
  for (const gemmCase of cases) failures.push(...await failuresOf(gpu, gemmCase, variants));
  gpu.check();
  expect(failures).toEqual([]);
}

/** Odd m and k (so rows of A, and of B stored n×k, start mid-word), n even but off every tile. */
function oddShapes(transA: boolean, transB: boolean, seed: number): Case[] {
  const cases: Case[] = [];
  for (const m of [1, 3, 33]) for (const n of [2, 18, 130]) for (const k of [1, 17, 129]) cases.push({ m, n, k, transA, transB, seed: seed += 4 });
  return cases;
}

function batchedAndEpilogue(transA: boolean, transB: boolean, seed: number): Case[] {
  return [
    { m: 17, n: 10, k: 5, transA, transB, batch: 3, seed: seed += 4 },
    // Odd strides for A and B: batch items start mid-word; C's stride is even, as f16 needs.
    { m: 5, n: 8, k: 3, transA, transB, batch: 3, strideA: 21, strideB: 27, strideC: 46, seed: seed += 4 },
    { m: 17, n: 10, k: 5, transA, transB, batch: 4, strideA: 0, seed: seed += 4 },
    { m: 6, n: 32, k: 8, transA, transB, batch: 2, strideB: 0, seed: seed += 4 },
    { m: 68, n: 20, k: 36, transA, transB, batch: 2, strideA: 68 * 36 + 4, strideB: 20 * 36 + 8, strideC: 68 * 20 + 4, seed: seed += 4 },
    { m: 3, n: 18, k: 129, transA, transB, alpha: -0.75, beta: 0.5, seed: seed += 4 },
    { m: 33, n: 6, k: 17, transA, transB, beta: 1, bias: true, biasAxis: 'n', seed: seed += 4 },
    { m: 33, n: 130, k: 3, transA, transB, bias: true, biasAxis: 'm', activation: 'relu', seed: seed += 4 },
    { m: 17, n: 18, k: 9, transA, transB, alpha: 2, activation: 'relu', cNaN: true, seed: seed += 4 },
    // Large sums: f16's 11-bit significand, not the f32 accumulation, sets the result's error.
    { m: 64, n: 288, k: 1548, transA, transB, seed: seed += 4 },
  ];
}

describe('f16-storage gemm, portable variant (packed u32, f32 math)', () => {
  // Longer than the default timeout: on a loaded 2-core machine one transpose's cases took 150 s.
  it.each(TRANSPOSES)('transA=%s transB=%s on odd shapes, rows straddling words', async (transA, transB) => {
    await expectCases(await testGpu(), oddShapes(transA, transB, 10 + 1000 * Number(transA) + 500 * Number(transB)), PORTABLE);
  }, 400_000);

  it.each(TRANSPOSES)('transA=%s transB=%s batched (odd strides, broadcasting), alpha, beta, bias, relu', async (transA, transB) => {
    await expectCases(await testGpu(), batchedAndEpilogue(transA, transB, 5000 + 100 * Number(transA) + 50 * Number(transB)), PORTABLE);
  });

  it('the MNIST CNN shapes, with the bias and activation each one uses', async () => {
    await expectCases(await testGpu(), [
      { m: 32, n: 43264, k: 9, bias: true, biasAxis: 'm', activation: 'relu', seed: 1 },
      { m: 64, n: 7744, k: 288, bias: true, biasAxis: 'm', activation: 'relu', seed: 2 },
      { m: 64, n: 288, k: 7744, transB: true, seed: 3 },
      { m: 64, n: 10, k: 1600, transB: true, bias: true, biasAxis: 'n', seed: 5 },
      { m: 10, n: 1600, k: 64, transA: true, beta: 1, seed: 6 },
    ], PORTABLE);
  });

  it('rounds the result once, to nearest even: exact products land on f16 values bit for bit', async () => {
    // Small integers multiply and sum exactly in f32, so the only rounding is the final one;
    // 2049 (a tie between 2048 and 2050) must become 2048, and 2051 must become 2052.
    const gpu = await testGpu();
    const a = packF16([2048, 1, 2048, 3]), b = packF16([1, 1, 1, 1]);
    const args = (c: GPUBuffer): GemmArgs => ({ a: placePacked(gpu, a, 'a').ref, b: placePacked(gpu, b, 'b').ref, c, m: 2, n: 2, k: 2, transA: true, storage: 'f16' });
    for (const variant of PORTABLE) {
      const c = storageBuffer(gpu, 8, 'c');
      await runDispatches(gpu, [gemmWith(gpu, variant, args(c))]);
      // A is stored k×m as [[2048, 1], [2048, 3]], so op(A)'s rows are [2048, 2048] and [1, 3]; B is all ones.
      expect([...unpackF16(await readUint32(gpu, c))], describeVariant(variant)).toEqual([4096, 4096, 4, 4]);
      gpu.destroyBuffer(c);
    }
    const tie = packF16([2048, 1, 2048, 3]), ones = packF16([1, 1]);
    const c = storageBuffer(gpu, 8, 'c');
    await runDispatches(gpu, gemm(gpu, { a: placePacked(gpu, tie, 'a').ref, b: placePacked(gpu, ones, 'b').ref, c, m: 2, n: 2, k: 1, storage: 'f16', alpha: 1, beta: 0, bias: placePacked(gpu, new Uint32Array(new Float32Array([1, 3]).buffer), 'bias').ref }));
    // op(A) is 2×1 ([2048], [1])·B [1, 1] + bias [1, 3] per column: [2049, 2051, 2, 4] → [2048, 2052, 2, 4].
    expect([...unpackF16(await readUint32(gpu, c))]).toEqual([2048, 2052, 2, 4]);
    gpu.destroyBuffer(c);
  });

  it('refuses what it cannot run, with the reason', async () => {
    const gpu = await testGpu();
    const x = storageBuffer(gpu, 256, 'x');
    const base: GemmArgs = { a: x, b: x, c: x, m: 3, n: 4, k: 5, storage: 'f16' };
    expect(() => gemm(gpu, { ...base, n: 5 })).toThrow(/f16 storage needs an even n .* got n = 5/);
    expect(() => gemm(gpu, { ...base, batch: 2, strideC: 13 })).toThrow(/even strideC when batched .* got strideC = 13/);
    expect(() => gemmWith(gpu, GEMM_VARIANTS[0]!, base)).toThrow(/reads f32 operands; this product's storage is f16/);
    expect(() => gemmWith(gpu, PORTABLE[0]!, { ...base, storage: 'f32' })).toThrow(/reads f16 operands; this product's storage is f32/);
    // An f32 product never picks an f16 variant, nor the reverse.
    expect(GEMM_VARIANTS).toContainEqual(chooseGemmVariant(gpu, gemmShape({ ...base, storage: undefined })));
    expect(GEMM_F16_VARIANTS).toContainEqual(chooseGemmVariant(gpu, gemmShape(base)));
    gpu.destroyBuffer(x);
  });

  it('tuning with storage f16 times only f16 variants and keeps the f32 choices apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-gemm16-cache-'));
    const previous = process.env.WEBGRAD_CACHE;
    process.env.WEBGRAD_CACHE = dir;
    onTestFinished(() => {
      if (previous === undefined) delete process.env.WEBGRAD_CACHE;
      else process.env.WEBGRAD_CACHE = previous;
      rmSync(dir, { recursive: true, force: true });
    });
    const gpu = await testGpu();
    const f32Shape = gemmShape({ a: storageBuffer(gpu, 16, 'a'), b: storageBuffer(gpu, 16, 'b'), c: storageBuffer(gpu, 16, 'c'), m: 512, n: 512, k: 512 });
    const f32Before = chooseGemmVariant(gpu, f32Shape);
    await tuneGemm(gpu, { storage: 'f16', cache: 'always' });
    const f16Choice = chooseGemmVariant(gpu, { ...f32Shape, storage: 'f16' });
    expect(GEMM_F16_VARIANTS).toContainEqual(f16Choice);
    expect(gemmVariantAvailable(gpu, f16Choice)).toBe(true);
    expect(chooseGemmVariant(gpu, f32Shape)).toEqual(f32Before);
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^gemm-f16-/)]);
  });
});

describe('f16-storage gemm, native variant (enable f16, vec4<f16> loads, f32 accumulators)', () => {
  const nativeSource = shaderSource('gemm16_native');

  it('is reflected like every shader: its bindings are f16 arrays under the portable names', () => {
    expect(nativeSource).toMatch(/^enable f16;/m);
    expect(entryInfo('gemm16_native', 'gemm16_native').bindings.map((b) => `${b.name}:${b.kind}`))
      .toEqual(['a:read-only-storage', 'b4:read-only-storage', 'c:storage', 'bias:read-only-storage', 'params:uniform']);
  });

  it('runs against the reference where the adapter has shader-f16, and is refused where it does not', async () => {
    const gpu = await testGpu();
    const x = storageBuffer(gpu, 256, 'x');
    const args: GemmArgs = { a: x, b: x, c: x, m: 4, n: 8, k: 4, storage: 'f16' };
    if (gpu.hasShaderF16()) {
      const cases = TRANSPOSES.flatMap(([transA, transB], i) => [
        ...oddShapes(transA, transB, 20_000 + 1000 * i).filter((c) => (transB ? c.k : c.n) % 4 === 0),
        ...batchedAndEpilogue(transA, transB, 30_000 + 100 * i),
      ]);
      await expectCases(gpu, cases, NATIVE);
      expect(NATIVE.every((v) => gemmVariantAvailable(gpu, v))).toBe(true);
    } else {
      console.log(`[webgrad test] native f16 GEMM numerics NOT run: ${gpu.describe()} offers no shader-f16`);
      for (const variant of NATIVE) {
        expect(gemmVariantAvailable(gpu, variant)).toBe(false);
        expect(() => gemmWith(gpu, variant, args)).toThrow(/needs the device feature shader-f16, which .* does not offer/);
      }
      expect(chooseGemmVariant(gpu, gemmShape(args)).entry).toBe('gemm16_rows');
      // Proof that the gate is needed: this device's WGSL compiler rejects the module outright.
      gpu.device.pushErrorScope('validation');
      const module = gpu.device.createShaderModule({ code: nativeSource });
      const messages = (await module.getCompilationInfo()).messages.filter((msg) => msg.type === 'error');
      const scoped = await gpu.device.popErrorScope();
      expect(messages.map((msg) => msg.message).join('\n')).toMatch(/f16/);
      expect(scoped?.message).toMatch(/f16/);
    }
    gpu.destroyBuffer(x);
  });

  it('builds every native pipeline, each transpose, where shader-f16 exists: Dawn\'s null backend', async () => {
    const gpu = await createGpu({ backend: 'null' });
    try {
      expect(gpu.hasShaderF16()).toBe(true);
      const buffer = storageBuffer(gpu, 1024, 'x');
      gpu.device.pushErrorScope('validation');
      for (const variant of NATIVE) {
        for (const [transA, transB] of TRANSPOSES) gemmWith(gpu, variant, { a: buffer, b: buffer, c: buffer, m: 4, n: 8, k: 8, transA, transB, storage: 'f16' });
      }
      const error = await gpu.device.popErrorScope();
      expect(error?.message ?? 'no error').toBe('no error');
      expect(chooseGemmVariant(gpu, gemmShape({ a: buffer, b: buffer, c: buffer, m: 4, n: 8, k: 8, storage: 'f16' })).entry).toBe('gemm16_native');
      gpu.check();
    } finally {
      gpu.destroy();
    }
  });
});
