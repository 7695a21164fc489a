// GPU kernels against their float64 CPU references (the same ones test/ uses in Node), run in the
// browser so "unchanged in browsers" is checked on the browser's own WebGPU implementation.
import { gemmReference } from '../test/reference/gemm.ts';
import { softmaxCrossEntropyRef } from '../test/reference/loss.ts';
import { conv2dForwardRef, outputCount } from '../test/reference/conv.ts';
import { maxPool2dForwardRef } from '../test/reference/pool.ts';
import { maxRelativeError, randomArray, rng } from '../test/helpers/random.ts';
import { TestBuffers } from '../test/helpers/buffers.ts';
import { checkRowKernel, describeRowCheck, rowCheckPasses, ROW_COUNTS, ROW_KERNELS, ROW_LENGTHS, type RowKernel } from '../test/helpers/row-checks.ts';
import { readFloat32, readUint32, runDispatches, storageBuffer, gemm, softmaxCrossEntropy, conv2dForward, conv2dScratchBytes, maxPool2dForward, pool2dOutputSize, type Gpu, type Conv2dShape, type Pool2dShape, type RowVariant } from 'webgrad';

/**
 * `variant` is set on the row-kernel checks that forced one (src/kernels/row-variant.ts); `ms` is
 * the check's wall time (upload, run, readback and the CPU reference), so a slow page can be traced.
 */
export interface CheckResult { name: string; pass: boolean; detail: string; variant?: RowVariant; ms?: number }

/** fp32 against float64: sums of up to a few hundred terms in [-1, 1] stay within 1e-4 relative. */
const FP32_TOLERANCE = 1e-4;

function verdict(name: string, error: number, tolerance = FP32_TOLERANCE): CheckResult {
  return { name, pass: error <= tolerance, detail: `max relative error ${error.toExponential(2)} (tolerance ${tolerance})` };
}

async function checkGemm(gpu: Gpu, buffers: TestBuffers, m: number, n: number, k: number, transB: boolean): Promise<CheckResult> {
  const a = randomArray(m * k, m * 7 + 1), b = randomArray(k * n, n * 11 + 2), bias = randomArray(n, k + 3);
  const c = buffers.output(m * n);
  await runDispatches(gpu, gemm(gpu, { a: buffers.upload(a), b: buffers.upload(b), c, bias: buffers.upload(bias), m, n, k, transB, activation: 'relu' }));
  const expected = gemmReference({ a, b, c: new Float64Array(m * n), m, n, k, transB, bias, activation: 'relu' });
  // Error is judged against each element's sum of |terms|, the scale its fp32 rounding grows with.
  const got = await readFloat32(gpu, c, m * n);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected.c[i]!) / Math.max(1, expected.scale[i]!));
  return verdict(`gemm ${m}×${k} · ${k}×${n}${transB ? 'ᵀ' : ''} + bias, relu`, worst);
}

async function checkSoftmaxCrossEntropy(gpu: Gpu, buffers: TestBuffers, rows: number, classes: number): Promise<CheckResult> {
  const logits = randomArray(rows * classes, rows + classes, -4, 4);
  const next = rng(rows);
  const labels = Uint32Array.from({ length: rows }, () => Math.floor(next() * classes));
  const io = { logits: buffers.upload(logits), labels: buffers.upload(labels), dlogits: buffers.output(rows * classes), rowLoss: buffers.output(rows), rowCorrect: buffers.output(rows), rows, classes };
  await runDispatches(gpu, softmaxCrossEntropy(gpu, io));
  const expected = softmaxCrossEntropyRef(logits, rows, classes, { labels });
  const error = Math.max(
    maxRelativeError(await readFloat32(gpu, io.rowLoss, rows), expected.rowLoss),
    // Gradients are (p − y)/rows: judged relative to 1/rows, their natural size.
    maxRelativeError(await readFloat32(gpu, io.dlogits, rows * classes), expected.dlogits, 1 / rows),
    maxRelativeError(await readFloat32(gpu, io.rowCorrect, rows), expected.rowCorrect),
  );
  return verdict(`softmax cross-entropy ${rows}×${classes}`, error);
}

