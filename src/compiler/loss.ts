// The loss stage of a compiled step: which loss compares the model's output with the target, the
// ops that compute it and the gradient that starts the backward pass, and the per-row values the
// metric totals add up. Every loss is PyTorch's reduction='mean' over all of its elements.
import { binaryCrossEntropyWithLogits, huberLoss, l1Loss, mseLoss, regressionMetrics, rowMean, softmaxCrossEntropy } from '../kernels/loss.ts';
import { elementCount, formatShape } from '../graph/graph.ts';
import { input, type BuildContext, type SymbolicTensor } from '../layers/layer.ts';
import { Model } from '../model/model.ts';
import type { BatchTarget } from './input.ts';

export const LOSS_NAMES = ['sparse-categorical-crossentropy', 'categorical-crossentropy', 'mse', 'l1', 'huber', 'binary-crossentropy'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/**
 * A loss drawn with tensor ops from the model's output and the target (each with a batch axis in
 * the step); it returns per-element or per-row losses, whose mean over all elements is the loss.
 */
export type LossFunction = (output: SymbolicTensor, target: SymbolicTensor) => SymbolicTensor;

export type LossSpec = LossName | { kind: 'huber'; delta: number } | LossFunction;

/** What the metrics measure: class accuracy, regression error, per-label accuracy, or only the loss. */
export type Task = 'classification' | 'regression' | 'multi-label' | 'custom';

export interface LossStage {
  task: Task;
  /** Whether the loss is a cross-entropy over classes (the divergence check's chance level needs one). */
  crossEntropy: boolean;
  /** The backward pass starts at `output` with gradient `grad`. */
  output: number;
  grad: number;
  rowLoss: number;
  rows: number;
  /** Classification: 1 where the argmax is right; multi-label: the row's share of right labels. */
  rowCorrect?: number;
  /** Classification: the class count whose argmax the evaluation predicts. */
  classes?: number;
  /** Per-row values of further metrics, [rows, metricNames.length], added into totals[4…]. */
  rowMetrics?: number;
  metricNames: string[];
}

export interface LossOptions {
  labelSmoothing: number;
  /** A tensor holding `values`, uploaded once when the step is compiled. */
  constant(name: string, values: Float32Array): number;
}

/** The loss a target gets when none is named: sparse cross-entropy for class ids. */
function defaultLoss(target: BatchTarget): LossSpec {
  if (target.dtype === 'u32') return 'sparse-categorical-crossentropy';
  throw new Error(`compileProgram: ${target.label} is f32; name the loss (one of ${LOSS_NAMES.join(', ')}, or a function of (output, target))`);
}

function lossName(spec: LossSpec): string {
  return typeof spec === 'function' ? 'drawn loss' : typeof spec === 'string' ? spec : spec.kind;
}

/** Adds the loss ops for `output` (the model's logits or values) against `target`. */
export function lossStage(ctx: BuildContext, model: Model, output: number, target: BatchTarget, spec: LossSpec | undefined, o: LossOptions): LossStage {
  const loss = spec ?? defaultLoss(target);
  const { graph, batch } = ctx;
  const outShape = model.outputShape;
  const name = lossName(loss);
  if (typeof loss === 'string' && !LOSS_NAMES.includes(loss)) throw new Error(`compileProgram: unknown loss ${JSON.stringify(loss)}; choose one of ${LOSS_NAMES.join(', ')}, or a function of (output, target)`);
  if (typeof loss === 'object' && (loss === null || loss.kind !== 'huber')) throw new Error(`compileProgram: a loss given as an object must be { kind: 'huber', delta }, got ${JSON.stringify(loss)}`);
  if (typeof loss === 'function') return drawnLoss(ctx, model, output, target, loss, o);
  const crossEntropy = loss === 'sparse-categorical-crossentropy' || loss === 'categorical-crossentropy';
  if (model.endsWithSoftmax && !crossEntropy) throw new Error(`loss ${name}: the model ends in Softmax, which only a cross-entropy loss reads past; remove it`);
  const wantDType = loss === 'sparse-categorical-crossentropy' ? 'u32' : 'f32';
  if (target.dtype !== wantDType) {
    const hint = target.dtype === 'u32' ? " (class ids: use 'sparse-categorical-crossentropy')" : " (f32 targets: use 'categorical-crossentropy' for class probabilities)";
    throw new Error(`loss ${name} needs ${wantDType === 'u32' ? 'u32 class ids' : 'an f32 target'}; ${target.label} is ${target.dtype}${hint}`);
  }
  const expectedTarget = loss === 'sparse-categorical-crossentropy' ? outShape.slice(0, -1) : outShape;
  if (target.shape.join() !== expectedTarget.join()) {
    throw new Error(`loss ${name}: ${target.label} has samples of ${formatShape(target.shape)} but the model outputs ${formatShape(outShape)}, which needs targets of ${formatShape(expectedTarget)}`);
  }
  const dlogits = graph.tensor('grad(output)', [batch, ...outShape]);
  if (crossEntropy) {
    const classes = outShape.at(-1)!;
    if (target.largest !== undefined && target.largest >= classes) {
      throw new Error(`loss ${name}: ${target.label} holds class id ${target.largest}, outside the model's ${classes} classes (output ${formatShape(outShape)})`);
    }
    const rows = batch * elementCount(outShape.slice(0, -1));
    const rowLoss = graph.tensor('loss.rows', [rows]);
    const rowCorrect = graph.tensor('loss.correct', [rows]);
    const labelSmoothing = o.labelSmoothing;
    const t = target.tensor;
    graph.add({
      name: 'softmax cross-entropy', reads: [output, t], writes: [dlogits, rowLoss, rowCorrect],
      emit: (g, b) => softmaxCrossEntropy(g, {
        logits: b(output), ...(target.dtype === 'u32' ? { labels: b(t) } : { targets: b(t) }),
        dlogits: b(dlogits), rowLoss: b(rowLoss), rowCorrect: b(rowCorrect), rows, classes, labelSmoothing,
      }),
    });
    return { task: 'classification', crossEntropy, output, grad: dlogits, rowLoss, rows, rowCorrect, classes, metricNames: [] };
  }
  if (o.labelSmoothing) throw new Error(`loss ${name}: label smoothing applies to cross-entropy only`);
  const rows = batch, cols = elementCount(outShape);
  const rowLoss = graph.tensor('loss.rows', [rows]);
  const t = target.tensor;
  if (loss === 'binary-crossentropy') {
    const rowCorrect = graph.tensor('loss.correct', [rows]);
    const rowMetrics = graph.tensor('loss.label_correct', [rows, cols]);
    graph.add({
      name: 'binary cross-entropy with logits', reads: [output, t], writes: [dlogits, rowLoss, rowCorrect, rowMetrics],
      emit: (g, b) => binaryCrossEntropyWithLogits(g, { predictions: b(output), targets: b(t), dpredictions: b(dlogits), rowLoss: b(rowLoss), rowCorrect: b(rowCorrect), rowMetrics: b(rowMetrics), rows, cols }),
    });
    return { task: 'multi-label', crossEntropy, output, grad: dlogits, rowLoss, rows, rowCorrect, rowMetrics, metricNames: Array.from({ length: cols }, (_, c) => `accuracy[${c}]`) };
  }
  graph.add({
    name: name, reads: [output, t], writes: [dlogits, rowLoss],
    emit: (g, b) => {
      const io = { predictions: b(output), targets: b(t), dpredictions: b(dlogits), rowLoss: b(rowLoss), rows, cols };
      return loss === 'mse' ? mseLoss(g, io) : loss === 'l1' ? l1Loss(g, io) : huberLoss(g, { ...io, delta: typeof loss === 'object' ? loss.delta : 1 });
    },
  });
  return { task: 'regression', crossEntropy, output, grad: dlogits, rowLoss, rows, ...regression(ctx, output, t, cols) };
}

/** Per-row mean squared and mean absolute error of output against an f32 target of its shape. */
function regression(ctx: BuildContext, output: number, target: number, cols: number): { rowMetrics: number; metricNames: string[] } {
  const rows = ctx.batch;
  const rowMetrics = ctx.graph.tensor('metrics.regression', [rows, 2]);
  ctx.graph.add({
    name: 'regression metrics', reads: [output, target], writes: [rowMetrics],
    emit: (g, b) => regressionMetrics(g, { predictions: b(output), targets: b(target), rowMetrics: b(rowMetrics), rows, cols }),
  });
  return { rowMetrics, metricNames: ['mse', 'mae'] };
}

/** A loss drawn by the user: its ops join the step's graph and the tape differentiates them. */
function drawnLoss(ctx: BuildContext, model: Model, output: number, target: BatchTarget, fn: LossFunction, o: LossOptions): LossStage {
  const { graph, batch } = ctx;
  const outShape = model.outputShape;
  const targetShape = target.shape.length ? target.shape : [1];
  const symbolicOutput = input(outShape, { name: 'output' });
  const symbolicTarget = input(targetShape, { name: 'target', dtype: target.dtype });
  const result = fn(symbolicOutput, symbolicTarget);
  const lossModel = new Model({ inputs: [symbolicOutput, symbolicTarget], outputs: result });
  if (lossModel.parameterCount() > 0 || lossModel.stateSpecs().length > 0) throw new Error('drawn loss: the loss function uses layers with weights; a loss may only use tensor ops');
  if (result.dtype !== 'f32') throw new Error(`drawn loss: the loss function returns ${result.dtype} values; it must return f32 losses`);
  const targetTensor = target.shape.length ? target.tensor : graph.view(target.tensor, [batch, 1], 'batch.target');
  const [elements] = lossModel.forward(ctx, [output, targetTensor]) as [number];
  const cols = elementCount(result.shape);
  const rows = batch;
  const grad = graph.view(o.constant('grad(drawn loss)', new Float32Array(rows * cols).fill(1 / (rows * cols))), graph.shape(elements), 'grad(drawn loss).view');
  const rowLoss = graph.tensor('loss.rows', [rows]);
  graph.add({
    name: 'drawn loss row means', reads: [elements], writes: [rowLoss],
    emit: (g, b) => rowMean(g, { elements: b(elements), rowLoss: b(rowLoss), rows, cols }),
  });
  const stage: LossStage = { task: 'custom', crossEntropy: false, output: elements, grad, rowLoss, rows, metricNames: [] };
  if (target.dtype === 'f32' && target.shape.join() === outShape.join()) return { ...stage, task: 'regression', ...regression(ctx, output, target.tensor, elementCount(outShape)) };
  return stage;
}
