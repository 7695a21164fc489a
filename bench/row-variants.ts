// The row kernels' two variants side by side on this adapter: one invocation per row, and a
// workgroup per row joined with subgroup operations (where the device has `subgroups`; elsewhere
// only the first is timed, and the JSON says so). Layer norm and softmax along the last axis, forward
// and backward, and softmax cross-entropy, on a transformer's token rows, a language model's vocabulary rows and
// an MNIST batch. `npx tsx bench/row-variants.ts [--out FILE]`, results in bench/results/row-variants.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomArray } from '../test/helpers/random.ts';
import { timeDispatches } from './helpers/time.ts';
import {
  createGpu, layerNormBackward, layerNormForward, softmaxAxis, softmaxAxisBackward, softmaxCrossEntropy, storageBuffer, uploadBuffer, ROW_VARIANTS,
  type BufferRef, type Dispatch, type Gpu, type RowVariant,
} from 'webgrad';

const outFlag = process.argv.indexOf('--out');
const outFile = outFlag >= 0 ? process.argv[outFlag + 1] : undefined;
if (outFlag >= 0 && !outFile) throw new Error('bench/row-variants.ts: --out needs a file name');

interface Case { name: string; rows: number; cols: number; launch: (gpu: Gpu, variant: RowVariant, b: (floats: number) => BufferRef) => Dispatch[] }

const layerNorm = (rows: number, cols: number): Case => ({
  name: `layerNormForward ${rows} × ${cols}`, rows, cols,
  launch: (gpu, variant, b) => layerNormForward(gpu, { rows, cols }, { x: b(rows * cols), gamma: b(cols), beta: b(cols), y: b(rows * cols), mean: b(rows), rstd: b(rows), variant }),
});
const layerNormGrad = (rows: number, cols: number): Case => ({
  name: `layerNormBackward ${rows} × ${cols}`, rows, cols,
  launch: (gpu, variant, b) => layerNormBackward(gpu, { rows, cols }, {
    x: b(rows * cols), dy: b(rows * cols), gamma: b(cols), mean: b(rows), rstd: b(rows), dx: b(rows * cols), dgamma: b(cols), dbeta: b(cols), scratch: b(rows * cols), variant,
  }),
});
const softmaxGrad = (rows: number, cols: number): Case => ({
  name: `softmaxAxisBackward (last axis) ${rows} × ${cols}`, rows, cols,
  launch: (gpu, variant, b) => softmaxAxisBackward(gpu, { outer: rows, n: cols, inner: 1 }, { y: b(rows * cols), dy: b(rows * cols), dx: b(rows * cols), variant }),
});
const softmax = (rows: number, cols: number): Case => ({
  name: `softmaxAxis (last axis) ${rows} × ${cols}`, rows, cols,
  launch: (gpu, variant, b) => softmaxAxis(gpu, { outer: rows, n: cols, inner: 1 }, { x: b(rows * cols), y: b(rows * cols), variant }),
});
const crossEntropy = (rows: number, cols: number): Case => ({
  name: `softmaxCrossEntropy ${rows} × ${cols}`, rows, cols,
  launch: (gpu, variant, b) => softmaxCrossEntropy(gpu, { logits: b(rows * cols), labels: b(rows), dlogits: b(rows * cols), rowLoss: b(rows), rowCorrect: b(rows), rows, classes: cols, variant }),
});

const CASES: Case[] = [
  layerNorm(4096, 128), layerNorm(256, 768), layerNormGrad(4096, 128),
  softmax(1024, 64), softmax(64, 8192), softmaxGrad(64, 8192),
  crossEntropy(64, 10), crossEntropy(512, 8192),
];

const gpu = await createGpu();
const variants = ROW_VARIANTS.filter((v) => v === 'invocation' || gpu.hasSubgroups());
console.log(`${gpu.describe()}; subgroups: ${gpu.hasSubgroups() ? `yes${gpu.adapter.subgroupSizes ? ` (sizes ${gpu.adapter.subgroupSizes.min}–${gpu.adapter.subgroupSizes.max})` : ''}` : 'no, so only the invocation-per-row kernels are timed'}`);
console.log('best of several trials, ms per call');
const results: { case: string; ms: Partial<Record<RowVariant, number>> }[] = [];
for (const c of CASES) {
  const owned: GPUBuffer[] = [];
  const b = (floats: number): GPUBuffer => {
    const buffer = floats === c.rows * c.cols ? uploadBuffer(gpu, randomArray(floats, floats, -4, 4), 'data') : storageBuffer(gpu, floats * 4, 'small');
    owned.push(buffer);
    return buffer;
  };
  const ms: Partial<Record<RowVariant, number>> = {};
  for (const variant of variants) ms[variant] = await timeDispatches(gpu, c.launch(gpu, variant, b));
  results.push({ case: c.name, ms });
  const ratio = ms.subgroup === undefined ? '' : `   subgroup ${ms.subgroup.toFixed(3).padStart(8)}   (${(ms.invocation! / ms.subgroup).toFixed(2)}× the invocation kernel's speed)`;
  console.log(`  ${c.name.padEnd(40)} invocation ${ms.invocation!.toFixed(3).padStart(8)}${ratio}`);
  for (const buffer of owned) gpu.destroyBuffer(buffer);
}
const target = outFile ?? new URL('./results/row-variants.json', import.meta.url).pathname;
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify({ adapter: gpu.describe(), subgroups: gpu.hasSubgroups(), subgroupSizes: gpu.adapter.subgroupSizes ?? null,
  command: 'npx tsx bench/row-variants.ts', date: new Date().toISOString(), results }, null, 2)}\n`);
gpu.destroy();