async function checkConv(gpu: Gpu, buffers: TestBuffers, s: Conv2dShape): Promise<CheckResult> {
  const x = randomArray(s.batch * s.inChannels * s.height * s.width, 5);
  const weight = randomArray(s.outChannels * s.inChannels * s.kernelH * s.kernelW, 6);
  const bias = randomArray(s.outChannels, 7);
  const y = buffers.output(outputCount(s));
  const scratch = conv2dScratchBytes(s, { pass: 'forward' }).map((bytes, i) => storageBuffer(gpu, bytes, `conv.scratch${i}`));
  try {
    await runDispatches(gpu, conv2dForward(gpu, s, { x: buffers.upload(x), weight: buffers.upload(weight), bias: buffers.upload(bias), y, scratch, activation: 'relu' }));
  } finally {
    for (const buffer of scratch) gpu.destroyBuffer(buffer);
  }
  const expected = conv2dForwardRef(s, x, weight, bias, 'relu');
  const error = maxRelativeError(await readFloat32(gpu, y, expected.length), expected);
  return verdict(`conv2d ${s.batch}×${s.inChannels}×${s.height}×${s.width} * ${s.outChannels}@${s.kernelH}×${s.kernelW} pad ${s.padH}, relu`, error);
}

async function checkMaxPool(gpu: Gpu, buffers: TestBuffers, s: Pool2dShape): Promise<CheckResult> {
  const x = randomArray(s.batch * s.channels * s.height * s.width, 9);
  const { outH, outW } = pool2dOutputSize(s);
  const count = s.batch * s.channels * outH * outW;
  const io = { x: buffers.upload(x), y: buffers.output(count), argmax: buffers.output(count) };
  await runDispatches(gpu, maxPool2dForward(gpu, s, io));
  const expected = maxPool2dForwardRef(s, x);
  // A maximum is copied, not computed: exact, and so is the index it came from.
  const argmax = await readUint32(gpu, io.argmax, count);
  const argmaxWrong = argmax.some((v, i) => v !== expected.argmax[i]);
  const error = argmaxWrong ? Infinity : maxRelativeError(await readFloat32(gpu, io.y, count), expected.y);
  return verdict(`max-pool ${s.windowH}×${s.windowW} on ${s.batch}×${s.channels}×${s.height}×${s.width}`, error, 0);
}

async function checkRows(gpu: Gpu, kernel: RowKernel, rows: number, cols: number): Promise<CheckResult> {
  const check = await checkRowKernel(gpu, kernel, 'subgroup', rows, cols);
  return { name: `${kernel} ${rows}×${cols}, subgroup variant`, pass: rowCheckPasses(check), detail: describeRowCheck(check), variant: 'subgroup' };
}

/**
 * The subgroup variants of the row kernels over odd row lengths and several row counts; none where
 * the device lacks `subgroups`. A grid folded past 65,535 workgroups is left out: 70,000 rows took
 * SwiftShader 15 s, ten times all the other checks together.
 */
function subgroupChecks(gpu: Gpu): (() => Promise<CheckResult>)[] {
  if (!gpu.hasSubgroups()) return [];
  return ROW_KERNELS.flatMap((kernel) => ROW_COUNTS.flatMap((rows) => ROW_LENGTHS.map((cols) => () => checkRows(gpu, kernel, rows, cols))));
}

export async function runKernelChecks(gpu: Gpu): Promise<CheckResult[]> {
  const buffers = new TestBuffers(gpu);
  const conv = (batch: number, inChannels: number, size: number, outChannels: number, kernel: number, pad: number): Conv2dShape =>
    ({ batch, inChannels, height: size, width: size, outChannels, kernelH: kernel, kernelW: kernel, strideH: 1, strideW: 1, padH: pad, padW: pad });
  const pool = (batch: number, channels: number, size: number): Pool2dShape =>
    ({ batch, channels, height: size, width: size, windowH: 2, windowW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0 });
  const checks = [
    () => checkGemm(gpu, buffers, 1, 1, 1, false),
    () => checkGemm(gpu, buffers, 17, 129, 33, false),
    () => checkGemm(gpu, buffers, 64, 10, 784, true),
    () => checkSoftmaxCrossEntropy(gpu, buffers, 1, 10),
    () => checkSoftmaxCrossEntropy(gpu, buffers, 129, 10),
    () => checkConv(gpu, buffers, conv(2, 1, 28, 32, 3, 0)),
    () => checkConv(gpu, buffers, conv(3, 5, 13, 7, 3, 1)),
    () => checkMaxPool(gpu, buffers, pool(2, 32, 26)),
    () => checkMaxPool(gpu, buffers, pool(1, 3, 17)),
    ...subgroupChecks(gpu),
  ];
  const results: CheckResult[] = [];
  try {
    for (const check of checks) {
      const start = performance.now();
      try {
        results.push({ ...await check(), ms: performance.now() - start });
      } catch (error) {
        results.push({ name: `check ${results.length + 1}`, pass: false, detail: error instanceof Error ? error.message : String(error) });
      }
    }
  } finally {
    buffers.destroy();
  }
  return results;
}
