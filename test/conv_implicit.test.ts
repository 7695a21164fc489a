// The implicit-GEMM convolution (shaders/conv_implicit.wgsl), forced on this adapter whatever the
// tuner would pick: every pass against the float64 references over ragged shapes, its scratch
// needs, the tuner's record, and a model trained with it against the float64 CPU twin.
import { describe, expect, it } from 'vitest';
import { testGpu } from './helpers/gpu.ts';
import { conv, convName, expectConvMatchesReference } from './helpers/conv-check.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { maxRelativeError, rng } from './helpers/random.ts';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseConvAlgorithm, conv2dScratchBytes, convAlgorithm, convTuned, forceConvAlgorithm, samePadding, setConvTuning, type Conv2dShape } from '../src/kernels/conv.ts';
import { tuneConv } from '../src/kernels/conv_tune.ts';
import { Sequential } from '../src/model/model.ts';
import { Conv2D, Dense, Flatten, MaxPool2D } from '../src/layers/layers.ts';
import { zooModel } from '../src/model/zoo.ts';
import { ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import type { Gpu } from '../src/gpu/device.ts';

const same = (k: number): [number, number] => [samePadding(k), samePadding(k)];

// 64×64, 16×256 and 256×16 output tiles (by the product's rows and columns) and 16- or 4-deep
// k-tiles: every shape leaves ragged tiles somewhere, and each tile shape runs.
const SHAPES: Conv2dShape[] = [
  conv(1, 1, 7, 9, 1, [3, 3], [1, 1], same(3)),     // batch 1, one channel, 'same', far below one tile
  conv(7, 1, 13, 11, 5, [3, 3]),                     // batch 7, C_in 1, odd sizes, K = 9 < one k-tile
  conv(7, 3, 15, 13, 6, [5, 5], [2, 2], [1, 1]),     // 5×5 stride 2 padding 1, K = 75
  conv(1, 3, 17, 17, 70, [5, 5], [1, 1], same(5)),   // 70 output channels: two row tiles, 'same' 5×5
  conv(7, 3, 9, 9, 4, [1, 1]),                       // 1×1 stride 1
  conv(2, 3, 11, 9, 3, [1, 1], [2, 2]),              // 1×1 stride 2: most inputs get no gradient
  conv(3, 32, 13, 13, 64, [3, 3]),                   // the cnn's conv2: K = 288, many k-tiles
  conv(2, 3, 9, 7, 4, [2, 3], [2, 1], [1, 0]),       // non-square kernel, stride and padding
  conv(1, 3, 4, 4, 2, [3, 3]),                       // weight gradient only one k-tile deep (4 pixels): no split
  conv(2, 3, 5, 5, 129, [5, 5]),                     // 1×1 output, three row tiles
  conv(7, 1, 28, 28, 32, [3, 3], [1, 1], [1, 1]),    // conv1 with padding 1 at batch 7: a 9-column weight gradient
  conv(2, 1, 10, 10, 300, [3, 3]),                   // 300 rows of 9 columns: two 256×16 tiles
];

describe('implicit-GEMM convolution matches the CPU references', () => {
  it.each(SHAPES.map((s) => [convName(s), s] as const))('%s', async (_label, s) => {
    await expectConvMatchesReference(await testGpu(), s, 'implicit');
  });
});

describe('implicit-GEMM scratch and selection', () => {
  it('needs scratch only for a split weight gradient, and the default sizing covers it', () => {
    const conv2 = conv(64, 32, 13, 13, 64, [3, 3]);
    expect(conv2dScratchBytes(conv2, { pass: 'forward', algorithm: 'implicit' })).toEqual([]);
    expect(conv2dScratchBytes(conv2, { pass: 'backwardInput', algorithm: 'implicit' })).toEqual([]);
    const [partials] = conv2dScratchBytes(conv2, { pass: 'backwardWeight', algorithm: 'implicit' });
    // Whole slices of 18,432 weights, enough of them to give a GPU work: far more than the 5 tiles.
    expect(partials! % (64 * 288 * 4)).toBe(0);
    expect(partials! / (64 * 288 * 4)).toBeGreaterThan(16);
    expect(conv2dScratchBytes(conv(1, 3, 4, 4, 2, [3, 3]), { pass: 'backwardWeight', algorithm: 'implicit' })).toEqual([]);
    // A pass's scratch is sized before its algorithm is settled, so the default sizing holds either.
    const conv1 = conv(64, 1, 28, 28, 32, [3, 3]);
    for (const s of [conv1, conv2]) {
      const sized = conv2dScratchBytes(s, { pass: 'backwardWeight' });
      for (const algorithm of ['implicit', convAlgorithm(s, 'backwardWeight')] as const) {
        conv2dScratchBytes(s, { pass: 'backwardWeight', algorithm }).forEach((bytes, i) => expect(sized[i]).toBeGreaterThanOrEqual(bytes));
      }
    }
  });

  it('forcing it reaches every pass of this Gpu, and clearing it restores the default', async () => {
    const gpu = await testGpu();
    const conv1 = conv(64, 1, 28, 28, 32, [3, 3]);
    forceConvAlgorithm(gpu, 'implicit');
    try {
      expect(chooseConvAlgorithm(gpu, conv1, 'forward')).toBe('implicit');
      expect(chooseConvAlgorithm(gpu, conv1, 'backwardWeight')).toBe('implicit');
    } finally {
      forceConvAlgorithm(gpu, undefined);
    }
    expect(chooseConvAlgorithm(gpu, conv1, 'forward')).toBe('direct');
    expect(chooseConvAlgorithm(gpu, conv1, 'backwardInput')).toBe('columns');
  });
});

function syntheticSet(count: number, size: number, classes: number, seed: number) {
  const next = rng(seed);
  const images = new Uint8Array(count * size * size).map(() => Math.floor(next() * 256));
  const labels = new Uint8Array(count).map(() => Math.floor(next() * classes));
  return { images, labels, count, rows: size, cols: size };
}

describe('a model trained with implicit GEMM forced', () => {
  it('a cnn-shaped model matches the float64 CPU twin after 3 Adam steps', async () => {
    const gpu = await testGpu();
    // The zoo cnn's layer kinds at a size the CPU twin runs quickly: a shallow conv, a deep one, pooling, dense.
    const model = new Sequential([1, 12, 12], [
      new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu' }), new MaxPool2D(),
      new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }), new MaxPool2D(),
      new Flatten(), new Dense({ units: 3 }),
    ]);
    forceConvAlgorithm(gpu, 'implicit');
    try {
      await expectTrainsLikeCpuTwin(gpu, model, syntheticSet(16, 12, 3, 13), { classes: 3, optimizer: { kind: 'adam', lr: 1e-3 }, seed: 5, initSeed: 2 });
    } finally {
      forceConvAlgorithm(gpu, undefined);
    }
  });
});

