import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../src/gpu/device.ts';
import { zooModel } from '../src/model/zoo.ts';
import { ModelState, Trainer, type TrainerOptions } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset, uploadTokens } from '../src/runtime/dataset.ts';
import { gptModel } from '../src/model/gpt.ts';
import { ByteTokenizer, CharTokenizer } from '../src/data/text.ts';
import { fit } from '../src/runtime/fit.ts';
import { predictLogits } from '../src/runtime/logits.ts';
import type { GpuDataset } from '../src/compiler/program.ts';
import type { ImageSet } from '../src/data/idx.ts';
import { loadDataset } from '../src/node/datasets.ts';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import {
  decodeCheckpoint, encodeCheckpoint, loadMatchingWeights, loadModel, modelFromCheckpoint, restoreCheckpoint, restoreWeights, weightsFromSafetensors, WEBGRAD_VERSION,
} from '../src/io/checkpoint.ts';
import { loadCheckpoint, readCheckpoint, readModel, readSafetensorsFile, saveCheckpoint, writeFileAtomic } from '../src/node/checkpoint-file.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError } from './helpers/random.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'pytorch-lenet');
const REPO = join(import.meta.dirname, '..');
const NORMALIZE = { mean: 0.1307, std: 0.3081 };
const CLASS_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

let gpu: Gpu;
let mnist: GpuDataset;
let folder: string;

beforeAll(async () => {
  gpu = await testGpu();
  const { train } = await loadDataset('mnist');
  mnist = uploadDataset(gpu, { ...train, images: train.images.subarray(0, 512 * 784), labels: train.labels.subarray(0, 512), count: 512 }, 10, 'mnist512');
  folder = mkdtempSync(join(tmpdir(), 'webgrad-checkpoint-'));
});

afterAll(() => {
  destroyDataset(gpu, mnist);
  rmSync(folder, { recursive: true, force: true });
});

function trainerOptions(overrides: Partial<TrainerOptions> = {}): TrainerOptions {
  return { batchSize: 64, seed: 11, optimizer: { kind: 'adam', lr: 2e-3 }, normalize: NORMALIZE, stepsPerEpoch: 8, totalSteps: 32, metricsEvery: 8, ...overrides };
}

async function trainEpochs(model: ReturnType<typeof zooModel>, state: ModelState, trainer: Trainer, from: number, to: number): Promise<void> {
  await fit(gpu, model, state, mnist, { ...trainer.options, epochs: to, initialEpoch: from, trainIndices: range(0, 512) }, trainer);
}

const bits = (values: Float32Array): Uint32Array => new Uint32Array(values.buffer, values.byteOffset, values.length);

