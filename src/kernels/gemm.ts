// General matrix multiply for every dense product in webgrad (Dense layers, im2col convolutions and
// their gradients): picks a kernel variant per shape, from autotuning when it has run on this
// adapter, otherwise a default that suits llvmpipe. With `storage: 'f16'` the operands are packed
// f16 (src/data/f16.ts) and only the f16 variants are candidates; f32 products never see them.
import type { Gpu } from '../gpu/device.ts';
import { bindingBytes, kernel, type BufferRef, type Dispatch, type Workgroups } from '../gpu/kernel.ts';
import { storageBuffer } from '../gpu/buffers.ts';
import { entryInfo } from '../gpu/reflect.ts';
import { fastestDispatches, keepTuning, readTuning, type TuningCachePolicy, type TuningOutcome } from './tuning.ts';
import { f16Bytes } from './f16.ts';

export type GemmActivation = 'none' | 'relu';
/** How A, B and C are stored: f32, or f16 packed two per u32 (math and accumulation stay f32). */
export type GemmStorage = 'f32' | 'f16';
/**
 * The precision of the products: 'f16' rounds every element of A and B to f16 as it is read and C as
 * it is written (sums stay f32), autocast's f16 matmul on f32 storage; f16 storage implies it.
 */
export type GemmPrecision = 'f32' | 'f16';

export interface GemmArgs {
  a: BufferRef; b: BufferRef; c: BufferRef;
  /** C is m×n; op(A) is m×k; op(B) is k×n; all row-major. */
  m: number; n: number; k: number;
  /** A is stored k×m. */
  transA?: boolean;
  /** B is stored n×k. */
  transB?: boolean;
  /** Default 1. */
  batch?: number;
  /** Elements between batch items; 0 broadcasts; defaults m*k, k*n, m*n. */
  strideA?: number; strideB?: number; strideC?: number;
  /** C = alpha·op(A)·op(B) + beta·C (default 1, 0). */
  alpha?: number; beta?: number;
  /** Added per column (length n) or per row (length m); default per column. */
  bias?: BufferRef; biasAxis?: 'n' | 'm';
  /** Applied after the bias. */
  activation?: GemmActivation;
  /** Default 'f32'. With 'f16', A, B and C are packed f16 and strides count halves; bias stays f32. */
  storage?: GemmStorage;
  /** Default 'f32'. With 'f16' on f32 storage the tuned f32 variant runs with F16_ROUND set. */
  precision?: GemmPrecision;
  label?: string;
}

/** The shape facts that decide which variants are valid and which is fastest. */
export interface GemmShape {
  m: number; n: number; k: number;
  transA: boolean; transB: boolean;
  strideA: number; strideB: number;
  /** Bytes of the ranges A and B are bound with (vec4 views need a multiple of 16). */
  aBytes: number; bBytes: number;
  /** Absent means 'f32'. */
  storage?: GemmStorage;
}

/** A kernel entry point of shaders/gemm.wgsl with its tile shape (pipeline override constants). */
export type GemmVariant =
  | { entry: 'gemm_rows'; tile: { ROWS: number; COLS: number; WG: number } }
  | { entry: 'gemm_rows4'; tile: { ROWS: number; COLS4: number; WG: number } }
  | { entry: 'gemm_tiled'; tile: { TILE_K: number; WG_X: number; WG_Y: number } }
  | { entry: 'gemm_tiled4'; tile: { TILE_K: number; TM: number; TN: number } }
  // The f16-storage variants: shaders/gemm16.wgsl runs anywhere, shaders/gemm16_native.wgsl needs shader-f16.
  | { entry: 'gemm16_rows'; tile: { ROWS: number; COLS2: number; WG: number } }
  | { entry: 'gemm16_native'; tile: { ROWS: number; COLS4: number; WG: number } };

export type GemmShapeClass = 'general' | 'smallK' | 'largeK' | 'thin';

type Tile<E extends GemmVariant['entry']> = Extract<GemmVariant, { entry: E }>['tile'];

