// Fine-tuning a pretrained model on a new task with few labels, for scripts/finetune.ts: the
// labelled subset (seeded, the same count from every class), which parameters form the head, the
// variants compared (from scratch, head only, everything, head first then everything) and running one.
//
// The head is the last Dense layer. It is always replaced (freshly initialized): even with the same
// class count, the target's class i has nothing to do with the source's class i.
import type { Gpu } from '../gpu/device.ts';
import { seededPermutation } from '../data/split.ts';
import { Dense } from '../layers/layers.ts';
import { elementCount } from '../graph/graph.ts';
import { Evaluator, ModelState, Trainer } from '../runtime/runtime.ts';
import { fit, stepsPerEpoch } from '../runtime/fit.ts';
import { isFrozen, type GpuDataset, type Normalization } from '../compiler/program.ts';
import { loadMatchingWeights, type ModelDescription } from '../io/checkpoint.ts';
import { modelFromDescription } from '../io/checkpoint-schema.ts';
import type { Model } from '../model/model.ts';
import type { OptimizerConfig } from '../optim/optim.ts';
import type { SafeTensor } from '../io/safetensors.ts';

/**
 * Indices of round(fraction × count / classes) samples of every class (at least one), chosen by a
 * seeded shuffle and returned in ascending order. Balanced so a 1% subset cannot miss a class.
 */
export function classBalancedSubset(labels: ArrayLike<number>, classes: number, fraction: number, seed: number): Uint32Array {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`subset fraction must be in (0, 1], got ${fraction}`);
  const perClass = Math.max(1, Math.round((fraction * labels.length) / classes));
  const available = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) available[labels[i]!]!++;
  const short = available.map((n, c) => [c, n] as const).filter(([, n]) => n < perClass);
  if (short.length) throw new Error(`a balanced subset needs ${perClass} samples of every class; too few of class ${short.map(([c, n]) => `${c} (${n})`).join(', ')}`);
  const taken = new Array<number>(classes).fill(0);
  const chosen: number[] = [];
  for (const i of seededPermutation(labels.length, seed)) {
    const label = labels[i]!;
    if (taken[label]! < perClass) {
      taken[label]!++;
      chosen.push(i);
      if (chosen.length === perClass * classes) break;
    }
  }
  return Uint32Array.from(chosen).sort();
}

/** The classifier: the model's last Dense layer. */
export function headLayerName(model: Model): string {
  const head = [...model.plan].reverse().find((p) => p.layer instanceof Dense);
  if (!head) throw new Error('the model has no Dense layer to serve as the classifier head');
  return head.layer.name;
}

/** Every parameter outside the head: the `frozen` list that trains the head only. */
export function bodyParameterNames(model: Model): string[] {
  const head = headLayerName(model);
  return model.parameterSpecs().map((s) => s.name).filter((name) => !name.startsWith(`${head}.`));
}

/**
 * The pretrained model with a head of `classes` outputs: a zoo model's classes option, or in a graph
 * the units of the head (the last Dense layer), which must then be the model's output size.
 */
export function withClasses(description: ModelDescription, classes: number): ModelDescription {
  if ('zoo' in description) return { zoo: description.zoo, options: { ...description.options, classes } };
  const head = headLayerName(modelFromDescription('the pretrained model', description));
  const graph = { ...description.graph, layers: description.graph.layers.map((layer) => (layer.name === head ? { ...layer, units: classes } : layer)) };
  const target: ModelDescription = { graph };
  const output = modelFromDescription('the target model', target).outputShape;
  if (output.length !== 1 || output[0] !== classes) {
    throw new Error(`the pretrained graph's head ${head} does not set its output size (a ${classes}-unit head gives output [${output.join(', ')}]); fine-tuning replaces the last Dense layer, which must produce the class scores`);
  }
  return target;
}

export type VariantName = 'scratch' | 'head-only' | 'full' | 'head-then-all';

/** A stretch of training with one Trainer: its own frozen set and learning-rate multipliers. */
export interface Phase {
  epochs: number;
  frozen: string[];
  lrMultipliers: Record<string, number>;
}

export interface VariantPlan {
  name: VariantName;
  fromPretrained: boolean;
  phases: Phase[];
}

export interface VariantSettings {
  epochs: number;
  /** Head-only epochs before everything is unfrozen in 'head-then-all' (1 ≤ k < epochs). */
  unfreezeAfter: number;
  /** Learning-rate multiplier for the body when it trains after pretraining (1: the same lr as the head). */
  bodyLrMultiplier: number;
}

/**
 * The four variants, each training `epochs` in total. Head-only training freezes parameters, not
 * batch-norm running statistics, which still follow the target data in models that have them.
 */