describe('checkpoint contents', () => {
  it('stores state_dict names and shapes, optimizer moments and metadata, and reads them back exactly', async () => {
    const model = zooModel('lenet');
    const state = new ModelState(gpu, model, model.initialValues(3));
    const options = trainerOptions({ schedule: { kind: 'cosine' }, frozen: [] });
    const trainer = new Trainer(gpu, model, state, mnist, new Map(), options);
    await trainEpochs(model, state, trainer, 0, 1);
    const bytes = await encodeCheckpoint(state, { model: { zoo: 'lenet', options: {} }, epoch: 1, classNames: CLASS_NAMES, extra: { dataset: 'mnist' } }, trainer);
    const raw = decodeSafetensors(bytes);
    expect(raw.tensors.get('conv1.weight')!.shape).toEqual([10, 1, 5, 5]);
    expect(raw.tensors.get('fc1.weight')!.shape).toEqual([50, 320]);
    expect(raw.tensors.get('optimizer.fc1.weight.exp_avg_sq')!.shape).toEqual([50, 320]);
    expect(raw.metadata.webgrad_version).toBe(WEBGRAD_VERSION);

    const ckpt = decodeCheckpoint(bytes, 'lenet.safetensors');
    expect(WEBGRAD_VERSION).toBe(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
    expect(ckpt).toMatchObject({ webgradVersion: WEBGRAD_VERSION, model: { zoo: 'lenet', options: {} }, epoch: 1, step: 8, seed: 11, normalize: NORMALIZE, classNames: CLASS_NAMES, extra: { dataset: 'mnist' } });
    expect(ckpt.training).toEqual(options);
    const values = await state.read();
    expect([...ckpt.weights.keys()].sort()).toEqual([...values.keys()].sort());
    for (const [name, v] of values) expect(bits(ckpt.weights.get(name)!.data as Float32Array)).toEqual(bits(v));
    expect([...ckpt.moments.keys()].sort()).toEqual([...trainer.optimizerState.keys()].sort());
    expect(modelFromCheckpoint(ckpt).summary()).toBe(model.summary());
    trainer.destroy();
    state.destroy();
  });

  it('refuses a checkpoint that does not fit, listing every missing, unexpected and mis-shaped tensor', async () => {
    const lenet = zooModel('lenet');
    const state = new ModelState(gpu, lenet);
    const ckpt = decodeCheckpoint(await encodeCheckpoint(state, { model: { zoo: 'lenet', options: {} }, epoch: 0, normalize: NORMALIZE }));
    await expect(encodeCheckpoint(state, { model: { zoo: 'lenet', options: {} }, epoch: 0, normalize: NORMALIZE, classNames: ['a', 'b'] }))
      .rejects.toThrow("encodeCheckpoint: metadata class_names has 2 names but the model's head has 10 classes");
    const mlp = zooModel('mlp');
    const mlpState = new ModelState(gpu, mlp);
    expect(() => restoreCheckpoint(ckpt, mlpState)).toThrow(/^checkpoint: weights do not fit the model: .*unexpected \[conv1\.bias, conv1\.weight, conv2\.bias, conv2\.weight\]; mis-shaped \[fc1\.weight \(model \[64, 784\].*fc1\.bias .*fc2\.weight /);
    const partial = new Map(ckpt.weights);
    partial.delete('conv2.bias');
    partial.delete('fc1.weight');
    expect(() => restoreWeights(state, partial)).toThrow(/missing \[conv2\.bias, fc1\.weight\]/);
    const transposed = new Map(ckpt.weights);
    transposed.set('fc1.weight', { ...transposed.get('fc1.weight')!, shape: [320, 50] });
    expect(() => restoreWeights(state, transposed)).toThrow(/mis-shaped \[fc1\.weight \(model \[50, 320\], given \[320, 50\]\)\]/);
    mlpState.destroy();
    state.destroy();
  });

  it('refuses optimizer moments from another optimizer, naming them', async () => {
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model);
    const adam = new Trainer(gpu, model, state, mnist, new Map(), trainerOptions());
    const ckpt = decodeCheckpoint(await encodeCheckpoint(state, { model: { zoo: 'mlp', options: {} }, epoch: 0 }, adam));
    const sgd = new Trainer(gpu, model, state, mnist, new Map(), trainerOptions({ optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 } }));
    expect(() => restoreCheckpoint(ckpt, state, sgd)).toThrow(/missing \[optimizer\.fc1\.weight\.momentum_buffer, .*\]; unexpected \[optimizer\.fc1\.bias\.exp_avg, optimizer\.fc1\.bias\.exp_avg_sq, /);
    adam.destroy();
    sgd.destroy();
    state.destroy();
  });

  it('loads a checkpoint into a model with a new head, reporting what was re-initialized', async () => {
    const ten = zooModel('lenet');
    const source = new ModelState(gpu, ten, ten.initialValues(5));
    const ckpt = decodeCheckpoint(await encodeCheckpoint(source, { model: { zoo: 'lenet', options: {} }, epoch: 0, normalize: NORMALIZE }));
    const five = zooModel('lenet', { classes: 5 });
    const fresh = five.initialValues(6);
    const target = new ModelState(gpu, five, fresh);
    const report = loadMatchingWeights(target, ckpt.weights);
    expect(report.reinitialized).toEqual(['fc2.weight', 'fc2.bias']);
    expect(report.loaded).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias']);
    expect(report.unused).toEqual(['fc2.bias', 'fc2.weight']);
    const after = await target.read();
    for (const name of report.loaded) expect(bits(after.get(name)!)).toEqual(bits(ckpt.weights.get(name)!.data as Float32Array));
    for (const name of report.reinitialized) expect(bits(after.get(name)!)).toEqual(bits(fresh.get(name)!));
    source.destroy();
    target.destroy();
  });
});

describe('resume and frozen layers', () => {
  it('training 2 epochs, saving, loading into a fresh model and trainer, then 2 more equals 4 uninterrupted epochs bit for bit', async () => {
    // mlp with dropout, augmentation and a cosine schedule: the resumed run must restore the batch
    // order (seed, epoch), the RNG step, Adam's moments and t, and the schedule's clock.
    const zoo = { zoo: 'mlp', options: { dropout: 0.25 } };
    const options = trainerOptions({
      schedule: { kind: 'cosine' }, augment: { maxRotationDegrees: 10, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 },
    });
    const model = zooModel(zoo.zoo, zoo.options);
    const straight = new ModelState(gpu, model, model.initialValues(1));
    const straightTrainer = new Trainer(gpu, model, straight, mnist, new Map(), options);
    await trainEpochs(model, straight, straightTrainer, 0, 4);

    const first = new ModelState(gpu, model, model.initialValues(1));
    const firstTrainer = new Trainer(gpu, model, first, mnist, new Map(), options);
    await trainEpochs(model, first, firstTrainer, 0, 2);
    const path = join(folder, 'resume.safetensors');
    await saveCheckpoint(path, first, { model: zoo, epoch: 2 }, firstTrainer);

    const ckpt = await readCheckpoint(path);
    const resumedModel = modelFromCheckpoint(ckpt);
    const resumed = new ModelState(gpu, resumedModel, resumedModel.initialValues(99));
    const resumedTrainer = new Trainer(gpu, resumedModel, resumed, mnist, new Map(), ckpt.training!);
    await loadCheckpoint(path, resumed, resumedTrainer);
    expect(resumedTrainer.stepCount).toBe(16);
    await trainEpochs(resumedModel, resumed, resumedTrainer, ckpt.epoch, 4);

    const expected = await straight.read();
    const actual = await resumed.read();
    const initial = model.initialValues(1);
    for (const [name, values] of expected) {
      expect(bits(values)).not.toEqual(bits(initial.get(name)!)); // it did train
      expect(bits(actual.get(name)!), name).toEqual(bits(values));
    }
    for (const t of [straightTrainer, firstTrainer, resumedTrainer]) t.destroy();
    for (const s of [straight, first, resumed]) s.destroy();
  });

  it('frozen conv1 (a prefix) stays bit-identical and gets no optimizer state, while the head trains', async () => {
    const model = zooModel('lenet');
    const initial = model.initialValues(4);
    const state = new ModelState(gpu, model, initial);
    const trainer = new Trainer(gpu, model, state, mnist, new Map(), trainerOptions({ frozen: ['conv1'] }));
    for (let step = 0; step < 4; step++) await trainer.step(range(step * 64, step * 64 + 64));
    const after = await state.read();
    for (const name of ['conv1.weight', 'conv1.bias']) expect(bits(after.get(name)!), name).toEqual(bits(initial.get(name)!));
    for (const name of ['conv2.weight', 'fc1.weight', 'fc2.weight', 'fc2.bias']) expect(bits(after.get(name)!), name).not.toEqual(bits(initial.get(name)!));
    const keys = [...trainer.optimizerState.keys()];
    expect(keys.filter((k) => k.startsWith('conv1.'))).toEqual([]);
    expect(keys).toContain('fc2.weight.exp_avg');
    trainer.destroy();
    state.destroy();
  });
});

describe('PyTorch interop', () => {
  it('runs the PyTorch LeNet fixture weights to PyTorch\'s logits', async () => {
    const expected = decodeSafetensors(readFileSync(join(FIXTURE, 'expected.safetensors')), 'expected.safetensors');
    expect(JSON.parse(expected.metadata.normalize!)).toEqual(NORMALIZE);
    const images = expected.tensors.get('images')!.data as Uint8Array;
    const logits = expected.tensors.get('logits')!.data as Float32Array;
    const model = zooModel('lenet');
    const state = new ModelState(gpu, model);
    restoreWeights(state, weightsFromSafetensors(await readSafetensorsFile(join(FIXTURE, 'lenet.safetensors'))));
    const set: ImageSet = { images, labels: new Uint8Array(4), count: 4, rows: 28, cols: 28 };
    const data = uploadDataset(gpu, set, 10, 'fixture');
    const actual = await predictLogits(gpu, model, state, data, range(0, 4), NORMALIZE);
    // fp32 on both sides; sums of at most 500 products in different orders differ by ~1e-6 relative,
    // and logits of a trained net are O(1..10), so a floor of 1 keeps near-zero logits honest.
    expect(maxRelativeError(actual, logits, 1)).toBeLessThan(1e-4);
    destroyDataset(gpu, data);

    // The reverse direction: a webgrad checkpoint of these weights, with zero Adam moments.
    const trainer = new Trainer(gpu, model, state, mnist, new Map(), trainerOptions());
    const path = join(folder, 'lenet-webgrad.safetensors');
    await saveCheckpoint(path, state, { model: { zoo: 'lenet', options: {} }, epoch: 0 }, trainer);
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    expect(String.fromCharCode(bytes[8]!)).toBe('{');
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const { __metadata__: metadata, ...entries } = header;
    expect(Object.values(metadata as unknown as Record<string, unknown>).every((v) => typeof v === 'string')).toBe(true);
    // torch's loader wants the tensors, sorted by offset, to tile the data section exactly.
    let end = 0;
    for (const entry of Object.values(entries).sort((a, b) => a.data_offsets[0] - b.data_offsets[0])) {
      expect(entry.data_offsets[0]).toBe(end);
      expect(entry.dtype).toBe('F32');
      end = entry.data_offsets[1];
    }
    expect(8 + headerLength + end).toBe(bytes.length);
    const pytorch = decodeSafetensors(readFileSync(join(FIXTURE, 'lenet.safetensors')));
    for (const [name, t] of pytorch.tensors) expect(entries[name]?.shape, name).toEqual(t.shape);

    // Where PyTorch is installed (not in CI), it loads the checkpoint strictly and reproduces the logits.
    const python = '/usr/bin/python3';
    let hasTorch = false;
    try { execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' }); hasTorch = true; } catch { /* no PyTorch here */ }
    if (hasTorch) {
      const out = execFileSync(python, [join(FIXTURE, 'make_fixture.py'), 'verify', path, join(FIXTURE, 'expected.safetensors')], { encoding: 'utf8' });
      expect(out).toMatch(/loaded 8 tensors strictly, 16 optimizer tensors/);
    }
    console.log(`[checkpoint test] PyTorch reverse check ${hasTorch ? 'ran' : 'not run (no torch)'}`);
    trainer.destroy();
    state.destroy();
  });
});

describe('a checkpoint that carries its graph', () => {
  it('saves the LeNet fixture without a zoo name; it reloads to the same logits under PyTorch\'s tensor names', async () => {
    const model = zooModel('lenet');
    const state = new ModelState(gpu, model);
    restoreWeights(state, weightsFromSafetensors(await readSafetensorsFile(join(FIXTURE, 'lenet.safetensors'))));
    const path = join(folder, 'lenet-graph.safetensors');
    await saveCheckpoint(path, state, { epoch: 0, normalize: NORMALIZE, classNames: CLASS_NAMES });
    const loaded = await readModel(path);
    expect('graph' in loaded.checkpoint.model).toBe(true);
    expect(loaded.classNames).toEqual(CLASS_NAMES);
    const pytorch = decodeSafetensors(readFileSync(join(FIXTURE, 'lenet.safetensors')));
    const stored = (await readSafetensorsFile(path)).tensors;
    expect([...stored.keys()].sort()).toEqual([...pytorch.tensors.keys()].sort());
    for (const [name, t] of pytorch.tensors) expect(stored.get(name)!.shape, name).toEqual(t.shape);

    const reloaded = new ModelState(gpu, loaded.model, loaded.weights);
    const expected = decodeSafetensors(readFileSync(join(FIXTURE, 'expected.safetensors')), 'expected.safetensors');
    const set: ImageSet = { images: expected.tensors.get('images')!.data as Uint8Array, labels: new Uint8Array(4), count: 4, rows: 28, cols: 28 };
    const data = uploadDataset(gpu, set, 10, 'fixture');
    const before = await predictLogits(gpu, model, state, data, range(0, 4), NORMALIZE);
    const after = await predictLogits(gpu, loaded.model, reloaded, data, range(0, 4), loaded.normalize);
    destroyDataset(gpu, data);
    state.destroy();
    reloaded.destroy();
    expect(bits(after)).toEqual(bits(before));
    expect(maxRelativeError(after, expected.tensors.get('logits')!.data as Float32Array, 1)).toBeLessThan(1e-4);
  });
});

describe('a language model\'s checkpoint carries its tokenizer', () => {
  it('a trained char-level gpt saves its vocabulary; loadModel gives back a tokenizer that encodes and decodes the same', async () => {
    const text = 'Call me Ishmael. Some years ago — never mind how long precisely — 🐋\n';
    const tokenizer = CharTokenizer.fromCorpus(text);
    const model = gptModel({ vocab: tokenizer.vocab, context: 8, layers: 1, heads: 2, width: 16 });
    const state = new ModelState(gpu, model, model.initialValues(4));
    const data = uploadTokens(gpu, tokenizer.encode(text), { vocab: tokenizer.vocab, context: 8, name: 'ishmael' });
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 2, seed: 3, optimizer: { kind: 'adamw', lr: 1e-3 }, stepsPerEpoch: 2, totalSteps: 2 });
    await trainer.step(Uint32Array.from([0, 20]));
    const path = join(folder, 'gpt.safetensors');
    await saveCheckpoint(path, state, { epoch: 0, normalize: { mean: 0, std: 1 }, tokenizer: tokenizer.describe() }, trainer);
    expect(JSON.parse(decodeSafetensors(readFileSync(path)).metadata.tokenizer!)).toEqual({ kind: 'char', chars: tokenizer.chars });

    const loaded = await readModel(path);
    expect(loaded.checkpoint.tokenizer).toEqual({ kind: 'char', chars: tokenizer.chars });
    expect(loaded.checkpoint.step).toBe(1);
    expect(loaded.tokenizer).toBeInstanceOf(CharTokenizer);
    expect([...loaded.tokenizer!.encode(text)]).toEqual([...tokenizer.encode(text)]);
    expect(loaded.tokenizer!.decode(tokenizer.encode(text))).toBe(text);
    const values = await state.read();
    for (const [name, v] of values) expect(bits(loaded.weights.get(name)!), name).toEqual(bits(v));

    // The schema is applied before writing: a vocabulary that is not the embedding's is refused by name.
    await expect(encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 }, tokenizer: new ByteTokenizer().describe() }))
      .rejects.toThrow(`encodeCheckpoint: metadata tokenizer has a vocabulary of 256 tokens but the model's embedding transformer.wte has ${tokenizer.vocab}`);
    const plain = await loadModel(await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 } }));
    expect(plain.tokenizer).toBeUndefined();
    trainer.destroy();
    state.destroy();
    destroyDataset(gpu, data);
  });
});