interface EntrySpec<E extends GemmVariant['entry']> {
  /** Workgroups in x and y covering an m×n output. */
  grid(tile: Tile<E>, m: number, n: number): [number, number];
  valid(shape: GemmShape): boolean;
  /** The WGSL names A and B bind to. */
  a: 'a' | 'a4';
  b: 'b' | 'b4';
  shader: 'gemm' | 'gemm16' | 'gemm16_native';
  storage: GemmStorage;
  /** A device feature the shader module cannot compile without. */
  feature?: GPUFeatureName;
}

/** B can be read as vec4: its rows and every batch item start on a 4-float boundary. */
function bVec4(s: GemmShape): boolean {
  return (s.transB ? s.k : s.n) % 4 === 0 && s.strideB % 4 === 0 && s.bBytes % 16 === 0;
}

/** A can be read as vec4 along its contiguous axis (m when stored k×m, else k). */
function aVec4(s: GemmShape): boolean {
  return (s.transA ? s.m : s.k) % 4 === 0 && s.strideA % 4 === 0 && s.aBytes % 16 === 0;
}

/** Packed f16 B can be read as vec4<f16>: rows, batch items and the bound range in whole groups of four halves. */
function bVec4Halves(s: GemmShape): boolean {
  return (s.transB ? s.k : s.n) % 4 === 0 && s.strideB % 4 === 0 && s.bBytes % 8 === 0;
}

const ENTRIES: { [E in GemmVariant['entry']]: EntrySpec<E> } = {
  gemm_rows: {
    grid: (t, m, n) => [Math.ceil(n / (t.WG * t.COLS)), Math.ceil(m / t.ROWS)],
    valid: () => true,
    a: 'a', b: 'b', shader: 'gemm', storage: 'f32',
  },
  gemm_rows4: {
    grid: (t, m, n) => [Math.ceil(n / (4 * t.WG * t.COLS4)), Math.ceil(m / t.ROWS)],
    valid: bVec4,
    a: 'a', b: 'b4', shader: 'gemm', storage: 'f32',
  },
  gemm_tiled: {
    grid: (t, m, n) => [Math.ceil(n / (4 * t.WG_X)), Math.ceil(m / (4 * t.WG_Y))],
    valid: () => true,
    a: 'a', b: 'b', shader: 'gemm', storage: 'f32',
  },
  gemm_tiled4: {
    grid: (t, m, n) => {
      const [x, y] = entryInfo('gemm', 'gemm_tiled4').workgroupSize;
      return [Math.ceil(n / (x * t.TN)), Math.ceil(m / (y * t.TM))];
    },
    valid: (s) => aVec4(s) && bVec4(s),
    a: 'a4', b: 'b4', shader: 'gemm', storage: 'f32',
  },
  gemm16_rows: {
    grid: (t, m, n) => [Math.ceil(n / (2 * t.WG * t.COLS2)), Math.ceil(m / t.ROWS)],
    valid: () => true,
    a: 'a', b: 'b', shader: 'gemm16', storage: 'f16',
  },
  gemm16_native: {
    grid: (t, m, n) => [Math.ceil(n / (4 * t.WG * t.COLS4)), Math.ceil(m / t.ROWS)],
    valid: bVec4Halves,
    a: 'a', b: 'b4', shader: 'gemm16_native', storage: 'f16', feature: 'shader-f16',
  },
};

// Eight invocations per workgroup: llvmpipe runs a workgroup as 8-lane SIMD chunks, so one chunk per
// workgroup wastes no lanes when n is small, and costs nothing measurable on large products.
const ROWS4_16x8: GemmVariant = { entry: 'gemm_rows4', tile: { ROWS: 16, COLS4: 2, WG: 8 } };
const ROWS4_8x8: GemmVariant = { entry: 'gemm_rows4', tile: { ROWS: 8, COLS4: 2, WG: 8 } };
const ROWS4_4x4: GemmVariant = { entry: 'gemm_rows4', tile: { ROWS: 4, COLS4: 1, WG: 8 } };
const ROWS_8x8: GemmVariant = { entry: 'gemm_rows', tile: { ROWS: 8, COLS: 8, WG: 8 } };

