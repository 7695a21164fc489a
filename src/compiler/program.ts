// Compiles a model into a static program: the graph of one training (or evaluation) step,
// its backward ops, the optimizer updates, a memory plan, and finally the recorded dispatches.
import type { Gpu } from '../gpu/device.ts';
import type { BufferRef, Dispatch } from '../gpu/kernel.ts';
import { storageBuffer, writeBuffer } from '../gpu/buffers.ts';
import type { AugmentOptions } from '../kernels/gather.ts';
import { accumulateColumns, accumulateMetrics } from '../kernels/loss.ts';
import { argmaxRows } from '../kernels/reduce.ts';
import { adamUpdate, sgdUpdate } from '../kernels/optimizer.ts';
import { clipGradNorm, clipGradNormScratchBytes } from '../kernels/grad_norm.ts';
import { applyLossScale, lossScaleOptions, unscaleGradients, updateLossScale, type LossScaleOptions } from '../kernels/loss_scale.ts';
import { elementCount, Graph, Tape, type Op } from '../graph/graph.ts';
import { planMemory, tensorBytes, type MemoryPlan } from './memory.ts';
import { checkModelFits, inputStage, type ChannelNormalization, type GpuData } from './input.ts';
import { lossStage, type LossSpec, type Task } from './loss.ts';
import { int8LayerForward, runsInInt8, type Int8Weights } from './int8.ts';
import type { BuildContext, Layer } from '../layers/layer.ts';
import type { Model } from '../model/model.ts';
import { parameterWeightDecay, type OptimizerConfig } from '../optim/optim.ts';

export type { ChannelNormalization, FieldDType, GpuData, GpuDataset, GpuField, GpuTensorDataset, GpuTokenDataset, Normalization } from './input.ts';
export type { LossFunction, LossName, LossSpec, Task } from './loss.ts';
export type { Int8Tensor, Int8Weights } from './int8.ts';

export interface ProgramOptions {
  batch: number;
  training: boolean;
  /** u8 data (images, u8 fields): x = (u8/255 − mean)/std, per channel when given lists. Token datasets need none. */
  normalize?: ChannelNormalization;
  augment?: AugmentOptions;
  /** Default: sparse softmax cross-entropy for u32 class targets; f32 targets must name one. */
  loss?: LossSpec;
  /** Tensor datasets: the field each model input reads (see InputStageOptions.inputs). */
  inputs?: Readonly<Record<string, string>>;
  /** Tensor datasets: the target field (default `y`). */
  target?: string;
  labelSmoothing?: number;
  optimizer?: OptimizerConfig;
  clipNorm?: number;
  /** Parameter names (or prefixes ending in '.') that get no gradient and no update. */
  frozen?: readonly string[];
  /** Learning-rate multipliers by parameter-name prefix; the longest matching prefix wins. */
  lrMultipliers?: Readonly<Record<string, number>>;
  /** Evaluation only: keep the logits in their own buffer (`Program.logits`) for reading back. */
  keepLogits?: boolean;
  /** Add into this totals buffer (another program's, of the same layout) instead of a new one. */
  totals?: GPUBuffer;
  /**
   * Inference only: run every Dense and Conv2D as an int8 GEMM on these quantized weights (their
   * f32 weights then need no buffer in `persistent`); every other op is compiled as usual.
   */
  int8?: Int8Weights;
  /**
   * Training only: mixed precision, like PyTorch's autocast with a GradScaler. The GEMM-based layers
   * multiply in f16 (f32 sums), the loss gradient is scaled by a dynamic loss scale, the gradients
   * are unscaled and checked, and a step with an Inf or NaN gradient leaves the weights and the
   * optimizer state as they were. `true` takes GradScaler's defaults; an object sets its knobs.
   * Master weights and optimizer state stay f32.
   */
  mixedPrecision?: MixedPrecision;
  /** With mixedPrecision: the loss-scale state buffer (createLossScaleState), shared by every program of one trainer. */
  lossScaleState?: GPUBuffer;
}

export type MixedPrecision = boolean | LossScaleOptions;

