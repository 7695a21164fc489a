// GEMM throughput: webgrad's gemm() against TF.js's WebGPU matMul on the same Dawn adapter, side by
// side in one process, for square products and the MNIST CNN's shapes. `npx tsx bench/gemm.ts`;
// writes bench/results/gemm.json. `--variants` also times every GEMM variant that can run each product
// (what tuning chooses among); `--quick` keeps three small cases; `--out FILE` writes the JSON there.
// Each product is also timed with f16 storage (`storage: 'f16'`: packed f16 operands, f32 math), the
// native shader-f16 variant where the device has it, else the portable packed-u32 one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomArray } from '../test/helpers/random.ts';
import { tfjsWebgpu, timeTfjs } from './tfjs.ts';
import {
  createGpu, runDispatches, uploadBuffer, storageBuffer, chooseGemmVariant, describeVariant, gemm, gemmShape, gemmVariantValid, gemmWith, tuneGemm,
  gemmVariantsFor, packF16, f16Bytes, GEMM_VARIANTS, type Gpu, type GemmArgs, type GemmVariant,
} from 'webgrad';

/** PyTorch/OpenBLAS fp32 GEMM measured on this machine's 2 cores: what the CPU can practically do. */
const CPU_CEILING_GFLOPS = { low: 163, high: 185 };

interface Case { name: string; m: number; n: number; k: number; transA?: boolean; transB?: boolean }

const ALL_CASES: Case[] = [
  ...[256, 512, 1024, 2048].map((s) => ({ name: `square ${s}`, m: s, n: s, k: s })),
  { name: 'conv1 forward', m: 32, n: 43264, k: 9 },
  { name: 'conv2 forward', m: 64, n: 7744, k: 288 },
  { name: 'conv2 weight grad', m: 64, n: 288, k: 7744, transB: true },
  { name: 'conv2 input grad', m: 288, n: 7744, k: 64, transA: true },
  { name: 'dense forward', m: 64, n: 10, k: 1600, transB: true },
  { name: 'dense weight grad', m: 10, n: 1600, k: 64, transA: true },
  { name: 'dense input grad', m: 64, n: 1600, k: 10 },
  // A ViT MLP's first projection over 64 samples of 17 tokens: Dense's weight as stored (B transposed),
  // and transposed first, as Dense.forward does over many rows.
  { name: 'dense forward, many rows', m: 1088, n: 256, k: 64, transB: true },
  { name: 'dense forward, many rows, weight transposed', m: 1088, n: 256, k: 64 },
];

const everyVariant = process.argv.includes('--variants');
const quick = process.argv.includes('--quick');
const outFlag = process.argv.indexOf('--out');
const outFile = outFlag >= 0 ? process.argv[outFlag + 1] : undefined;
if (outFlag >= 0 && !outFile) throw new Error('bench/gemm.ts: --out needs a file name');
const CASES = quick ? ALL_CASES.filter((c) => ['square 256', 'square 512', 'conv2 forward'].includes(c.name)) : ALL_CASES;

/** Enough calls per timed round that one round takes ~0.3 s at `guessGflops`. */
function repeatsFor(flops: number, guessGflops: number): number {
  return Math.max(1, Math.round(0.3 / (flops / (guessGflops * 1e9))));
}

async function timeWebgrad(gpuRun: () => Promise<void>, repeats: number, runs: number): Promise<number> {
  let best = Infinity;
  for (let round = 0; round <= runs; round++) {
    const start = performance.now();
    await gpuRun();
    if (round > 0) best = Math.min(best, (performance.now() - start) / repeats);
  }
  return best;
}