/** The variants autotuning chooses among (the defaults included); each one is tested. */
export const GEMM_VARIANTS: readonly GemmVariant[] = [
  ROWS4_16x8,
  ROWS4_8x8,
  ROWS4_4x4,
  ROWS_8x8,
  { entry: 'gemm_tiled', tile: { TILE_K: 16, WG_X: 16, WG_Y: 16 } },
  // Workgroup-memory tiles for discrete GPUs, 64×64 and 128×128 outputs per workgroup; both stage
  // 16 KiB of k-tiles (double-buffered), WebGPU's guaranteed workgroup storage.
  { entry: 'gemm_tiled4', tile: { TILE_K: 16, TM: 4, TN: 4 } },
  { entry: 'gemm_tiled4', tile: { TILE_K: 8, TM: 8, TN: 8 } },
];

const F16_ROWS_8x8: GemmVariant = { entry: 'gemm16_rows', tile: { ROWS: 8, COLS2: 4, WG: 8 } };
const F16_NATIVE_8x8: GemmVariant = { entry: 'gemm16_native', tile: { ROWS: 8, COLS4: 2, WG: 8 } };

/** The f16-storage variants, tuned among only for `storage: 'f16'`; the native ones only where the device has shader-f16. */
export const GEMM_F16_VARIANTS: readonly GemmVariant[] = [
  F16_ROWS_8x8,
  { entry: 'gemm16_rows', tile: { ROWS: 16, COLS2: 4, WG: 8 } },
  { entry: 'gemm16_rows', tile: { ROWS: 4, COLS2: 2, WG: 8 } },
  F16_NATIVE_8x8,
  { entry: 'gemm16_native', tile: { ROWS: 16, COLS4: 2, WG: 8 } },
  { entry: 'gemm16_native', tile: { ROWS: 4, COLS4: 1, WG: 8 } },
];

/** Whether this device can build `variant` at all (the native f16 shader needs shader-f16). */
export function gemmVariantAvailable(gpu: Gpu, variant: GemmVariant): boolean {
  const feature = entrySpec(variant).feature;
  return feature === undefined || gpu.device.features.has(feature);
}

/** The candidates for one storage on this device. */
export function gemmVariantsFor(gpu: Gpu, storage: GemmStorage): GemmVariant[] {
  return (storage === 'f16' ? GEMM_F16_VARIANTS : GEMM_VARIANTS).filter((v) => gemmVariantAvailable(gpu, v));
}

/**
 * Without tuning: 16×8 blocks per invocation with B read as vec4 where its layout allows (8×8 when m
 * is under 64, where taller blocks would compute more clamped rows only to drop them), 4×4 when n is
 * too small to give eight invocations 8 columns each. Measured best on llvmpipe for the square and
 * MNIST shapes (bench/gemm.ts).
 */
export function defaultGemmVariant(shape: GemmShape): GemmVariant {
  const vec4 = shape.n < 64 ? ROWS4_4x4 : shape.m < 64 ? ROWS4_8x8 : ROWS4_16x8;
  return gemmVariantValid(vec4, shape) ? vec4 : ROWS_8x8;
}

/** Which class of shape a product belongs to; autotuning records one winner per class. */
export function gemmShapeClass(shape: Pick<GemmShape, 'm' | 'n' | 'k'>): GemmShapeClass {
  const { m, n, k } = shape;
  if (Math.min(m, n) <= 16) return 'thin';
  if (k <= 32) return 'smallK';
  if (k >= 8 * Math.max(m, n)) return 'largeK';
  return 'general';
}

export function gemmVariantValid(variant: GemmVariant, shape: GemmShape): boolean {
  const spec = entrySpec(variant);
  return spec.storage === (shape.storage ?? 'f32') && spec.valid(shape);
}

/** Without tuning, f16 storage takes the native variant where the device and B's layout allow it. */
function defaultGemmF16Variant(gpu: Gpu, shape: GemmShape): GemmVariant {
  return gemmVariantAvailable(gpu, F16_NATIVE_8x8) && gemmVariantValid(F16_NATIVE_8x8, shape) ? F16_NATIVE_8x8 : F16_ROWS_8x8;
}

type Choices = Partial<Record<GemmShapeClass, GemmVariant>>;
const tuned = new WeakMap<Gpu, Partial<Record<GemmStorage, Choices>>>();

/** Whether tuneGemm has run (or read its cache) for this Gpu, so programs compiled now use timed variants. */
export function gemmTuned(gpu: Gpu): boolean {
  return tuned.has(gpu);
}

