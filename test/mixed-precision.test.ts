// Mixed-precision training end to end: f16 products in the GEMM-based layers, dynamic loss scaling
// on the GPU, and GradScaler's skip-and-back-off, against the CPU twin rounding at the same places.
import { describe, expect, it } from 'vitest';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { randomStarts, randomTokens, rng } from './helpers/random.ts';
import { gatherReference } from './reference/gather.ts';
import { cpuTrainer } from './reference/model.ts';
import { Model, Sequential } from '../src/model/model.ts';
import { Conv2D, Dense, Flatten } from '../src/layers/layers.ts';
import { ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset, uploadTokens } from '../src/runtime/dataset.ts';
import { gatherTokensReference } from './reference/gather.ts';
import { input } from '../src/layers/layer.ts';
import { Embedding } from '../src/layers/tokens.ts';
import { LayerNorm } from '../src/layers/transformer.ts';
import { mixedPrecisionRule, type MixedPrecision } from '../src/compiler/program.ts';
import { decodeCheckpoint, encodeCheckpoint, restoreCheckpoint } from '../src/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';
import type { OptimizerConfig } from '../src/optim/optim.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { readFloat32 } from '../src/gpu/buffers.ts';

const NORMALIZE = { mean: 0.3, std: 0.4 };
const BATCH = 4;

function syntheticSet(count: number, seed: number) {
  const next = rng(seed);
  return { images: new Uint8Array(count * 64).map(() => Math.floor(next() * 256)), labels: new Uint8Array(count).map(() => Math.floor(next() * 3)), count, rows: 8, cols: 8 };
}

const mlp = () => new Sequential([1, 8, 8], [new Flatten(), new Dense({ units: 16, activation: 'relu' }), new Dense({ units: 3 })]);
// conv1 (depth 9) runs direct kernels in f32; conv2 (depth 36) runs its forward and weight gradient
// as column GEMMs, which round; its input gradient (depth 8) is direct again.
const cnn = () => new Sequential([1, 8, 8], [
  new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }), new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu' }), new Flatten(), new Dense({ units: 3 }),
]);

interface Run {
  gpu: Gpu; model: Model; trainer: Trainer; state: ModelState; initial: Map<string, Float32Array>;
  twin: ReturnType<typeof cpuTrainer>; f32Twin: ReturnType<typeof cpuTrainer>; set: ReturnType<typeof syntheticSet>;
  destroy(): void;
}

async function start(model: Model, optimizer: OptimizerConfig, mixedPrecision: MixedPrecision, steps: number): Promise<Run> {
  const gpu = await testGpu();
  const set = syntheticSet(BATCH * steps, 11);
  const data = uploadDataset(gpu, set, 3, 'mixed');
  const initial = model.initialValues(3);
  const state = new ModelState(gpu, model, initial);
  const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: BATCH, seed: 7, optimizer, normalize: NORMALIZE, stepsPerEpoch: steps, totalSteps: steps, mixedPrecision });
  const rule = mixedPrecisionRule(mixedPrecision)!;
  return {
    gpu, model, trainer, state, initial, set,
    twin: cpuTrainer(model, initial, optimizer, 7, [], rule),
    f32Twin: cpuTrainer(model, initial, optimizer, 7),
    destroy() { trainer.destroy(); state.destroy(); destroyDataset(gpu, data); },
  };
}

/** One step on the GPU and in both twins; returns the twin's (unscaled) loss. */
async function step(run: Run, s: number): Promise<number> {
  const indices = range(s * BATCH, (s + 1) * BATCH);
  await run.trainer.step(indices);
  const images = { images: run.set.images, labels: run.set.labels, channels: 1, height: 8, width: 8 };
  const { x, y } = gatherReference(images, indices, NORMALIZE.mean, NORMALIZE.std);
  run.f32Twin.step(Float64Array.from(x), y);
  return run.twin.step(Float64Array.from(x), y);
}

/**
 * Per tensor and element, the difference of the update (w − w0) from the twin's, over the tensor's
 * largest update: the update is what the gradients decide, so this is where f16 rounding shows.
 */
function updateErrors(run: Pick<Run, 'initial'>, values: Map<string, Float32Array>, twin: ReturnType<typeof cpuTrainer>): Map<string, Float64Array> {
  const errors = new Map<string, Float64Array>();
  for (const [name, expected] of twin.params) {
    const w0 = run.initial.get(name)!, got = values.get(name)!;
    let largest = 0;
    for (let i = 0; i < w0.length; i++) largest = Math.max(largest, Math.abs(expected[i]! - w0[i]!));
    errors.set(name, Float64Array.from(w0, (w, i) => Math.abs((got[i]! - w) - (expected[i]! - w)) / (largest === 0 ? 1 : largest)));
  }
  return errors;
}