/** The loss-scaling rule of a mixedPrecision option, or undefined when it is off. */
export function mixedPrecisionRule(option: MixedPrecision | undefined): Required<LossScaleOptions> | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return lossScaleOptions();
  if (typeof option !== 'object' || option === null) throw new Error(`mixedPrecision must be true, false or an object of loss-scale options, got ${JSON.stringify(option)}`);
  const known = ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval'];
  const unknown = Object.keys(option).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`mixedPrecision: unknown option ${unknown.join(', ')}; the loss-scale options are ${known.join(', ')}`);
  return lossScaleOptions(option);
}

export interface MemoryReport { parameterBytes: number; optimizerBytes: number; activationBytes: number; peakBytes: number }

/** Buffers the host writes before each step. */
export interface StepInputs {
  indices: GPUBuffer;
  seed: GPUBuffer;
  /** One f32[4] [lr, step, 0, 0] per learning-rate group, with its multiplier. */
  hyper: { buffer: GPUBuffer; multiplier: number }[];
}

export interface Program {
  dispatches: Dispatch[];
  inputs: StepInputs;
  /**
   * f32 [Σ row loss, Σ row correct, rows, non-finite row losses, Σ metric 0, Σ metric 1, …]: the
   * running sums since the host last cleared it, one per metric name after the first four.
   */
  totals: GPUBuffer;
  totalsLength: number;
  /** The further metrics in totals[4…], e.g. mse and mae for regression. */
  metricNames: string[];
  /** What the loss measures; undefined when compiled without a target (prediction only). */
  task?: Task;
  /** Whether the loss is a cross-entropy over `classes` classes. */
  crossEntropy: boolean;
  classes?: number;
  /** Evaluation only: the argmax class of each loss row (a sample, or a token of a window). */
  predictions?: GPUBuffer;
  /** The last layer's output (before a final Softmax), when compiled with keepLogits. */
  logits?: GPUBuffer;
  memory: MemoryReport;
  opNames: string[];
  /** Buffers this program owns (not parameters), destroyed with it. */
  owned: GPUBuffer[];
}

export function isFrozen(name: string, frozen: readonly string[] = []): boolean {
  return frozen.some((f) => name === f || (f.endsWith('.') ? name.startsWith(f) : name.startsWith(`${f}.`)));
}

function lrMultiplier(name: string, multipliers: Readonly<Record<string, number>> = {}): number {
  let best = '';
  for (const prefix of Object.keys(multipliers)) if (name.startsWith(prefix) && prefix.length > best.length) best = prefix;
  return best ? multipliers[best]! : 1;
}

/**
 * Builds and plans one step. `persistent` maps parameter/state names to their buffers (owned by
 * the model state); optimizer moments come from `optimizerState`, created on first use.
 */