/**
 * The zoo cnn's parameters after `steps` Adam steps at batch 8 on synthetic MNIST-sized images, and
 * the labels of the convolution dispatches its step ran.
 */
async function trainCnn(gpu: Gpu, steps: number): Promise<{ values: Map<string, Float32Array>; convLabels: string[] }> {
  const model = zooModel('cnn');
  const data = uploadDataset(gpu, syntheticSet(8 * steps, 28, 10, 17), 10, 'synthetic');
  const state = new ModelState(gpu, model, model.initialValues(4));
  const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 8, seed: 3, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0.1, std: 0.3 }, stepsPerEpoch: steps, totalSteps: steps });
  for (let s = 0; s < steps; s++) await trainer.step(range(s * 8, (s + 1) * 8));
  const values = await state.read();
  const convLabels = trainer.program.dispatches.map((d) => d.label).filter((label) => label.startsWith('conv2d.'));
  trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  return { values, convLabels };
}

describe('the zoo cnn trained with implicit GEMM forced', () => {
  it('ends 3 Adam steps where the default algorithms do, within float32 rounding', async () => {
    const gpu = await testGpu();
    const { values: reference, convLabels: defaultLabels } = await trainCnn(gpu, 3);
    forceConvAlgorithm(gpu, 'implicit');
    let forced: Awaited<ReturnType<typeof trainCnn>>;
    try {
      forced = await trainCnn(gpu, 3);
    } finally {
      forceConvAlgorithm(gpu, undefined);
    }
    // Both convolutions' three passes ran implicit GEMM (conv1's input gradient is never needed).
    expect(forced.convLabels.filter((label) => label.endsWith('.implicitGemm'))).toHaveLength(5);
    expect(defaultLabels.some((label) => label.endsWith('.implicitGemm'))).toBe(false);
    // The two paths sum the same products in other orders, so they differ only by float32 rounding
    // carried through three updates: the same 1e-4 relative to max(|w|, 1e-2) as the CPU-twin check,
    // far below what one wrong gradient entry does after an Adam step (about lr = 1e-3 absolute).
    for (const [name, values] of reference) expect(maxRelativeError(forced.values.get(name)!, values, 1e-2), name).toBeLessThanOrEqual(1e-4);
  });
});

