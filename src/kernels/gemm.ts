// General matrix multiply for every dense product in webgrad (Dense layers, im2col convolutions and
// their gradients): picks a kernel variant per shape, from autotuning when it has run on this
// adapter, otherwise a default that suits llvmpipe.
import type { Gpu } from '../gpu/device.ts';
import { kernel, type BufferRef, type Dispatch, type Workgroups } from '../gpu/kernel.ts';
import { runDispatches, storageBuffer } from '../gpu/buffers.ts';
import { readCached, writeCached } from '#platform';

export type GemmActivation = 'none' | 'relu';

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
  label?: string;
}

/** The shape facts that decide which variants are valid and which is fastest. */
export interface GemmShape {
  m: number; n: number; k: number;
  transA: boolean; transB: boolean;
  strideA: number; strideB: number;
}

/** A kernel entry point of shaders/gemm.wgsl with its tile shape (pipeline override constants). */
export interface GemmVariant {
  entry: 'gemm_rows';
  tile: { ROWS: number; COLS: number; WG: number };
}

export type GemmShapeClass = 'general' | 'smallK' | 'largeK' | 'thin';

interface EntrySpec {
  /** Workgroups in x and y covering an m×n output. */
  grid(tile: GemmVariant['tile'], m: number, n: number): [number, number];
  valid(shape: GemmShape): boolean;
}

const ENTRIES: Record<GemmVariant['entry'], EntrySpec> = {
  gemm_rows: {
    grid: (t, m, n) => [Math.ceil(n / (t.WG * t.COLS)), Math.ceil(m / t.ROWS)],
    valid: () => true,
  },
};

export const DEFAULT_GEMM_VARIANT: GemmVariant = { entry: 'gemm_rows', tile: { ROWS: 4, COLS: 4, WG: 64 } };

/** The variants autotuning chooses among (the default included); each one is tested. */
export const GEMM_VARIANTS: readonly GemmVariant[] = [
  DEFAULT_GEMM_VARIANT,
];

/** Which class of shape a product belongs to; autotuning records one winner per class. */
export function gemmShapeClass(shape: Pick<GemmShape, 'm' | 'n' | 'k'>): GemmShapeClass {
  const { m, n, k } = shape;
  if (Math.min(m, n) <= 16) return 'thin';
  if (k <= 32) return 'smallK';
  if (k >= 8 * Math.max(m, n)) return 'largeK';
  return 'general';
}

export function gemmVariantValid(variant: GemmVariant, shape: GemmShape): boolean {
  return ENTRIES[variant.entry].valid(shape);
}

const tuned = new WeakMap<Gpu, Partial<Record<GemmShapeClass, GemmVariant>>>();

/** The variant gemm() uses for `shape` on this Gpu. */
export function chooseGemmVariant(gpu: Gpu, shape: GemmShape): GemmVariant {
  const choice = tuned.get(gpu)?.[gemmShapeClass(shape)];
  return choice && gemmVariantValid(choice, shape) ? choice : DEFAULT_GEMM_VARIANT;
}

export function gemm(gpu: Gpu, args: GemmArgs): Dispatch[] {
  const shape = normalize(args);
  return [gemmWith(gpu, chooseGemmVariant(gpu, shape), args)];
}

/** One dispatch of a given variant; for autotuning, tests and benchmarks. */
export function gemmWith(gpu: Gpu, variant: GemmVariant, args: GemmArgs): Dispatch {
  const shape = normalize(args);
  if (!gemmVariantValid(variant, shape)) throw new Error(`gemm: ${describeVariant(variant)} cannot run ${shape.m}×${shape.n}×${shape.k} with these strides`);
  const { m, n, k } = shape;
  const batch = args.batch ?? 1;
  const strideC = args.strideC ?? m * n;
  if (strideC === 0 && batch > 1) throw new Error('gemm: strideC = 0 would make batch items race on one output');
  const [x, y] = ENTRIES[variant.entry].grid(variant.tile, m, n);
  const workgroups: Workgroups = [x, y, batch];
  const k_ = kernel(gpu, 'gemm', variant.entry, {
    ...variant.tile, TRANS_A: Number(shape.transA), TRANS_B: Number(shape.transB),
  });
  const params = {
    m, n, k, stride_a: shape.strideA, stride_b: shape.strideB, stride_c: strideC,
    alpha: args.alpha ?? 1, beta: args.beta ?? 0,
    bias_axis: args.bias ? (args.biasAxis === 'm' ? 2 : 1) : 0,
    relu: args.activation === 'relu' ? 1 : 0,
  };
  // Without a bias the shader never reads it; A stands in because a binding cannot be left empty.
  const label = args.label ?? `gemm ${m}×${n}×${k}`;
  return k_.dispatch({ a: args.a, b: args.b, c: args.c, bias: args.bias ?? args.a, params }, workgroups, label);
}

