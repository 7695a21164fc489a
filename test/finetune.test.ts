// Fine-tuning: the class-balanced label subset, which parameters the head-only variant freezes, that
// head-only training leaves the body bit-identical, and one run of scripts/finetune.ts on PNG folders.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bodyParameterNames, classBalancedSubset, headLayerName, planVariants, trainVariant, withClasses, type VariantContext, type VariantPlan } from '../src/node/finetune.ts';
import { input, type SymbolicTensor } from '../src/layers/layer.ts';
import { Dense, Flatten } from '../src/layers/layers.ts';
import { concat } from '../src/layers/ops.ts';
import { Model } from '../src/model/model.ts';
import { modelToGraph } from '../src/io/model-graph.ts';
import { modelFromDescription } from '../src/io/checkpoint-schema.ts';
import { zooModel } from '../src/model/zoo.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import { loadImageFolder } from '../src/node/image-folder.ts';
import { saveCheckpoint } from '../src/node/checkpoint-file.ts';
import type { SafeTensor } from '../src/io/safetensors.ts';
import { rng } from './helpers/random.ts';
import { testGpu } from './helpers/gpu.ts';
import { writeBandFolder } from './helpers/png-folder.ts';

function countsByClass(labels: ArrayLike<number>, indices: Uint32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const i of indices) counts[labels[i]!]!++;
  return counts;
}

describe('class-balanced subset', () => {
  // Unbalanced labels: class c is drawn with weight c + 1.
  const next = rng(11);
  const labels = Uint8Array.from({ length: 3000 }, () => Math.min(4, Math.floor(Math.sqrt(next() * 25))));

  it.each([[0.1, 60], [0.01, 6], [0.0001, 1], [1 / 15, 40]])('fraction %f takes exactly %i of every class', (fraction, perClass) => {
    const subset = classBalancedSubset(labels, 5, fraction, 3);
    expect(countsByClass(labels, subset, 5)).toEqual([perClass, perClass, perClass, perClass, perClass]);
    expect(new Set(subset).size).toBe(subset.length);
    expect([...subset]).toEqual([...subset].sort((a, b) => a - b));
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(classBalancedSubset(labels, 5, 0.05, 3)).toEqual(classBalancedSubset(labels, 5, 0.05, 3));
    expect([...classBalancedSubset(labels, 5, 0.05, 4)]).not.toEqual([...classBalancedSubset(labels, 5, 0.05, 3)]);
  });

  it('refuses when a class has too few samples, naming it', () => {
    const few = Uint8Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2]);
    expect(() => classBalancedSubset(few, 3, 0.9, 1)).toThrow(/needs 3 samples of every class; too few of class 2 \(1\)/);
  });
});

