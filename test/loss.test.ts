import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, storageBuffer } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { accumulateColumns, accumulateMetrics, binaryCrossEntropyWithLogits, huberLoss, l1Loss, mseLoss, regressionMetrics, rowMean, softmaxCrossEntropy } from '../src/kernels/loss.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { randomLabels, randomTargets } from './helpers/row-checks.ts';
import { accumulateMetricsRef, bceWithLogitsRef, columnSumsRef, huberLossRef, l1LossRef, mseLossRef, regressionMetricsRef, softmaxCrossEntropyRef } from './reference/loss.ts';
import { entryInfo, shaderSource } from '../src/gpu/reflect.ts';
import { expectSubgroupVariantBuilds, expectSubgroupVariantOnThisDevice, type SubgroupVariantCase } from './helpers/subgroup-gate.ts';

function meanOf(rowLoss: ArrayLike<number>): number {
  let sum = 0;
  for (let r = 0; r < rowLoss.length; r++) sum += rowLoss[r]!;
  return sum / rowLoss.length;
}

describe('CPU loss gradients match float64 finite differences of the mean loss', () => {
  const [rows, classes] = [5, 7];
  const logits = Float64Array.from(randomArray(rows * classes, 1, -3, 3));
  const cases = [
    ['labels', { labels: randomLabels(rows, classes, 2) }, 0],
    ['labels, smoothing 0.1', { labels: randomLabels(rows, classes, 2) }, 0.1],
    ['targets', { targets: randomTargets(rows, classes, 3) }, 0],
    ['targets, smoothing 0.2', { targets: randomTargets(rows, classes, 3) }, 0.2],
  ] as const;
  it.each(cases)('softmax cross-entropy, %s', (_name, target, smoothing) => {
    const expected = numericGradient((p) => [meanOf(softmaxCrossEntropyRef(p, rows, classes, target, smoothing).rowLoss)], logits, [1]);
    // Smooth, O(1) function, step 1e-6: error ~1e-10 from truncation and cancellation.
    expect(maxRelativeError(softmaxCrossEntropyRef(logits, rows, classes, target, smoothing).dlogits, expected)).toBeLessThan(1e-8);
  });

  it('mse', () => {
    const predictions = Float64Array.from(randomArray(rows * classes, 4));
    const targets = randomArray(rows * classes, 5);
    const expected = numericGradient((p) => [meanOf(mseLossRef(p, targets, rows, classes).rowLoss)], predictions, [1]);
    expect(maxRelativeError(mseLossRef(predictions, targets, rows, classes).dpredictions, expected)).toBeLessThan(1e-8);
  });
});

const SHAPES: [number, number][] = [[1, 1], [1, 10], [3, 3], [10, 17], [17, 129], [129, 10], [3, 784], [784, 10], [1000, 3]];