/**
 * The GPU makes the twin's f16 roundings, so only f32-vs-float64 arithmetic separates them: about 1e-6
 * of the update. One f16 rounding more or less moves an element by ~2^-11 ≈ 5e-4 of itself, as the
 * f32 twin's distance shows, so 2e-5 leaves room for the arithmetic and not for that. The exception:
 * a sum that lands next to the midpoint of two f16 values may round the other way after the GPU's
 * f32 accumulation; that can happen to an odd element (at most 1% of a tensor, and one rounding's
 * worth), never to many, as it would if a rounding were missing.
 */
function expectTwinRoundings(errors: Map<string, Float64Array>): void {
  for (const [name, tensor] of errors) {
    const off = tensor.filter((e) => e > 2e-5);
    expect(off.length, `${name}: elements past the arithmetic's 2e-5`).toBeLessThanOrEqual(Math.max(1, Math.floor(tensor.length / 100)));
    expect(Math.max(0, ...off), `${name}: worst element`).toBeLessThanOrEqual(1e-3);
  }
}

/** The largest error over every tensor and element. */
function worstError(errors: Map<string, Float64Array>): number {
  return Math.max(...[...errors.values()].map((tensor) => Math.max(...tensor)));
}

describe('mixed-precision steps against the CPU twin that rounds to f16 at the same places', () => {
  it.each([
    ['MLP (Dense forward, input and weight gradients)', mlp, { kind: 'sgd', lr: 0.1 } as OptimizerConfig],
    ['CNN (conv2 as column GEMMs, SGD momentum)', cnn, { kind: 'sgd', lr: 0.05, momentum: 0.9 } as OptimizerConfig],
  ])('%s, 3 steps', async (_name, makeModel, optimizer) => {
    const run = await start(makeModel(), optimizer, { initScale: 2 ** 10 }, 3);
    for (let s = 0; s < 3; s++) await step(run, s);
    const values = await run.state.read();
    const against16 = updateErrors(run, values, run.twin), against32 = updateErrors(run, values, run.f32Twin);
    expectTwinRoundings(against16);
    expect(worstError(against32), 'distance from the unrounded f32 twin').toBeGreaterThan(5e-5);
    expect(await run.trainer.lossScale()).toEqual({ scale: 2 ** 10, goodSteps: 3, foundNonFinite: false, skippedSteps: 0 });
    expect(run.trainer.submits).toBe(3);
    run.destroy();
  }, 600_000);
});

describe('a token model in mixed precision (Embedding, LayerNorm, Dense over every token)', () => {
  it('3 SGD steps match the f16-rounding twin, and the reported loss is the unscaled one', async () => {
    // A gpt's GELU and attention are left out: their f32 error moves some of their outputs across
    // an f16 rounding boundary, which a float64 twin cannot follow (README, mixed precision).
    const gpu = await testGpu();
    const ids = input([8], { dtype: 'u32' });
    const hidden = new Dense({ units: 16, activation: 'relu' }).apply(new LayerNorm({}).apply(new Embedding({ vocab: 11, width: 16 }).apply(ids)));
    const model = new Model({ inputs: ids, outputs: new Dense({ units: 11 }).apply(hidden) });
    const stream = randomTokens(200, 11, 3);
    const data = uploadTokens(gpu, stream, { vocab: 11, context: 8, name: 'synthetic' });
    const initial = model.initialValues(5);
    const state = new ModelState(gpu, model, initial);
    const optimizer: OptimizerConfig = { kind: 'sgd', lr: 0.1 };
    const mixedPrecision = { initScale: 2 ** 12 };
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 4, seed: 1, optimizer, stepsPerEpoch: 3, totalSteps: 3, mixedPrecision });
    const twin = cpuTrainer(model, initial, optimizer, 1, [], mixedPrecisionRule(mixedPrecision));
    const f32Twin = cpuTrainer(model, initial, optimizer, 1);
    const losses: number[] = [];
    for (let s = 0; s < 3; s++) {
      const starts = randomStarts(4, 200 - 9, 10 + s);
      await trainer.step(starts);
      const { x, y } = gatherTokensReference(stream, starts, 8);
      losses.push(twin.step(Float64Array.from(x), y));
      f32Twin.step(Float64Array.from(x), y);
    }
    const values = await state.read();
    const against16 = updateErrors({ initial }, values, twin), against32 = updateErrors({ initial }, values, f32Twin);
    expectTwinRoundings(against16);
    expect(worstError(against32), 'distance from the unrounded f32 twin').toBeGreaterThan(5e-5);
    expect(Math.abs((await trainer.totals()).loss - losses.reduce((a, b) => a + b, 0) / 3)).toBeLessThanOrEqual(1e-5);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  }, 600_000);
});