describe('tuneConv', () => {
  const conv1 = conv(64, 1, 28, 28, 32, [3, 3]);

  it('times the default against implicit GEMM per pass, caches the answer, and trusts a cache only for the same candidates', async () => {
    const gpu = await testGpu();
    const saved = process.env.WEBGRAD_CACHE;
    process.env.WEBGRAD_CACHE = mkdtempSync(join(tmpdir(), 'webgrad-conv-tune-'));
    try {
      await tuneConv(gpu, { cache: 'always' });
      expect(convTuned(gpu)).toBe(true);
      const [file] = readdirSync(process.env.WEBGRAD_CACHE).filter((f) => f.startsWith('conv-'));
      const path = join(process.env.WEBGRAD_CACHE, file!);
      const record = JSON.parse(readFileSync(path, 'utf8')) as { adapter: string; candidates: string[]; choices: { implicitWins: string[] } };
      expect(record.adapter).toBe(gpu.describe());
      expect(record.candidates[0]).toMatch(/^implicit\[SIDE_X=16,SIDE_Y=16,TM=4,TN=4,TILE_K=16;SIDE_X=64,SIDE_Y=4,/);
      const keys = ['forward.direct', 'forward.columns', 'backwardInput.columns', 'backwardWeight.direct', 'backwardWeight.columns'];
      for (const key of record.choices.implicitWins) expect(keys).toContain(key);
      // Whatever won here, a record read back decides: say implicit GEMM won conv1's forward.
      writeFileSync(path, JSON.stringify({ ...record, choices: { implicitWins: ['forward.direct'] } }));
      await tuneConv(gpu, { cache: 'always' });
      expect(chooseConvAlgorithm(gpu, conv1, 'forward')).toBe('implicit');
      expect(chooseConvAlgorithm(gpu, conv1, 'backwardWeight')).toBe('direct');
      // A record made for other candidates (an older version) is timed again, not trusted.
      writeFileSync(path, JSON.stringify({ ...record, candidates: ['implicit[TM=8]'], choices: { implicitWins: keys } }));
      await tuneConv(gpu, { cache: 'always' });
      const retuned = JSON.parse(readFileSync(path, 'utf8')) as typeof record;
      expect(retuned.candidates).toEqual(record.candidates);
    } finally {
      if (saved === undefined) delete process.env.WEBGRAD_CACHE;
      else process.env.WEBGRAD_CACHE = saved;
      setConvTuning(gpu, []);
    }
  });
});