describe('softmaxCrossEntropy on the GPU matches the CPU reference', () => {
  for (const kind of ['labels', 'targets'] as const) {
    for (const smoothing of [0, 0.1]) {
      it.each(SHAPES)(`${kind}, smoothing ${smoothing}: %i × %i`, async (rows, classes) => {
        const gpu = await testGpu();
        const buffers = new TestBuffers(gpu);
        const logits = randomArray(rows * classes, rows * 7 + classes, -6, 6);
        const target: { labels: Uint32Array } | { targets: Float32Array } = kind === 'labels' ? { labels: randomLabels(rows, classes, rows + classes) } : { targets: randomTargets(rows, classes, rows + classes) };
        const io = {
          logits: buffers.upload(logits), dlogits: buffers.output(rows * classes), rowLoss: buffers.output(rows), rowCorrect: buffers.output(rows),
          rows, classes, labelSmoothing: smoothing,
          ...('labels' in target ? { labels: buffers.upload(target.labels) } : { targets: buffers.upload(target.targets) }),
        };
        await runDispatches(gpu, softmaxCrossEntropy(gpu, io));
        const expected = softmaxCrossEntropyRef(logits, rows, classes, target, smoothing);
        // log-sum-exp over up to 784 f32 terms plus exp/log at a few ulp: 1e-5 relative to O(1)
        // losses; gradients are probabilities/rows, compared relative to 1/rows.
        expect(maxRelativeError(await readFloat32(gpu, io.rowLoss, rows), expected.rowLoss)).toBeLessThan(1e-5);
        expect(maxRelativeError(await readFloat32(gpu, io.dlogits, rows * classes), expected.dlogits, 1 / rows)).toBeLessThan(1e-5);
        expect(await readFloat32(gpu, io.rowCorrect, rows)).toEqual(Float32Array.from(expected.rowCorrect));
        buffers.destroy();
      });
    }
  }

  it('stays finite and exact for logits of ±1000', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const logits = Float32Array.from([1000, -1000, 0, /**/ -1000, -1000, -999, /**/ 1000, 1000, -1000]);
    const labels = Uint32Array.from([1, 2, 0]);
    const io = { logits: buffers.upload(logits), labels: buffers.upload(labels), dlogits: buffers.output(9), rowLoss: buffers.output(3), rowCorrect: buffers.output(3), rows: 3, classes: 3 };
    await runDispatches(gpu, softmaxCrossEntropy(gpu, io));
    const expected = softmaxCrossEntropyRef(logits, 3, 3, { labels });
    const rowLoss = await readFloat32(gpu, io.rowLoss, 3);
    expect(rowLoss.every(Number.isFinite)).toBe(true);
    expect(rowLoss[0]).toBeCloseTo(2000, 2); // the wrong class by 2000: loss = 2000
    expect(maxRelativeError(rowLoss, expected.rowLoss)).toBeLessThan(1e-6);
    expect(maxRelativeError(await readFloat32(gpu, io.dlogits, 9), expected.dlogits, 1 / 3)).toBeLessThan(1e-6);
    expect(Array.from(await readFloat32(gpu, io.rowCorrect, 3))).toEqual([0, 1, 1]);
    buffers.destroy();
  });

  it('reads and writes tensors planned inside larger buffers (binding offsets)', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const [rows, classes] = [17, 10];
    const logits = randomArray(rows * classes, 21, -5, 5), labels = randomLabels(rows, classes, 22);
    // Each tensor sits 256 bytes (the storage offset alignment) into a buffer with NaN around it.
    const placed = (data: Float32Array | Uint32Array): GPUBufferBinding => {
      const whole = new Float32Array(64 + data.length + 64).fill(NaN);
      whole.set(new Float32Array(data.buffer, data.byteOffset, data.length), 64);
      return { buffer: buffers.upload(whole), offset: 256, size: data.byteLength };
    };
    const out = (count: number): GPUBufferBinding => placed(new Float32Array(count).fill(NaN));
    const io = { logits: placed(logits), labels: placed(labels), dlogits: out(rows * classes), rowLoss: out(rows), rowCorrect: out(rows), rows, classes };
    await runDispatches(gpu, softmaxCrossEntropy(gpu, io));
    const expected = softmaxCrossEntropyRef(logits, rows, classes, { labels });
    const readPlaced = async (b: GPUBufferBinding, count: number): Promise<Float32Array> => (await readFloat32(gpu, b.buffer, 64 + count + 64)).subarray(64, 64 + count);
    expect(maxRelativeError(await readPlaced(io.rowLoss, rows), expected.rowLoss)).toBeLessThan(1e-5);
    expect(maxRelativeError(await readPlaced(io.dlogits, rows * classes), expected.dlogits, 1 / rows)).toBeLessThan(1e-5);
    // Nothing outside the planned range was written.
    const whole = await readFloat32(gpu, io.dlogits.buffer, 64 + rows * classes + 64);
    expect([...whole.subarray(0, 64), ...whole.subarray(64 + rows * classes)].every(Number.isNaN)).toBe(true);
    buffers.destroy();
  });

  it('turns a label outside the classes into a NaN row loss', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const io = { logits: buffers.upload(randomArray(6, 9)), labels: buffers.upload(Uint32Array.from([1, 3])), dlogits: buffers.output(6), rowLoss: buffers.output(2), rowCorrect: buffers.output(2), rows: 2, classes: 3 };
    await runDispatches(gpu, softmaxCrossEntropy(gpu, io));
    const rowLoss = await readFloat32(gpu, io.rowLoss, 2);
    expect(Number.isFinite(rowLoss[0])).toBe(true);
    expect(rowLoss[1]).toBeNaN();
    buffers.destroy();
  });

  it('needs exactly one of labels and targets', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    const io = { logits: b, dlogits: b, rowLoss: b, rowCorrect: b, rows: 2, classes: 2 };
    expect(() => softmaxCrossEntropy(gpu, io)).toThrow(/exactly one/);
    expect(() => softmaxCrossEntropy(gpu, { ...io, labels: b, targets: b })).toThrow(/exactly one/);
    buffers.destroy();
  });
});