/** The variant gemm() uses for `shape` on this Gpu. */
export function chooseGemmVariant(gpu: Gpu, shape: GemmShape): GemmVariant {
  const storage = shape.storage ?? 'f32';
  const choice = tuned.get(gpu)?.[storage]?.[gemmShapeClass(shape)];
  if (choice && gemmVariantValid(choice, shape) && gemmVariantAvailable(gpu, choice)) return choice;
  return storage === 'f16' ? defaultGemmF16Variant(gpu, shape) : defaultGemmVariant(shape);
}

export function gemm(gpu: Gpu, args: GemmArgs): Dispatch[] {
  const shape = gemmShape(args);
  return [gemmWith(gpu, chooseGemmVariant(gpu, shape), args)];
}

/** One dispatch of a given variant; for autotuning, tests and benchmarks. */
export function gemmWith(gpu: Gpu, variant: GemmVariant, args: GemmArgs): Dispatch {
  const shape = gemmShape(args);
  const spec = entrySpec(variant);
  if (spec.storage !== (shape.storage ?? 'f32')) {
    throw new Error(`gemm: ${describeVariant(variant)} reads ${spec.storage} operands; this product's storage is ${shape.storage ?? 'f32'}`);
  }
  if (!gemmVariantAvailable(gpu, variant)) {
    throw new Error(`gemm: ${describeVariant(variant)} needs the device feature ${spec.feature}, which ${gpu.describe()} does not offer`);
  }
  if (!gemmVariantValid(variant, shape)) throw new Error(`gemm: ${describeVariant(variant)} cannot run ${shape.m}×${shape.n}×${shape.k} with these strides`);
  const { m, n, k } = shape;
  const batch = args.batch ?? 1;
  const strideC = args.strideC ?? m * n;
  if (strideC === 0 && batch > 1) throw new Error('gemm: strideC = 0 would make batch items race on one output');
  const [x, y] = spec.grid(variant.tile, m, n);
  const workgroups: Workgroups = [x, y, batch];
  const rounded = args.precision === 'f16' && spec.storage === 'f32';
  const gemmKernel = kernel(gpu, spec.shader, variant.entry, {
    ...variant.tile, TRANS_A: Number(shape.transA), TRANS_B: Number(shape.transB), ...(rounded ? { F16_ROUND: 1 } : {}),
  });
  const params = {
    m, n, k, stride_a: shape.strideA, stride_b: shape.strideB, stride_c: strideC,
    alpha: args.alpha ?? 1, beta: args.beta ?? 0,
    bias_axis: args.bias ? (args.biasAxis === 'm' ? 2 : 1) : 0,
    relu: args.activation === 'relu' ? 1 : 0,
  };
  // Without a bias the shader never reads it; A stands in because a binding cannot be left empty.
  const label = args.label ?? `gemm ${m}×${n}×${k}`;
  return gemmKernel.dispatch({ [spec.a]: args.a, [spec.b]: args.b, c: args.c, bias: args.bias ?? args.a, params }, workgroups, label);
}

/** The spec of a variant's entry point, typed for that variant's own tile (TypeScript cannot relate the two unaided). */
function entrySpec<V extends GemmVariant>(variant: V): EntrySpec<V['entry']> & { grid(tile: V['tile'], m: number, n: number): [number, number] } {
  return ENTRIES[variant.entry] as never;
}

/** The facts about a product that variant choice depends on, checked for sanity. */
export function gemmShape(args: GemmArgs): GemmShape {
  const { m, n, k } = args;
  if (args.precision !== undefined && args.precision !== 'f32' && args.precision !== 'f16') throw new Error(`gemm: precision must be 'f32' or 'f16', got ${JSON.stringify(args.precision)}`);
  const batch = args.batch ?? 1;
  for (const [name, value] of Object.entries({ m, n, k, batch })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`gemm: ${name} must be a positive integer, got ${value}`);
  }
  const storage = args.storage ?? 'f32';
  if (storage === 'f16') checkF16Output(n, batch, args.strideC ?? m * n);
  return {
    m, n, k, transA: args.transA ?? false, transB: args.transB ?? false,
    strideA: args.strideA ?? m * k, strideB: args.strideB ?? k * n, aBytes: bindingBytes(args.a), bBytes: bindingBytes(args.b),
    ...(storage === 'f16' ? { storage } : {}),
  };
}

