// Implicit-GEMM convolution against the other two ways each pass can run (im2col + one GEMM, and the
// direct register-blocked kernels) on the zoo cnn's conv layers at batch 64, each forced.
// `npx tsx bench/conv_implicit.ts` prints a table and writes bench/results/conv_implicit.json, or
// `--out FILE` (bench/device-check.sh's conv-implicit step).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { timeDispatches } from './helpers/time.ts';
import { convPasses, CONV_PASSES as PASSES, type ConvPass as Pass } from './helpers/conv-passes.ts';
import {
  createGpu, chooseConvAlgorithm, tuneConv, tuneGemm, type Gpu, type Conv2dShape, type ConvAlgorithm,
} from 'webgrad';

const cnnLayer = (inChannels: number, size: number, outChannels: number): Conv2dShape => ({
  batch: 64, inChannels, height: size, width: size, outChannels, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0,
});
const LAYERS = [
  { name: 'conv1 1→32 3×3 28×28', shape: cnnLayer(1, 28, 32) },
  { name: 'conv2 32→64 3×3 13×13', shape: cnnLayer(32, 13, 64) },
];
const ALGORITHMS: readonly ConvAlgorithm[] = ['implicit', 'columns', 'direct'];

/** Milliseconds per call of each pass with `algorithm` forced; implicit GEMM is slow here, so few repetitions. */
async function timePasses(gpu: Gpu, s: Conv2dShape, algorithm: ConvAlgorithm): Promise<Record<Pass, number>> {
  const { ops, destroy } = convPasses(gpu, s, algorithm);
  const ms = {} as Record<Pass, number>;
  for (const pass of PASSES) ms[pass] = await timeDispatches(gpu, ops[pass], 3, 3);
  destroy();
  return ms;
}

const outFlag = process.argv.indexOf('--out');
const outFile = outFlag >= 0 ? process.argv[outFlag + 1] : undefined;
if (outFlag >= 0 && !outFile) throw new Error('bench/conv_implicit.ts: --out needs a file name');

const gpu = await createGpu();
await tuneGemm(gpu);
const tuneStart = performance.now();
await tuneConv(gpu);
const tuneConvMs = performance.now() - tuneStart;
const load = loadavg().map((l) => l.toFixed(2));
console.log(`adapter: ${gpu.describe()}\nload average at start ${load.join(' ')} (the machine is shared); tuneConv ${tuneConvMs.toFixed(0)} ms (cached results return at once)`);
console.log('best of 3 trials of 3 calls each, milliseconds per call');
const results = [];
for (const { name, shape } of LAYERS) {
  const ms = {} as Record<ConvAlgorithm, Record<Pass, number>>;
  for (const algorithm of ALGORITHMS) ms[algorithm] = await timePasses(gpu, shape, algorithm);
  const tuned = {} as Record<Pass, ConvAlgorithm>;
  console.log(`\n${name} (batch ${shape.batch})`);
  for (const pass of PASSES) {
    tuned[pass] = chooseConvAlgorithm(gpu, shape, pass);
    console.log(`  ${pass.padEnd(15)} ${ALGORITHMS.map((a) => `${a} ${ms[a][pass].toFixed(2).padStart(8)}`).join('   ')}   tuned choice: ${tuned[pass]}`);
  }
  results.push({ layer: name, shape, ms, tunedChoice: tuned });
}
writeFileSync(outFile ?? new URL('./results/conv_implicit.json', import.meta.url), `${JSON.stringify({
  adapter: gpu.describe(), command: 'npx tsx bench/conv_implicit.ts', date: new Date().toISOString(), loadAverageAtStart: load, tuneConvMs, results,
}, null, 2)}\n`);
gpu.destroy();