describe('mseLoss on the GPU matches the CPU reference', () => {
  it.each(SHAPES)('%i × %i', async (rows, cols) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const predictions = randomArray(rows * cols, rows + 5 * cols), targets = randomArray(rows * cols, rows + 5 * cols + 1);
    const io = { predictions: buffers.upload(predictions), targets: buffers.upload(targets), dpredictions: buffers.output(rows * cols), rowLoss: buffers.output(rows), rows, cols };
    await runDispatches(gpu, mseLoss(gpu, io));
    const expected = mseLossRef(predictions, targets, rows, cols);
    // Row sums of up to 784 squares: 1e-5 relative. The gradient is one f32 subtract and multiply
    // by a rounded 2/(rows·cols): compared relative to that scale.
    expect(maxRelativeError(await readFloat32(gpu, io.rowLoss, rows), expected.rowLoss)).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, io.dpredictions, rows * cols), expected.dpredictions, 2 / (rows * cols))).toBeLessThan(1e-6);
    buffers.destroy();
  });
});

describe('accumulateMetrics', () => {
  it.each([1, 3, 17, 64, 129, 784, 10_000])('adds %i rows to the running totals', async (rows) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const rowLoss = randomArray(rows, rows, 0, 3);
    const rowCorrect = Float32Array.from(randomArray(rows, rows + 1), (v) => (v > 0 ? 1 : 0));
    const start = Float32Array.from([12.5, 7, 20, 0]);
    const totals = buffers.upload(start);
    const step = accumulateMetrics(gpu, { rowLoss: buffers.upload(rowLoss), rowCorrect: buffers.upload(rowCorrect), rows, totals });
    await runDispatches(gpu, [...step, ...step]); // two batches: the totals accumulate
    const expected = accumulateMetricsRef(accumulateMetricsRef(start, rowLoss, rowCorrect), rowLoss, rowCorrect);
    // Counts are exact in f32 far beyond these sizes; the loss sum is f32 over ≤ 20k terms.
    const got = await readFloat32(gpu, totals, 4);
    expect(maxRelativeError([got[0]!], [expected[0]!])).toBeLessThan(1e-5);
    expect(Array.from(got.subarray(1))).toEqual(Array.from(expected.subarray(1)));
    buffers.destroy();
  });

  it('counts NaN and Inf losses, and without rowCorrect adds no correct answers', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const rows = 200;
    const rowLoss = randomArray(rows, 11, 0, 2);
    rowLoss[3] = NaN; rowLoss[70] = Infinity; rowLoss[199] = -Infinity;
    const totals = buffers.upload(new Float32Array(4));
    await runDispatches(gpu, accumulateMetrics(gpu, { rowLoss: buffers.upload(rowLoss), rows, totals }));
    const got = await readFloat32(gpu, totals, 4);
    expect(got[0]).toBeNaN();
    expect(Array.from(got.subarray(1))).toEqual([0, rows, 3]);
    buffers.destroy();
  });

  it('gives the same bits on every run', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const rows = 5000;
    const rowLoss = buffers.upload(randomArray(rows, 12, 0, 1000));
    const totals = buffers.upload(new Float32Array(4));
    const step = accumulateMetrics(gpu, { rowLoss, rows, totals });
    const results: number[] = [];
    for (let run = 0; run < 3; run++) {
      gpu.device.queue.writeBuffer(totals, 0, new Float32Array(4));
      await runDispatches(gpu, step);
      results.push((await readFloat32(gpu, totals, 1))[0]!);
    }
    expect(new Set(results).size).toBe(1);
    buffers.destroy();
  });
});

/** Predictions and targets whose differences keep 1e-3 away from `kinks` (where a loss has no derivative). */
function awayFromKinks(count: number, seed: number, kinks: number[]): { predictions: Float32Array; targets: Float32Array } {
  const predictions = randomArray(count, seed, -3, 3), targets = randomArray(count, seed + 1, -3, 3);
  for (let i = 0; i < count; i++) {
    while (kinks.some((k) => Math.abs(Math.abs(predictions[i]! - targets[i]!) - k) < 1e-3)) predictions[i]! += 0.01;
  }
  return { predictions, targets };
}