const gpu = await createGpu();
const { tf, adapter: tfAdapter } = await tfjsWebgpu();
console.log(`webgrad adapter: ${gpu.describe()}`);
console.log(`TF.js ${tf.version_core} WebGPU adapter: ${tfAdapter}`);
const tuneStart = performance.now();
await tuneGemm(gpu);
console.log(`tuneGemm: ${(performance.now() - tuneStart).toFixed(0)} ms (cached results return at once)`);
const tuneF16Start = performance.now();
await tuneGemm(gpu, { storage: 'f16' });
console.log(`tuneGemm f16: ${(performance.now() - tuneF16Start).toFixed(0)} ms; shader-f16 ${gpu.hasShaderF16() ? 'present: native variants are candidates' : 'absent: portable packed-u32 variants only'}`);
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores, shared: best of rounds reported)\n`);

interface VariantTimes { variant: string; gflops: number; ms: number; variantGflops: Record<string, number> }

/** GFLOP/s of gemm()'s choice for `args` and, with --variants, of each candidate that can run it. */
async function timeGemm(gpu: Gpu, args: GemmArgs, candidates: readonly GemmVariant[], flops: number, runs: number): Promise<VariantTimes> {
  const variant = describeVariant(chooseGemmVariant(gpu, gemmShape(args)));
  const dispatches = gemm(gpu, args);
  const repeats = repeatsFor(flops, 10);
  const ms = await timeWebgrad(() => runDispatches(gpu, Array.from({ length: repeats }, () => dispatches).flat()), repeats, runs);
  const variantGflops: Record<string, number> = {};
  if (everyVariant) {
    for (const candidate of candidates.filter((v) => gemmVariantValid(v, gemmShape(args)))) {
      const dispatch = gemmWith(gpu, candidate, args);
      const candidateMs = await timeWebgrad(() => runDispatches(gpu, Array.from({ length: repeats }, () => dispatch)), repeats, runs);
      variantGflops[describeVariant(candidate)] = +(flops / candidateMs / 1e6).toFixed(2);
    }
  }
  return { variant, ms, gflops: flops / ms / 1e6, variantGflops };
}

const results = [];
for (const c of CASES) {
  const flops = 2 * c.m * c.n * c.k;
  const aShape = c.transA ? [c.k, c.m] : [c.m, c.k], bShape = c.transB ? [c.n, c.k] : [c.k, c.n];
  const aData = randomArray(c.m * c.k, 1), bData = randomArray(c.k * c.n, 2);
  const a = uploadBuffer(gpu, aData, 'a'), b = uploadBuffer(gpu, bData, 'b'), out = storageBuffer(gpu, c.m * c.n * 4, 'c');
  const args: GemmArgs = { a, b, c: out, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB };
  const runs = flops > 4e9 ? 2 : 3;
  const f32 = await timeGemm(gpu, args, GEMM_VARIANTS, flops, runs);
  const { variant, ms: ours, variantGflops: variants } = f32;
  for (const buffer of [a, b, out]) gpu.destroyBuffer(buffer);
  const a16 = uploadBuffer(gpu, packF16(aData), 'a16'), b16 = uploadBuffer(gpu, packF16(bData), 'b16');
  const out16 = storageBuffer(gpu, f16Bytes(c.m * c.n), 'c16');
  const f16 = await timeGemm(gpu, { ...args, a: a16, b: b16, c: out16, storage: 'f16' }, gemmVariantsFor(gpu, 'f16'), flops, runs);
  for (const buffer of [a16, b16, out16]) gpu.destroyBuffer(buffer);

  const ta = tf.tensor2d(aData, aShape as [number, number]), tb = tf.tensor2d(bData, bShape as [number, number]);
  const theirs = await timeTfjs(() => tf.matMul(ta, tb, c.transA, c.transB), repeatsFor(flops, 2), runs);
  ta.dispose(); tb.dispose();

  const gflops = flops / ours / 1e6, tfGflops = flops / theirs / 1e6;
  const row = {
    name: c.name, m: c.m, n: c.n, k: c.k, transA: !!c.transA, transB: !!c.transB, variant,
    webgradMs: +ours.toFixed(3), webgradGflops: +gflops.toFixed(2),
    tfjsMs: +theirs.toFixed(3), tfjsGflops: +tfGflops.toFixed(2),
    speedupOverTfjs: +(theirs / ours).toFixed(2),
    fractionOfCpuCeiling: [+(gflops / CPU_CEILING_GFLOPS.high).toFixed(3), +(gflops / CPU_CEILING_GFLOPS.low).toFixed(3)],
    ...(everyVariant ? { variantGflops: variants } : {}),
    f16: {
      variant: f16.variant, native: f16.variant.startsWith('gemm16_native'), ms: +f16.ms.toFixed(3), gflops: +f16.gflops.toFixed(2),
      overF32: +(f16.gflops / f32.gflops).toFixed(2), ...(everyVariant ? { variantGflops: f16.variantGflops } : {}),
    },
  };
  results.push(row);
  console.log(`${c.name.padEnd(18)} ${`${c.m}×${c.n}×${c.k}${c.transA ? ' Aᵀ' : ''}${c.transB ? ' Bᵀ' : ''}`.padEnd(22)} ` +
    `webgrad ${ours.toFixed(2).padStart(8)} ms ${gflops.toFixed(2).padStart(6)} GFLOP/s | TF.js ${theirs.toFixed(2).padStart(8)} ms ${tfGflops.toFixed(2).padStart(6)} GFLOP/s | ` +
    `×${row.speedupOverTfjs.toFixed(2)} vs TF.js | ${(100 * row.fractionOfCpuCeiling[0]!).toFixed(1)}–${(100 * row.fractionOfCpuCeiling[1]!).toFixed(1)}% of CPU ceiling | ${variant}`);
  for (const [name, variantGflops] of Object.entries(variants)) console.log(`${''.padEnd(41)} ${variantGflops.toFixed(2).padStart(8)} GFLOP/s  ${name}`);
  console.log(`${''.padEnd(18)} f16 storage ${''.padEnd(10)} webgrad ${f16.ms.toFixed(2).padStart(8)} ms ${f16.gflops.toFixed(2).padStart(6)} GFLOP/s | ×${row.f16.overF32.toFixed(2)} of f32 | ${f16.variant}`);
  for (const [name, variantGflops] of Object.entries(f16.variantGflops)) console.log(`${''.padEnd(41)} ${variantGflops.toFixed(2).padStart(8)} GFLOP/s  ${name}`);
}

const resultsFile = outFile ?? fileURLToPath(new URL('./results/gemm.json', import.meta.url));
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, JSON.stringify({
  date: new Date().toISOString(),
  adapter: gpu.describe(),
  tfjs: { version: tf.version_core, adapter: tfAdapter },
  cpuCeilingGflops: CPU_CEILING_GFLOPS,
  loadAverageAtEnd: loadavg(),
  note: 'best of 2–3 timed rounds after a warm-up; the 2 cores are shared with other work, so absolute numbers are noisy and the side-by-side ratio is the robust figure',
  shaderF16: gpu.hasShaderF16(),
  results,
}, null, 2) + '\n');
console.log(`\nwrote ${resultsFile}`);
gpu.destroy();
process.exit(0);