describe('dynamic loss scaling', () => {
  it('skips a step whose scaled gradients overflow f16 (weights and Adam moments bit for bit unchanged), backs off, and Adam counts only applied steps', async () => {
    // The loss gradient is up to 1/batch per logit: 2^24 times that is far past f16's 65504 in the
    // first backward product, and the scale must back off to about 2^17 before a step applies. The
    // twin overflows at the same steps.
    const run = await start(mlp(), { kind: 'adam', lr: 1e-2 }, { initScale: 2 ** 24 }, 14);
    const before = await run.state.read();
    const moments = async () => Promise.all([...run.trainer.optimizerState.values()].map(async (b) => [...new Uint32Array((await readFloat32(run.gpu, b)).buffer)]));
    const momentsBefore = await moments();
    await step(run, 0);
    const after = await run.state.read();
    for (const [name, values] of before) expect([...new Uint32Array(after.get(name)!.buffer)], name).toEqual([...new Uint32Array(values.buffer)]);
    expect(await moments()).toEqual(momentsBefore);
    expect(await run.trainer.lossScale()).toEqual({ scale: 2 ** 23, goodSteps: 0, foundNonFinite: false, skippedSteps: 1 });
    for (let s = 1; s < 14; s++) await step(run, s);
    const scale = (await run.trainer.lossScale())!;
    expect(scale).toEqual({ ...run.twin.lossScale, foundNonFinite: false });
    expect(scale.skippedSteps).toBeGreaterThan(1);
    expect(scale.skippedSteps).toBeLessThan(14);
    // The applied steps trained like the twin's, with t counted from the first applied step.
    expectTwinRoundings(updateErrors(run, await run.state.read(), run.twin));
    // The reported loss is the unscaled one: the twin's mean over the same steps.
    run.trainer.resetTotals();
    const twinLoss = await step(run, 0);
    expect(Math.abs((await run.trainer.totals()).loss - twinLoss)).toBeLessThanOrEqual(1e-3 * twinLoss);
    run.destroy();
  }, 600_000);

  it('grows the scale after growthInterval clean steps, in one submit per step with nothing created', async () => {
    const run = await start(mlp(), { kind: 'sgd', lr: 0.1 }, { initScale: 2 ** 8, growthInterval: 2, growthFactor: 4 }, 5);
    await step(run, 0);
    const counts = await countDeviceWork(run.gpu, async () => { for (let s = 1; s < 5; s++) await step(run, s); });
    expect(counts).toEqual({ submits: 4, created: 0 });
    expect(await run.trainer.lossScale()).toEqual({ scale: 2 ** 12, goodSteps: 1, foundNonFinite: false, skippedSteps: 0 });
    expect(run.twin.lossScale).toEqual({ scale: 2 ** 12, goodSteps: 1, foundNonFinite: false, skippedSteps: 0 });
    run.destroy();
  }, 600_000);

  it('a checkpoint carries the loss scale, and a resumed trainer continues from it', async () => {
    const run = await start(mlp(), { kind: 'adam', lr: 1e-3 }, { initScale: 2 ** 40, growthInterval: 3 }, 3);
    for (let s = 0; s < 3; s++) await step(run, s);
    const saved = (await run.trainer.lossScale())!;
    expect(saved.skippedSteps).toBeGreaterThan(0);
    const bytes = await encodeCheckpoint(run.state, { epoch: 1 }, run.trainer);
    const checkpoint = decodeCheckpoint(bytes, 'mixed.safetensors');
    const file = decodeSafetensors(bytes);
    const tampered = encodeSafetensors(file.tensors, { ...file.metadata, loss_scale: JSON.stringify({ scale: -1, goodSteps: 0, skippedSteps: 0 }) });
    expect(() => decodeCheckpoint(tampered, 'bad.safetensors')).toThrow(/bad\.safetensors: .*loss_scale.*scale/);
    expect(checkpoint.training?.mixedPrecision).toEqual({ initScale: 2 ** 40, growthInterval: 3 });
    expect(checkpoint.lossScale).toEqual({ scale: saved.scale, goodSteps: saved.goodSteps, skippedSteps: saved.skippedSteps });
    const resumed = new Trainer(run.gpu, run.model, run.state, run.trainer.data, new Map(), checkpoint.training!);
    expect((await resumed.lossScale())!.scale).toBe(2 ** 40);
    restoreCheckpoint(checkpoint, run.state, resumed);
    expect(await resumed.lossScale()).toEqual(saved);
    resumed.destroy();
    run.destroy();
  }, 600_000);

  it('refuses bad options, naming them', async () => {
    expect(() => mixedPrecisionRule({ initScale: -1 })).toThrow(/initScale must be a positive finite f32/);
    expect(() => mixedPrecisionRule({ growthIntervall: 5 } as never)).toThrow(/unknown option growthIntervall/);
    expect(mixedPrecisionRule(false)).toBeUndefined();
    expect(mixedPrecisionRule(true)).toEqual({ initScale: 65536, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000 });
  });
});