const ELEMENT_LOSSES = [
  ['l1', (p: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number) => l1LossRef(p, t, rows, cols), [0]],
  ['huber, delta 1', (p: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number) => huberLossRef(p, t, rows, cols, 1), [1]],
  ['huber, delta 0.3', (p: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number) => huberLossRef(p, t, rows, cols, 0.3), [0.3]],
  ['bce with logits', (p: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number) => bceWithLogitsRef(p, Float64Array.from(t, (v) => (v + 3) / 6), rows, cols), []],
] as const;

describe('CPU elementwise-loss gradients match float64 finite differences of the mean loss', () => {
  it.each(ELEMENT_LOSSES)('%s', (_name, ref, kinks) => {
    const [rows, cols] = [5, 3];
    const { predictions, targets } = awayFromKinks(rows * cols, 30, [...kinks]);
    const x = Float64Array.from(predictions);
    const expected = numericGradient((p) => [meanOf(ref(p, targets, rows, cols).rowLoss)], x, [1]);
    expect(maxRelativeError(ref(x, targets, rows, cols).dpredictions, expected)).toBeLessThan(1e-7);
  });

  it('bce with logits equals −[t·log σ(x) + (1 − t)·log(1 − σ(x))] where that is finite', () => {
    const x = [-4, -0.5, 0, 0.7, 5], t = [0, 1, 0.5, 0.2, 1];
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    const direct = x.map((v, i) => -(t[i]! * Math.log(sigmoid(v)) + (1 - t[i]!) * Math.log(1 - sigmoid(v))));
    expect(maxRelativeError(bceWithLogitsRef(x, t, 5, 1).rowLoss, direct)).toBeLessThan(1e-12);
  });

  it('huber is ½d² inside delta and delta·(|d| − ½delta) outside, as torch.nn.HuberLoss documents', () => {
    expect(Array.from(huberLossRef([0.5, 3, -3], [0, 0, 0], 3, 1, 1).rowLoss)).toEqual([0.125, 2.5, 2.5]);
  });
});

describe('elementwise losses on the GPU match the CPU reference', () => {
  const run = async (name: string, rows: number, cols: number) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const predictions = randomArray(rows * cols, rows + 3 * cols, -4, 4);
    const raw = randomArray(rows * cols, rows + 3 * cols + 1, -4, 4);
    const targets = name === 'bce' ? Float32Array.from(raw, (v) => (v + 4) / 8) : raw;
    const io = { predictions: buffers.upload(predictions), targets: buffers.upload(targets), dpredictions: buffers.output(rows * cols), rowLoss: buffers.output(rows), rows, cols };
    const rowCorrect = buffers.output(rows), rowMetrics = buffers.output(rows * cols);
    const dispatches = name === 'l1' ? l1Loss(gpu, io) : name === 'huber' ? huberLoss(gpu, { ...io, delta: 0.7 }) : binaryCrossEntropyWithLogits(gpu, { ...io, rowCorrect, rowMetrics });
    await runDispatches(gpu, dispatches);
    const bce = name === 'bce' ? bceWithLogitsRef(predictions, targets, rows, cols) : undefined;
    const expected = bce ?? (name === 'l1' ? l1LossRef(predictions, targets, rows, cols) : huberLossRef(predictions, targets, rows, cols, 0.7));
    // Row means of up to 784 terms of O(1): 1e-5 relative; the gradient is a few f32 operations
    // scaled by 1/(rows·cols), compared relative to that scale.
    expect(maxRelativeError(await readFloat32(gpu, io.rowLoss, rows), expected.rowLoss)).toBeLessThan(1e-5);
    expect(maxRelativeError(await readFloat32(gpu, io.dpredictions, rows * cols), expected.dpredictions, 1 / (rows * cols))).toBeLessThan(1e-5);
    if (bce) {
      expect(Array.from(await readFloat32(gpu, rowMetrics, rows * cols))).toEqual(Array.from(bce.labelCorrect));
      expect(maxRelativeError(await readFloat32(gpu, rowCorrect, rows), bce.rowCorrect)).toBeLessThan(1e-6);
    }
    buffers.destroy();
  };
  for (const name of ['l1', 'huber', 'bce']) it.each(SHAPES)(`${name}: %i × %i`, (rows, cols) => run(name, rows, cols));

  it('huber refuses a delta that is not positive', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const b = buffers.output(4);
    expect(() => huberLoss(gpu, { predictions: b, targets: b, dpredictions: b, rowLoss: b, rows: 2, cols: 2, delta: 0 })).toThrow(/delta must be a positive number, got 0/);
    buffers.destroy();
  });
});