/**
 * f16 kernels write C one u32 (two halves) at a time, so a word must never hold parts of two rows or
 * two batch items: that would have two invocations write the same word. Inputs have no such rule.
 */
function checkF16Output(n: number, batch: number, strideC: number): void {
  if (n % 2 !== 0) throw new Error(`gemm: f16 storage needs an even n (C is written two halves per u32 word, and its rows must not share a word); got n = ${n}`);
  if (batch > 1 && strideC % 2 !== 0) throw new Error(`gemm: f16 storage needs an even strideC when batched (batch items must not share a u32 word of C); got strideC = ${strideC}`);
}

export function describeVariant(variant: GemmVariant): string {
  const t = variant.tile;
  return `${variant.entry}[${Object.entries(t).map(([key, v]) => `${key}=${v}`).join(',')}]`;
}

/** One product per shape class, shaped like the MNIST CNN's (see gemmShapeClass). */
const TUNING_SHAPES: Record<GemmShapeClass, Pick<GemmShape, 'm' | 'n' | 'k' | 'transA' | 'transB'>> = {
  general: { m: 512, n: 512, k: 512, transA: false, transB: false },
  smallK: { m: 32, n: 16384, k: 9, transA: false, transB: false },
  largeK: { m: 64, n: 288, k: 7744, transA: false, transB: false },
  thin: { m: 10, n: 1600, k: 64, transA: true, transB: false },
};

/**
 * What a cached tuning record must match: the variants and the products they were timed on, so a
 * version that changes either retunes rather than keeping winners of another race.
 */
function tuningCandidates(variants: readonly GemmVariant[]): string[] {
  const products = Object.entries(TUNING_SHAPES).map(([shapeClass, s]) => `${shapeClass}[${s.m}×${s.n}×${s.k}${s.transA ? ',Aᵀ' : ''}${s.transB ? ',Bᵀ' : ''}]`);
  return [...variants.map(describeVariant), ...products];
}

export interface TuneGemmOptions {
  /** Which variants to time: f32 (the default) or the f16-storage ones; each has its own cache entry. */
  storage?: GemmStorage;
  /** Cache the winners only when every race was steady (default), or always. */
  cache?: TuningCachePolicy;
}

function cacheKind(storage: GemmStorage): string {
  return storage === 'f16' ? 'gemm-f16' : 'gemm';
}

/**
 * Times every variant on one product per shape class and keeps the fastest for gemm() to use; the
 * result is cached per adapter, so later calls (and later processes) only read it back.
 */
export async function tuneGemm(gpu: Gpu, options: TuneGemmOptions = {}): Promise<TuningOutcome> {
  const storage = options.storage ?? 'f32';
  const variants = gemmVariantsFor(gpu, storage);
  const names = tuningCandidates(variants);
  const remember = (choices: Choices) => tuned.set(gpu, { ...tuned.get(gpu), [storage]: choices });
  const cached = await readTuning<Choices>(gpu, cacheKind(storage), names);
  if (cached) {
    remember(cached);
    return 'cached';
  }
  const bytes = (count: number) => (storage === 'f16' ? f16Bytes(count) : 4 * count);
  const choices: Choices = {};
  let steady = true;
  for (const [shapeClass, base] of Object.entries(TUNING_SHAPES) as [GemmShapeClass, (typeof TUNING_SHAPES)[GemmShapeClass]][]) {
    const a = storageBuffer(gpu, bytes(base.m * base.k), 'gemm.tune.a');
    const b = storageBuffer(gpu, bytes(base.k * base.n), 'gemm.tune.b');
    const c = storageBuffer(gpu, bytes(base.m * base.n), 'gemm.tune.c');
    const args: GemmArgs = { ...base, a, b, c, storage };
    const candidates = variants.filter((v) => gemmVariantValid(v, gemmShape(args)));
    const race = await fastestDispatches(gpu, candidates.map((variant) => [gemmWith(gpu, variant, args)]));
    choices[shapeClass] = candidates[race.winner]!;
    steady &&= race.steady;
    for (const buffer of [a, b, c]) gpu.destroyBuffer(buffer);
  }
  remember(choices);
  return keepTuning(gpu, cacheKind(storage), names, choices, steady, options.cache);
}