function normalize(args: GemmArgs): GemmShape {
  const { m, n, k } = args;
  for (const [name, value] of Object.entries({ m, n, k, batch: args.batch ?? 1 })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`gemm: ${name} must be a positive integer, got ${value}`);
  }
  return {
    m, n, k, transA: args.transA ?? false, transB: args.transB ?? false,
    strideA: args.strideA ?? m * k, strideB: args.strideB ?? k * n,
  };
}

export function describeVariant(variant: GemmVariant): string {
  const t = variant.tile;
  return `${variant.entry}[${Object.entries(t).map(([key, v]) => `${key}=${v}`).join(',')}]`;
}

/** One product per shape class, shaped like the MNIST CNN's (see gemmShapeClass). */
const TUNING_SHAPES: Record<GemmShapeClass, Omit<GemmShape, 'strideA' | 'strideB'>> = {
  general: { m: 512, n: 512, k: 512, transA: false, transB: false },
  smallK: { m: 32, n: 16384, k: 9, transA: false, transB: false },
  largeK: { m: 64, n: 288, k: 7744, transA: false, transB: true },
  thin: { m: 10, n: 1600, k: 64, transA: true, transB: false },
};

interface TuningRecord { adapter: string; choices: Partial<Record<GemmShapeClass, GemmVariant>> }

function cacheName(gpu: Gpu): string {
  return `gemm-${gpu.describe().replace(/[^A-Za-z0-9]+/g, '-').slice(0, 120)}.json`;
}

/** A cached record is trusted only for the same adapter and for variants this version still has. */
function parseRecord(gpu: Gpu, text: string | null): TuningRecord | null {
  if (text === null) return null;
  try {
    const record = JSON.parse(text) as TuningRecord;
    const known = new Set(GEMM_VARIANTS.map(describeVariant));
    const choices = Object.values(record.choices ?? {});
    if (record.adapter !== gpu.describe() || !choices.every((v) => known.has(describeVariant(v)))) return null;
    return record;
  } catch {
    return null;
  }
}

/**
 * Times every variant on one product per shape class and keeps the fastest for gemm() to use; the
 * result is cached per adapter, so later calls (and later processes) only read it back.
 */
export async function tuneGemm(gpu: Gpu): Promise<void> {
  const cached = parseRecord(gpu, await readCached(cacheName(gpu)));
  if (cached) {
    tuned.set(gpu, cached.choices);
    return;
  }
  const choices: TuningRecord['choices'] = {};
  for (const [shapeClass, base] of Object.entries(TUNING_SHAPES) as [GemmShapeClass, (typeof TUNING_SHAPES)[GemmShapeClass]][]) {
    const shape: GemmShape = { ...base, strideA: base.m * base.k, strideB: base.k * base.n };
    const a = storageBuffer(gpu, shape.m * shape.k * 4, 'gemm.tune.a');
    const b = storageBuffer(gpu, shape.k * shape.n * 4, 'gemm.tune.b');
    const c = storageBuffer(gpu, shape.m * shape.n * 4, 'gemm.tune.c');
    let best = Infinity;
    for (const variant of GEMM_VARIANTS.filter((v) => gemmVariantValid(v, shape))) {
      const dispatch = gemmWith(gpu, variant, { ...shape, a, b, c });
      const ms = await timeDispatches(gpu, [dispatch]);
      if (ms < best) {
        best = ms;
        choices[shapeClass] = variant;
      }
    }
    for (const buffer of [a, b, c]) gpu.destroyBuffer(buffer);
  }
  tuned.set(gpu, choices);
  await writeCached(cacheName(gpu), JSON.stringify({ adapter: gpu.describe(), choices } satisfies TuningRecord, null, 2));
}

/** Best wall time of a few submissions, after one warm-up that also compiles the pipeline. */
async function timeDispatches(gpu: Gpu, dispatches: Dispatch[], runs = 3): Promise<number> {
  await runDispatches(gpu, dispatches);
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await runDispatches(gpu, dispatches);
    best = Math.min(best, performance.now() - start);
  }
  return best;
}