describe('atomic checkpoint files', () => {
  it('a writer killed with SIGKILL mid-write leaves the previous checkpoint intact', async () => {
    const path = join(folder, 'atomic.safetensors');
    const model = zooModel('mlp');
    const state = new ModelState(gpu, model, model.initialValues(8));
    await saveCheckpoint(path, state, { model: { zoo: 'mlp', options: {} }, epoch: 3, normalize: NORMALIZE });
    const before = readFileSync(path);

    // The child streams 1 MiB into the atomic writer, says so, then stalls until it is killed.
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(join(REPO, 'src/node/checkpoint-file.ts'))};
      async function* chunks() {
        yield new Uint8Array(1 << 20).fill(7);
        process.stdout.write('partial\\n');
        await new Promise((resolve) => setTimeout(resolve, 60_000));
        yield new Uint8Array(1);
      }
      await writeFileAtomic(${JSON.stringify(path)}, chunks());`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => { if (data.toString().includes('partial')) resolve(); });
      child.on('exit', () => reject(new Error('the writer exited before it was killed')));
    });
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');

    expect(readFileSync(path).equals(before)).toBe(true);
    expect((await readCheckpoint(path)).epoch).toBe(3);
    const temps = readdirSync(folder).filter((f) => f.startsWith('.atomic.safetensors.') && f.endsWith('.tmp'));
    expect(temps).toHaveLength(1); // the torn write is in its temp file, never in the target
    expect(readFileSync(join(folder, temps[0]!)).length).toBe(1 << 20);
    rmSync(join(folder, temps[0]!));
    state.destroy();
  });

  it('a write that fails part-way removes its temp file and keeps the previous file', async () => {
    const path = join(folder, 'failing.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      throw new Error('disk on fire');
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow('disk on fire');
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(folder).filter((f) => f.startsWith('.failing.bin.'))).toEqual([]);
  });

  it('names the file when a checkpoint is not one', async () => {
    const path = join(folder, 'plain.safetensors');
    await writeFileAtomic(path, readFileSync(join(FIXTURE, 'lenet.safetensors')));
    await expect(readCheckpoint(path)).rejects.toThrow(`${path}: not a webgrad checkpoint`);
    await expect(readCheckpoint(join(folder, 'absent.safetensors'))).rejects.toThrow(/absent\.safetensors: cannot read \(ENOENT\)/);
  });
});