describe('the head and the frozen body', () => {
  it.each([
    ['mlp', 'fc2', ['fc1.weight', 'fc1.bias']],
    ['cnn-dense', 'fc2', ['conv1.weight', 'conv1.bias', 'fc1.weight', 'fc1.bias']],
    ['cnn', 'fc1', ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias']],
    ['lstm', 'fc1', ['lstm1.weight_ih', 'lstm1.weight_hh', 'lstm1.bias_ih', 'lstm1.bias_hh']],
  ])('%s: the head is %s, everything else is frozen', (zoo, head, body) => {
    const model = zooModel(zoo, { classes: 4 });
    expect(headLayerName(model)).toBe(head);
    expect(bodyParameterNames(model)).toEqual(body);
    const all = model.parameterSpecs().map((s) => s.name);
    expect([...bodyParameterNames(model), `${head}.weight`, `${head}.bias`].sort()).toEqual([...all].sort());
  });

  it('variants: head-only freezes the body; full and the second head-then-all phase train it at the body multiplier', () => {
    const model = zooModel('mlp', { classes: 3 });
    const plans = new Map(planVariants(model, { epochs: 5, unfreezeAfter: 2, bodyLrMultiplier: 0.1 }).map((p) => [p.name, p]));
    expect([...plans.keys()]).toEqual(['scratch', 'head-only', 'full', 'head-then-all']);
    expect(plans.get('scratch')!).toEqual({ name: 'scratch', fromPretrained: false, phases: [{ epochs: 5, frozen: [], lrMultipliers: {} }] });
    expect(plans.get('head-only')!.phases).toEqual([{ epochs: 5, frozen: ['fc1.weight', 'fc1.bias'], lrMultipliers: {} }]);
    const slow = { 'fc1.weight': 0.1, 'fc1.bias': 0.1 };
    expect(plans.get('full')!.phases).toEqual([{ epochs: 5, frozen: [], lrMultipliers: slow }]);
    expect(plans.get('head-then-all')!.phases).toEqual([{ epochs: 2, frozen: ['fc1.weight', 'fc1.bias'], lrMultipliers: {} }, { epochs: 3, frozen: [], lrMultipliers: slow }]);
    expect(() => planVariants(model, { epochs: 2, unfreezeAfter: 2, bodyLrMultiplier: 1 })).toThrow(/fewer than the 2 epochs/);
  });
});

describe('training', () => {
  it('head-only leaves the body bit-identical and changes the head; full fine-tuning changes the body', async () => {
    const gpu = await testGpu();
    const folder = loadImageFolder(await writeBandFolder({ classes: ['a', 'b', 'c'], perClass: 16, seed: 9 }), { height: 28, width: 28 });
    // "Pretrained" on a 10-class task: the 3-class head cannot take its classifier tensors.
    const source = zooModel('mlp', { classes: 10 });
    const pretrained = new Map<string, SafeTensor>([...source.initialValues(21)].map(([name, data]) => [name, { dtype: 'F32', shape: [...source.parameterSpecs().find((s) => s.name === name)!.shape], data }]));
    const data = uploadDataset(gpu, folder, 3, 'bands');
    const context: VariantContext = {
      model: { zoo: 'mlp', options: { classes: 3 } }, pretrained, train: data, trainIndices: range(0, 40), test: data, testIndices: range(40, 48),
      normalize: { mean: 0.1, std: 0.3 }, batchSize: 8, optimizer: { kind: 'adam', lr: 1e-2 }, seed: 5,
    };
    const plans = new Map(planVariants(zooModel('mlp', { classes: 3 }), { epochs: 2, unfreezeAfter: 1, bodyLrMultiplier: 0.5 }).map((p) => [p.name, p]));
    const initialHead = zooModel('mlp', { classes: 3 }).initialValues(5);
    const run = async (plan: VariantPlan) => {
      const { result, state } = await trainVariant(gpu, context, plan);
      try {
        return { result, weights: await state.read() };
      } finally {
        state.destroy();
      }
    };
    try {
      const headOnly = await run(plans.get('head-only')!);
      expect(headOnly.result.loaded).toBe(2);
      expect(headOnly.result.reinitialized).toEqual(['fc2.weight', 'fc2.bias']);
      expect(headOnly.result.trainableParameters).toEqual([64 * 3 + 3]);
      for (const name of ['fc1.weight', 'fc1.bias']) expect(headOnly.weights.get(name)!).toEqual(pretrained.get(name)!.data);
      for (const name of ['fc2.weight', 'fc2.bias']) expect(headOnly.weights.get(name)!).not.toEqual(initialHead.get(name)!);

      const full = await run(plans.get('full')!);
      expect(full.weights.get('fc1.weight')!).not.toEqual(pretrained.get('fc1.weight')!.data);
      expect(full.result.trainableParameters).toEqual([784 * 64 + 64 + 64 * 3 + 3]);
    } finally {
      destroyDataset(gpu, data);
    }
  });
});

describe('the target model', () => {
  const x = input([1, 6, 6]);
  const flat = new Flatten().apply(x);
  const drawn = (tail: (logits: SymbolicTensor) => SymbolicTensor) => ({ graph: modelToGraph(new Model({ inputs: x, outputs: tail(new Dense({ units: 10 }).apply(new Dense({ units: 8, activation: 'relu' }).apply(flat))) })) });

  it('of a zoo model takes the class count as an option', () => {
    expect(withClasses({ zoo: 'mlp', options: { dropout: 0.1 } }, 3)).toEqual({ zoo: 'mlp', options: { dropout: 0.1, classes: 3 } });
  });

  it('of a graph resizes the head and keeps the body', () => {
    const source = drawn((y) => y);
    const target = modelFromDescription('target', withClasses(source, 3));
    expect(target.outputShape).toEqual([3]);
    const body = (m: Model) => m.parameterSpecs().filter((s) => !s.name.startsWith(`${headLayerName(m)}.`));
    expect(body(target)).toEqual(body(modelFromDescription('source', source)));
  });

  it('of a graph whose head is not its output is refused, saying why', () => {
    expect(() => withClasses(drawn((y) => concat([y, flat])), 3)).toThrow("the pretrained graph's head fc2 does not set its output size (a 3-unit head gives output [39])");
  });
});

describe('scripts/finetune.ts end to end', () => {
  it('fine-tunes a saved checkpoint on a PNG folder and reports every variant per fraction', async () => {
    const gpu = await testGpu();
    const folder = await writeBandFolder({ classes: ['top', 'middle', 'bottom'], perClass: 20, seed: 6 });
    const out = mkdtempSync(join(tmpdir(), 'webgrad-finetune-'));
    const model = zooModel('mlp', { classes: 10 });
    const state = new ModelState(gpu, model, model.initialValues(2));
    await saveCheckpoint(join(out, 'source.safetensors'), state, { model: { zoo: 'mlp', options: { classes: 10 } }, epoch: 1, normalize: { mean: 0.13, std: 0.31 } });
    state.destroy();
    const root = new URL('..', import.meta.url).pathname;
    const run = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/finetune.ts'),
      '--pretrained', join(out, 'source.safetensors'), '--target', `folder:${folder}`, '--fractions', '0.25,0.5', '--epochs', '2', '--batch-size', '4', '--out', out, '--quiet',
    ], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'finetune.json'), 'utf8')) as { rows: { fraction: number; images: number; variant: string; reinitialized: string[]; testAccuracy: number }[] };
    // 60 images, 48 after the folder's 20% test split: 25% → 4 per class, 50% → 8 per class.
    expect(report.rows.map((r) => [r.fraction, r.images, r.variant])).toEqual([
      [0.25, 12, 'scratch'], [0.25, 12, 'head-only'], [0.25, 12, 'full'], [0.25, 12, 'head-then-all'],
      [0.5, 24, 'scratch'], [0.5, 24, 'head-only'], [0.5, 24, 'full'], [0.5, 24, 'head-then-all'],
    ]);
    for (const r of report.rows) {
      expect(r.reinitialized).toEqual(r.variant === 'scratch' ? [] : ['fc2.weight', 'fc2.bias']);
      expect(r.testAccuracy).toBeGreaterThanOrEqual(0);
    }
    const table = readFileSync(join(out, 'finetune.md'), 'utf8').trim().split('\n');
    expect(table).toHaveLength(2 + 8);
    expect(table[2]).toMatch(/^\| folder:.* \| 25% \| 12 \| scratch \| 50435 \| \d+\.\d\d% \|/);
    expect(table[5]).toMatch(/ \| head-then-all \| 195 → 50435 \| /);
  });

  it('fine-tunes a checkpoint of a drawn model (saved as its graph), replacing its head', async () => {
    const gpu = await testGpu();
    const folder = await writeBandFolder({ classes: ['top', 'middle', 'bottom'], perClass: 20, seed: 7 });
    const out = mkdtempSync(join(tmpdir(), 'webgrad-finetune-graph-'));
    const x = input([1, 28, 28]);
    const flat = new Flatten().apply(x);
    const hidden = new Dense({ units: 12, activation: 'relu', name: 'body' }).apply(flat);
    const model = new Model({ inputs: x, outputs: new Dense({ units: 10, name: 'classifier' }).apply(concat([hidden, new Dense({ units: 4, name: 'side' }).apply(flat)])) });
    const state = new ModelState(gpu, model, model.initialValues(3));
    await saveCheckpoint(join(out, 'drawn.safetensors'), state, { epoch: 1, normalize: { mean: 0.13, std: 0.31 } });
    state.destroy();
    const root = new URL('..', import.meta.url).pathname;
    const run = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/finetune.ts'),
      '--pretrained', join(out, 'drawn.safetensors'), '--target', `folder:${folder}`, '--fractions', '0.5', '--epochs', '2', '--batch-size', '4', '--out', out, '--quiet',
    ], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'finetune.json'), 'utf8')) as { rows: { variant: string; loaded: number; reinitialized: string[]; trainableParameters: number[] }[] };
    expect(report.rows.map((r) => r.variant)).toEqual(['scratch', 'head-only', 'full', 'head-then-all']);
    for (const r of report.rows.slice(1)) {
      expect(r.reinitialized).toEqual(['classifier.weight', 'classifier.bias']);
      expect(r.loaded).toBe(4);
    }
    // The head maps the 16 joined features to the target's 3 classes.
    expect(report.rows[1]!.trainableParameters).toEqual([16 * 3 + 3]);
  });
});
