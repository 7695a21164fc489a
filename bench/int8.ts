// Int8 inference kernels against the f32 ones they replace, for the MNIST cnn's layers at batch 500
// (the Evaluator's batch): quantize + int8 GEMM (dot4I8Packed and the shift fallback) vs f32 conv2d
// / gemm. `npx tsx bench/int8.ts`; writes bench/results/int8.json. Best of several trials each.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomArray } from '../test/helpers/random.ts';
import { timeDispatches } from './helpers/time.ts';
import { createGpu, storageBuffer, uploadBuffer, conv2dForward, conv2dScratchBytes, gemm, int8Conv2d, int8Conv2dScratchBytes, int8Dense, int8DenseScratchBytes, quantizePerChannel, type Dispatch, type Conv2dShape } from 'webgrad';

const BATCH = 500;
const gpu = await createGpu();
console.log(`adapter: ${gpu.describe()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 shared cores: best of 5 trials)`);

interface Variant { name: string; dispatches: Dispatch[] }
const owned: GPUBuffer[] = [];
const upload = (data: Float32Array | Uint32Array) => { const b = uploadBuffer(gpu, data, 'bench'); owned.push(b); return b; };
const scratch = (bytes: number) => { const b = storageBuffer(gpu, bytes, 'scratch'); owned.push(b); return b; };

function convCase(s: Conv2dShape): Variant[] {
  const taps = s.inChannels * s.kernelH * s.kernelW;
  const w = randomArray(s.outChannels * taps, 2, -0.3, 0.3);
  const q = quantizePerChannel(w, s.outChannels, taps);
  const x = upload(randomArray(s.batch * s.inChannels * s.height * s.width, 1, 0, 1));
  const y = scratch(s.batch * s.outChannels * (s.height - s.kernelH + 1) * (s.width - s.kernelW + 1) * 4);
  const bias = upload(randomArray(s.outChannels, 3));
  const int8 = (packedDot: boolean) => int8Conv2d(gpu, s, { x, weight: upload(q.packed), weightScale: upload(q.scales), bias, y, scratch: scratch(int8Conv2dScratchBytes(s)), activation: 'relu', packedDot });
  return [
    { name: 'f32 conv2dForward', dispatches: conv2dForward(gpu, s, { x, weight: upload(w), bias, y, scratch: conv2dScratchBytes(s, { pass: 'forward' }).map(scratch), activation: 'relu' }) },
    { name: 'int8 packed dot', dispatches: int8(true) },
    { name: 'int8 shift fallback', dispatches: int8(false) },
  ];
}

function denseCase(inFeatures: number, outFeatures: number): Variant[] {
  const w = randomArray(outFeatures * inFeatures, 4, -0.1, 0.1);
  const q = quantizePerChannel(w, outFeatures, inFeatures);
  const x = upload(randomArray(BATCH * inFeatures, 5));
  const y = scratch(BATCH * outFeatures * 4);
  const bias = upload(randomArray(outFeatures, 6));
  const int8 = (packedDot: boolean) => int8Dense(gpu, { x, weight: upload(q.packed), weightScale: upload(q.scales), bias, y, scratch: scratch(int8DenseScratchBytes(BATCH, inFeatures)), batch: BATCH, inFeatures, outFeatures, packedDot });
  return [
    { name: 'f32 gemm', dispatches: gemm(gpu, { a: x, b: upload(w), c: y, m: BATCH, n: outFeatures, k: inFeatures, transB: true, bias }) },
    { name: 'int8 packed dot', dispatches: int8(true) },
    { name: 'int8 shift fallback', dispatches: int8(false) },
  ];
}

const conv = (inChannels: number, size: number, outChannels: number): Conv2dShape => ({
  batch: BATCH, inChannels, height: size, width: size, outChannels, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0,
});
const cases: [string, Variant[]][] = [
  ['cnn conv1 1→32 @28×28', convCase(conv(1, 28, 32))],
  ['cnn conv2 32→64 @13×13', convCase(conv(32, 13, 64))],
  ['cnn fc1 1600→10', denseCase(1600, 10)],
];
const results = [];
for (const [name, variants] of cases) {
  for (const v of variants) {
    const ms = await timeDispatches(gpu, v.dispatches, 2, 5);
    results.push({ case: name, variant: v.name, ms, imagesPerSecond: BATCH / (ms / 1000) });
    console.log(`${name.padEnd(24)} ${v.name.padEnd(20)} ${ms.toFixed(2).padStart(9)} ms  ${(BATCH / (ms / 1000)).toFixed(0).padStart(8)} images/s`);
  }
}
for (const b of owned) gpu.destroyBuffer(b);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/int8.json', `${JSON.stringify({ adapter: gpu.describe(), batch: BATCH, results }, null, 2)}\n`);
gpu.destroy();