export function compileProgram(gpu: Gpu, model: Model, data: GpuData, persistent: ReadonlyMap<string, GPUBuffer>,
  optimizerState: Map<string, GPUBuffer>, options: ProgramOptions): Program {
  const { batch, training } = options;
  const graph = new Graph();
  const tape = new Tape(graph);
  checkModelFits(model, data);

  const external = new Map<number, BufferRef>();
  const owned: GPUBuffer[] = [];
  const ownBuffer = (bytes: number, label: string): GPUBuffer => {
    const buffer = storageBuffer(gpu, bytes, label);
    owned.push(buffer);
    return buffer;
  };
  const inputTensor = (name: string, count: number, dtype: 'u32' | 'f32' = 'u32'): number => {
    const t = graph.tensor(name, [count], 'input', dtype);
    external.set(t, ownBuffer(count * 4, name));
    return t;
  };
  const indices = inputTensor('batch.indices', batch);
  const seed = inputTensor('step.seed', 2);
  const paramTensors = new Map<string, number>();
  const lookup = (layer: Layer, name: string, role: 'param' | 'state'): number => {
    const full = `${layer.name}.${name}`;
    let t = paramTensors.get(full);
    if (t === undefined) {
      const buffer = persistent.get(full);
      if (!buffer) throw new Error(`internal: no buffer for ${full}`);
      const spec = (role === 'param' ? model.parameterSpecs() : model.stateSpecs()).find((s) => s.name === full)!;
      t = graph.tensor(full, spec.shape, role);
      external.set(t, buffer);
      paramTensors.set(full, t);
      if (role === 'param' && training && !isFrozen(full, options.frozen)) tape.requireGrad(t);
    }
    return t;
  };
  const scaling = training ? mixedPrecisionRule(options.mixedPrecision) : undefined;
  if (scaling && !options.lossScaleState) throw new Error('compileProgram: mixedPrecision needs options.lossScaleState (createLossScaleState)');
  if (scaling && typeof options.loss === 'function') throw new Error('mixed precision: a drawn loss is not supported yet (its gradient is a constant the loss scale would multiply every step); use a named loss');
  const ctx: BuildContext = {
    graph, tape, training, batch, seed, ...(scaling ? { precision: 'f16' as const } : {}),
    param: (layer, name) => lookup(layer, name, 'param'),
    state: (layer, name) => lookup(layer, name, 'state'),
  };

  const constant = (name: string, values: Float32Array): number => {
    const buffer = ownBuffer(values.byteLength, name);
    writeBuffer(gpu, buffer, values);
    const t = graph.tensor(name, [values.length], 'state');
    external.set(t, buffer);
    return t;
  };
  const batchInput = inputStage(graph, model, data, indices, seed, {
    batch, normalize: options.normalize, augment: training ? options.augment : undefined, inputs: options.inputs, target: options.target, needsTarget: training, constant,
  });
  const int8 = options.int8;
  if (int8 && training) throw new Error('compileProgram: int8 weights are for inference programs; train the f32 model and quantize it after');
  const [logits] = (int8
    ? model.forward(ctx, batchInput.inputs, (node, xs) => (runsInInt8(node.layer)
      ? int8LayerForward(ctx, int8, node.layer, node.inputs[0]!.shape, node.output.shape, xs[0]!, external)
      : node.layer.forward(ctx, ...xs)))
    : model.forward(ctx, batchInput.inputs)) as [number];
  // Evaluating against an f32 target needs the loss named; without one the program keeps only the outputs.
  const target = batchInput.target && (training || options.loss || batchInput.target.dtype === 'u32') ? batchInput.target : undefined;
  const stage = target
    ? lossStage(ctx, model, logits, target, options.loss, { labelSmoothing: options.labelSmoothing ?? 0, constant })
    : undefined;
  const metricNames = stage?.metricNames ?? [];
  const totalsLength = 4 + metricNames.length;
  if (options.totals && options.totals.size !== totalsLength * 4) throw new Error(`internal: a shared totals buffer of ${options.totals.size} bytes for ${totalsLength} totals`);
  const totals = options.totals ?? ownBuffer(totalsLength * 4, 'metrics.totals');
  if (stage) {
    const totalsTensor = graph.tensor('metrics.totals', [totalsLength], 'state');
    external.set(totalsTensor, totals);
    const { rowLoss, rowCorrect, rowMetrics, rows } = stage;
    graph.add({
      name: 'accumulate metrics', reads: [rowLoss, ...(rowCorrect === undefined ? [] : [rowCorrect]), totalsTensor], writes: [totalsTensor],
      emit: (g, b) => accumulateMetrics(g, { rowLoss: b(rowLoss), ...(rowCorrect === undefined ? {} : { rowCorrect: b(rowCorrect) }), rows, totals }),
    });
    if (rowMetrics !== undefined) {
      graph.add({
        name: 'accumulate further metrics', reads: [rowMetrics, totalsTensor], writes: [totalsTensor],
        emit: (g, b) => accumulateColumns(g, { rowMetrics: b(rowMetrics), rows, cols: metricNames.length, totals }),
      });
    }
  }

  const inputs: StepInputs = { indices: external.get(indices) as GPUBuffer, seed: external.get(seed) as GPUBuffer, hyper: [] };
  let optimizerBytes = 0;
  let predictions: GPUBuffer | undefined;
  if (training) {
    if (!options.optimizer) throw new Error('compileProgram: training needs an optimizer');
    const lossScale = scaling ? graph.tensor('lossScale.state', [4], 'state', 'u32') : undefined;
    if (lossScale !== undefined) {
      external.set(lossScale, options.lossScaleState!);
      const grad = stage!.grad;
      const count = elementCount(graph.shape(grad));
      graph.add({ name: 'scale loss gradient', reads: [grad, lossScale], writes: [grad], emit: (g, b) => applyLossScale(g, b(lossScale), { buffer: b(grad), count }) });
    }
    const grads = tape.backward(stage!.output, stage!.grad);
    const updates = [...paramTensors.entries()].filter(([, t]) => graph.info(t).role === 'param' && grads.has(t));
    if (updates.length === 0) throw new Error('every parameter is frozen: nothing to train');
    if (lossScale !== undefined) {
      // Before clipping, so the norm is the unscaled gradients' (GradScaler.unscale_ before clip_grad_norm_).
      const gradIds = updates.map(([, t]) => grads.get(t)!);
      graph.add({
        name: 'unscale and check gradients', reads: [...gradIds, lossScale], writes: [...gradIds, lossScale],
        emit: (g, b) => unscaleGradients(g, b(lossScale), gradIds.map((id) => ({ buffer: b(id), count: elementCount(graph.shape(id)) }))),
      });
    }
    const skip = (b: (t: number) => BufferRef) => (lossScale === undefined ? {} : { lossScale: b(lossScale) });
    const skipReads = lossScale === undefined ? [] : [lossScale];
    const clip = ownBuffer(16, 'optimizer.clip');
    gpu.device.queue.writeBuffer(clip, 0, new Float32Array([1, 0, 0, 0]));
    const clipTensor = graph.tensor('optimizer.clip', [4], 'state');
    external.set(clipTensor, clip);
    if (options.clipNorm !== undefined && Number.isFinite(options.clipNorm)) {
      const gradIds = updates.map(([, t]) => grads.get(t)!);
      const scratch = graph.tensor('clip.scratch', [Math.ceil(clipGradNormScratchBytes(gradIds.length) / 4)]);
      const maxNorm = options.clipNorm;
      graph.add({
        name: 'clip gradient norm', reads: gradIds, writes: [clipTensor, scratch],
        emit: (g, b) => clipGradNorm(g, { grads: gradIds.map((id) => ({ buffer: b(id), count: elementCount(graph.shape(id)) })), maxNorm, scratch: b(scratch), clip }),
      });
    }
    const hyperByMultiplier = new Map<number, number>();
    for (const [name, t] of updates) {
      const multiplier = lrMultiplier(name, options.lrMultipliers);
      let hyperTensor = hyperByMultiplier.get(multiplier);
      if (hyperTensor === undefined) {
        hyperTensor = graph.tensor(`optimizer.hyper×${multiplier}`, [4], 'input', 'f32');
        const buffer = ownBuffer(16, `optimizer.hyper×${multiplier}`);
        external.set(hyperTensor, buffer);
        inputs.hyper.push({ buffer, multiplier });
        hyperByMultiplier.set(multiplier, hyperTensor);
      }
      const grad = grads.get(t)!;
      const count = elementCount(graph.shape(t));
      const opt = options.optimizer;
      const moment = (suffix: string): number => {
        const key = `${name}.${suffix}`;
        let buffer = optimizerState.get(key);
        if (!buffer) {
          buffer = storageBuffer(gpu, count * 4, key);
          optimizerState.set(key, buffer);
        }
        optimizerBytes += count * 4;
        const id = graph.tensor(key, [count], 'state');
        external.set(id, buffer);
        return id;
      };
      const hyper = hyperTensor;
      if (opt.kind === 'sgd') {
        const momentum = opt.momentum ?? 0;
        const velocity = momentum > 0 ? moment('momentum_buffer') : undefined;
        const o = { momentum, nesterov: opt.nesterov ?? false, weightDecay: parameterWeightDecay(opt, graph.shape(t)), l1: opt.l1 ?? 0 };
        graph.add({
          name: `sgd ${name}`, reads: [grad, hyper, clipTensor, ...skipReads], writes: velocity === undefined ? [t] : [t, velocity],
          emit: (g, b) => sgdUpdate(g, o, { param: b(t), grad: b(grad), count, hyper: b(hyper), clip, ...(velocity === undefined ? {} : { velocity: b(velocity) }), ...skip(b) }),
        });
      } else {
        const m = moment('exp_avg');
        const v = moment('exp_avg_sq');
        const o = { beta1: opt.beta1 ?? 0.9, beta2: opt.beta2 ?? 0.999, eps: opt.eps ?? 1e-8, weightDecay: parameterWeightDecay(opt, graph.shape(t)), decoupled: opt.kind === 'adamw', l1: opt.l1 ?? 0 };
        graph.add({
          name: `${opt.kind} ${name}`, reads: [grad, hyper, clipTensor, ...skipReads], writes: [t, m, v],
          emit: (g, b) => adamUpdate(g, o, { param: b(t), grad: b(grad), m: b(m), v: b(v), count, hyper: b(hyper), clip, ...skip(b) }),
        });
      }
    }
    if (lossScale !== undefined) {
      const rule = scaling!;
      // After every update has read the flag: GradScaler.update().
      graph.add({ name: 'update loss scale', reads: [lossScale], writes: [lossScale], emit: (g, b) => updateLossScale(g, b(lossScale), rule) });
    }
  } else {
    if (options.keepLogits) external.set(graph.info(logits).root, ownBuffer(batch * elementCount(model.outputShape) * 4, 'batch.logits'));
    if (stage?.classes !== undefined) {
      const { rows, classes } = stage;
      predictions = ownBuffer(rows * 4, 'batch.predictions');
      const predictionsTensor = graph.tensor('batch.predictions', [rows], 'state', 'u32');
      external.set(predictionsTensor, predictions);
      graph.add({
        name: 'predictions', reads: [logits], writes: [predictionsTensor],
        emit: (g, b) => argmaxRows(g, { x: b(logits), indices: b(predictionsTensor), rows, cols: classes }),
      });
    }
  }

  checkTensorLimits(gpu, graph, batch);
  const plan = planMemory(graph, graph.ops);
  const slots = plan.slotBytes.map((bytes, i) => ownBuffer(bytes, `activations.slot${i}`));
  const bufferOf = (t: number): BufferRef => {
    const info = graph.info(t);
    const ext = external.get(info.root);
    if (ext) return ext;
    const slot = plan.slotOf.get(info.root);
    if (slot === undefined) throw new Error(`internal: tensor ${info.name} has no storage`);
    return { buffer: slots[slot]!, offset: 0, size: Math.ceil(tensorBytes(graph, t) / 4) * 4 };
  };
  const dispatches = graph.ops.flatMap((o: Op) => o.emit(gpu, bufferOf));
  const keptLogits = options.keepLogits ? external.get(graph.info(logits).root) as GPUBuffer : undefined;
  return {
    dispatches, inputs, totals, totalsLength, metricNames, crossEntropy: stage?.crossEntropy ?? false, owned,
    ...(stage ? { task: stage.task } : {}), ...(stage?.classes === undefined ? {} : { classes: stage.classes }),
    ...(predictions ? { predictions } : {}), ...(keptLogits ? { logits: keptLogits } : {}),
    memory: memoryReport(model, persistent, plan, optimizerBytes),
    opNames: graph.ops.map((o) => o.name),
  };
}

/** Catches a tensor the device cannot bind at compile time, by name, instead of deep inside Dawn. */
function checkTensorLimits(gpu: Gpu, graph: Graph, batch: number): void {
  const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  for (const t of graph.tensors) {
    const bytes = tensorBytes(graph, t.id);
    if (bytes > limit) {
      const fit = Math.max(1, Math.floor((batch * limit) / bytes));
      throw new Error(`tensor "${t.name}" [${t.shape.join(', ')}] needs ${bytes} bytes, more than this device's limit of ${limit} bytes per buffer; use a batch size of at most ${fit} (now ${batch})`);
    }
  }
}

function memoryReport(model: Model, persistent: ReadonlyMap<string, GPUBuffer>, plan: MemoryPlan, optimizerBytes: number): MemoryReport {
  let parameterBytes = 0;
  for (const spec of [...model.parameterSpecs(), ...model.stateSpecs()]) parameterBytes += persistent.get(spec.name)?.size ?? 0;
  return { parameterBytes, optimizerBytes, activationBytes: plan.activationBytes, peakBytes: plan.peakBytes };
}