describe('regression metrics, row means and column totals', () => {
  it.each(SHAPES)('%i × %i', async (rows, cols) => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const a = randomArray(rows * cols, rows * 11 + cols, -5, 5), b = randomArray(rows * cols, rows * 11 + cols + 1, -5, 5);
    const metrics = buffers.output(rows * 2), means = buffers.output(rows);
    const start = Float32Array.from([1, 2, 3, 4, 0.5, -1]);
    const totals = buffers.upload(start);
    await runDispatches(gpu, [
      ...regressionMetrics(gpu, { predictions: buffers.upload(a), targets: buffers.upload(b), rowMetrics: metrics, rows, cols }),
      ...rowMean(gpu, { elements: buffers.upload(a), rowLoss: means, rows, cols }),
      ...accumulateColumns(gpu, { rowMetrics: metrics, rows, cols: 2, totals }),
    ]);
    const expectedMetrics = regressionMetricsRef(a, b, rows, cols);
    expect(maxRelativeError(await readFloat32(gpu, metrics, rows * 2), expectedMetrics)).toBeLessThan(1e-5);
    const expectedMeans = new Float64Array(rows);
    for (let i = 0; i < rows * cols; i++) expectedMeans[Math.floor(i / cols)]! += a[i]! / cols;
    // Means of signed values can cancel: compared relative to the values' scale.
    expect(maxRelativeError(await readFloat32(gpu, means, rows), expectedMeans, 1)).toBeLessThan(1e-5);
    const got = await readFloat32(gpu, totals, 6);
    expect(Array.from(got.subarray(0, 4)), 'the first four totals belong to accumulateMetrics').toEqual([1, 2, 3, 4]);
    const sums = columnSumsRef(expectedMetrics, rows, 2);
    expect(maxRelativeError(got.subarray(4), [0.5 + sums[0]!, -1 + sums[1]!])).toBeLessThan(1e-5);
    buffers.destroy();
  });
});

function crossEntropyCase(kind: 'labels' | 'targets'): SubgroupVariantCase {
  const io = (gpu: Gpu) => {
    const b = storageBuffer(gpu, 256, 'crossEntropy.any');
    return { logits: b, dlogits: b, rowLoss: b, rowCorrect: b, rows: 3, classes: 5, ...(kind === 'labels' ? { labels: b } : { targets: b }) };
  };
  const entry = kind === 'labels' ? 'softmaxCrossEntropyLabels' : 'softmaxCrossEntropyTargets';
  return {
    kernels: [kind === 'labels' ? 'crossEntropyLabels' : 'crossEntropyTargets'],
    shader: 'loss_subgroup',
    forced: (gpu) => softmaxCrossEntropy(gpu, { ...io(gpu), variant: 'subgroup' }),
    byDefault: (gpu) => softmaxCrossEntropy(gpu, io(gpu)),
    subgroupKernel: ['loss_subgroup', `${entry}Subgroup`],
    invocationKernel: ['loss', entry],
  };
}

describe('softmaxCrossEntropy, subgroup variant (a workgroup per row)', () => {
  it.each(['labels', 'targets'] as const)('%s: is reflected with the invocation kernel\'s bindings, in a workgroup of whole subgroups of any size', (kind) => {
    expect(shaderSource('loss_subgroup')).toMatch(/^enable subgroups;/m);
    const entry = kind === 'labels' ? 'softmaxCrossEntropyLabels' : 'softmaxCrossEntropyTargets';
    const info = entryInfo('loss_subgroup', `${entry}Subgroup`);
    expect(info.bindings.map((b) => `${b.name}:${b.kind}`)).toEqual(entryInfo('loss', entry).bindings.map((b) => `${b.name}:${b.kind}`));
    expect(info.workgroupSize[0] % 128).toBe(0);
  });

  it.each(['labels', 'targets'] as const)('%s: matches the reference over odd row lengths where the device has subgroups, and is refused where it does not', async (kind) => {
    await expectSubgroupVariantOnThisDevice(await testGpu(), crossEntropyCase(kind));
  });

  it.each(['labels', 'targets'] as const)('%s: builds, and is the default, on Dawn\'s null backend, which offers subgroups', async (kind) => {
    await expectSubgroupVariantBuilds(crossEntropyCase(kind));
  });
});