export function planVariants(model: Model, settings: VariantSettings): VariantPlan[] {
  const { epochs, unfreezeAfter, bodyLrMultiplier } = settings;
  if (!(Number.isInteger(unfreezeAfter) && unfreezeAfter >= 1 && unfreezeAfter < epochs)) {
    throw new Error(`unfreeze after ${unfreezeAfter} epochs must be at least 1 and fewer than the ${epochs} epochs`);
  }
  const body = bodyParameterNames(model);
  const slowBody = bodyLrMultiplier === 1 ? {} : Object.fromEntries(body.map((name) => [name, bodyLrMultiplier]));
  return [
    { name: 'scratch', fromPretrained: false, phases: [{ epochs, frozen: [], lrMultipliers: {} }] },
    { name: 'head-only', fromPretrained: true, phases: [{ epochs, frozen: body, lrMultipliers: {} }] },
    { name: 'full', fromPretrained: true, phases: [{ epochs, frozen: [], lrMultipliers: slowBody }] },
    {
      name: 'head-then-all', fromPretrained: true,
      phases: [{ epochs: unfreezeAfter, frozen: body, lrMultipliers: {} }, { epochs: epochs - unfreezeAfter, frozen: [], lrMultipliers: slowBody }],
    },
  ];
}

export interface VariantContext {
  /** The target model: the pretrained model with the target's class count (withClasses). */
  model: ModelDescription;
  pretrained: ReadonlyMap<string, SafeTensor>;
  train: GpuDataset;
  trainIndices: Uint32Array;
  test: GpuDataset;
  testIndices: Uint32Array;
  normalize: Normalization;
  batchSize: number;
  optimizer: OptimizerConfig;
  seed: number;
}

export interface VariantResult {
  variant: VariantName;
  /** Parameters trained in each phase. */
  trainableParameters: number[];
  /** Model tensors taken from the checkpoint (0 from scratch) and those left as initialized. */
  loaded: number;
  reinitialized: string[];
  testAccuracy: number;
  testLoss: number;
  /** Training time, compilation included; evaluation excluded. */
  seconds: number;
}

/**
 * Trains one variant and evaluates it on the test indices. The caller owns (and destroys) the
 * returned state, so it can inspect the weights.
 */
export async function trainVariant(gpu: Gpu, context: VariantContext, plan: VariantPlan): Promise<{ result: VariantResult; state: ModelState }> {
  const model = modelFromDescription('the target model', context.model);
  const state = new ModelState(gpu, model, model.initialValues(context.seed));
  try {
    const head = `${headLayerName(model)}.`;
    const body = new Map([...context.pretrained].filter(([name]) => !name.startsWith(head)));
    const partial = plan.fromPretrained ? loadMatchingWeights(state, body) : undefined;
    const totalEpochs = plan.phases.reduce((sum, p) => sum + p.epochs, 0);
    const perEpoch = stepsPerEpoch(context.trainIndices.length, context.batchSize);
    const started = performance.now();
    let done = 0;
    for (const phase of plan.phases) {
      // A fresh optimizer per phase: Adam's bias correction counts steps per trainer, so moments
      // starting at zero beside an advanced step count would overshoot the newly unfrozen weights.
      const optimizerState = new Map<string, GPUBuffer>();
      const options = {
        batchSize: context.batchSize, seed: context.seed, normalize: context.normalize, optimizer: context.optimizer,
        frozen: phase.frozen, lrMultipliers: phase.lrMultipliers, stepsPerEpoch: perEpoch, totalSteps: perEpoch * totalEpochs,
      };
      const trainer = new Trainer(gpu, model, state, context.train, optimizerState, options);
      try {
        await fit(gpu, model, state, context.train, { ...options, epochs: done + phase.epochs, initialEpoch: done, trainIndices: context.trainIndices }, trainer);
      } finally {
        trainer.destroy();
        for (const buffer of optimizerState.values()) gpu.destroyBuffer(buffer);
      }
      done += phase.epochs;
    }
    const seconds = (performance.now() - started) / 1000;
    const evaluator = new Evaluator(gpu, model, state, context.test, 500, context.normalize);
    const test = await evaluator.evaluate(context.testIndices).finally(() => evaluator.destroy());
    return {
      state,
      result: {
        variant: plan.name,
        trainableParameters: plan.phases.map((phase) => model.parameterSpecs().filter((s) => !isFrozen(s.name, phase.frozen)).reduce((sum, s) => sum + elementCount(s.shape), 0)),
        loaded: partial?.loaded.length ?? 0,
        reinitialized: partial?.reinitialized ?? [],
        testAccuracy: test.accuracy, testLoss: test.loss, seconds,
      },
    };
  } catch (error) {
    state.destroy();
    throw error;
  }
}
