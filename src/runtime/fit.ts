// Keras-style model.fit: epochs of shuffled batches from a GPU-resident dataset, validation each
// epoch, callbacks (every N batches, every epoch), early stopping, stopping from outside, and
// stopping on divergence (before the epoch's callbacks, so a diverged epoch is never saved).
import type { Gpu } from '../gpu/device.ts';
import { epochPermutation } from '../data/split.ts';
import { DivergenceError, Evaluator, Trainer, type ModelState, type Snapshot, type TrainerOptions } from './runtime.ts';
import type { GpuData } from '../compiler/program.ts';
import type { Model } from '../model/model.ts';
import { tuneGemm } from '../kernels/gemm.ts';
import { tuneConv } from '../kernels/conv_tune.ts';

export interface EpochResult {
  epoch: number;
  trainLoss: number;
  /** NaN where the task has no accuracy (see Totals.accuracy). */
  trainAccuracy: number;
  /** The task's training metrics (see Totals.metrics). */
  metrics: Record<string, number>;
  valLoss?: number;
  valAccuracy?: number;
  valMetrics?: Record<string, number>;
  seconds: number;
  imagesPerSecond: number;
  learningRate: number;
}

export interface BatchInfo {
  epoch: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  /** Latest loss/accuracy totals read back asynchronously (lags a few steps), if any yet. */
  snapshot: Snapshot | null;
  imagesPerSecond: number;
}

/** Return 'stop' from a callback to end training after the current step. */
export type CallbackResult = void | 'stop' | Promise<void | 'stop'>;

export interface FitOptions extends Omit<TrainerOptions, 'stepsPerEpoch' | 'totalSteps'> {
  epochs: number;
  /**
   * Length of the learning-rate schedule in steps, as PyTorch's OneCycleLR `total_steps` (default:
   * every step of the `epochs`). A shorter schedule ends mid-run, and its last rate holds after.
   */
  scheduleSteps?: number;
  /** Indices (into the dataset) to train on and to validate on. */
  trainIndices: Uint32Array;
  validationIndices?: Uint32Array;
  /** First epoch to run (0-based), for resuming. */
  initialEpoch?: number;
  onBatchEnd?: (info: BatchInfo) => CallbackResult;
  batchEvery?: number;
  onEpochEnd?: (result: EpochResult, trainer: Trainer) => CallbackResult;
  earlyStopping?: { monitor: Monitor; patience: number; minDelta?: number };
  /**
   * Keras's ReduceLROnPlateau: when `monitor` has not improved by more than `minDelta` (default
   * 1e-4) for `patience` epochs, multiply the learning rate by `factor` (default 0.1), not below
   * `minLr` (default 0), then wait `cooldown` epochs (default 0) before counting again.
   */
  reduceLrOnPlateau?: { monitor: Monitor; patience: number; factor?: number; minDelta?: number; minLr?: number; cooldown?: number };
  /** Polled every step (e.g. set by a SIGINT handler). */
  shouldStop?: () => boolean;
  /**
   * Throw DivergenceError when the mean training loss so far in an epoch passes this multiple of
   * a reference (default 100; Infinity turns the check off). For a cross-entropy loss the
   * reference is ln(classes), the loss of a guess at chance, which is where a fresh classifier
   * starts and above where a resumed one does. Other losses have no chance level, so the reference
   * is the first loss this fit() reads (a snapshot, or the first epoch's mean), where training
   * starts. Checked on the snapshots the trainer already reads asynchronously and on each epoch's totals.
   */
  divergenceFactor?: number;
  evalBatchSize?: number;
  /**
   * Leave out the short last batch of each epoch (and of validation) when the sample count is not
   * a multiple of batchSize. Default false: it is trained as a batch of its own size (the loss is
   * the mean over its rows and batch norm takes its statistics over them, as in PyTorch).
   */
  dropRemainder?: boolean;
}

/** What an epoch callback watches; accuracy counts as improving when it grows. */
export type Monitor = 'valLoss' | 'valAccuracy' | 'trainLoss';

/** The monitored value of an epoch, signed so that lower is better. */
function monitoredValue(result: EpochResult, monitor: Monitor, by: string): number {
  const value = monitor === 'trainLoss' ? result.trainLoss : monitor === 'valLoss' ? result.valLoss : result.valAccuracy === undefined ? undefined : -result.valAccuracy;
  if (value === undefined || Number.isNaN(value)) throw new Error(`${by} monitors ${monitor}, which ${monitor === 'trainLoss' ? 'this task does not report' : 'needs validation data (validationIndices) and a task that reports it'}`);
  return value;
}

export interface FitResult {
  history: EpochResult[];
  stoppedBy: 'completed' | 'callback' | 'early-stopping' | 'signal';
  trainer: Trainer;
}

export const DEFAULT_DIVERGENCE_FACTOR = 100;

/** Turns a loss reading into DivergenceError when it is past `factor` × the reference (see FitOptions.divergenceFactor). */
function divergenceCheck(classes: number | undefined, factor: number): (loss: number, when: string) => void {
  const hint = 'lower the learning rate or enable gradient clipping (--clip-norm)';
  if (classes !== undefined) {
    const chance = Math.log(Math.max(2, classes));
    const limit = factor * chance;
    return (loss, when) => {
      if (loss > limit) throw new DivergenceError(`the training loss diverged: ${loss.toPrecision(4)} ${when}, more than ${factor}× the chance-level loss ln(${classes}) = ${chance.toFixed(3)}; ${hint}`);
    };
  }
  let first: number | undefined;
  return (loss, when) => {
    first ??= loss;
    if (first > 0 && loss > factor * first) throw new DivergenceError(`the training loss diverged: ${loss.toPrecision(4)} ${when}, more than ${factor}× the first loss read, ${first.toPrecision(4)}; ${hint}`);
  };
}

/** Steps in an epoch: a short last batch counts unless it is dropped. */
export function stepsPerEpoch(trainCount: number, batchSize: number, dropRemainder = false): number {
  return dropRemainder ? Math.floor(trainCount / batchSize) : Math.ceil(trainCount / batchSize);
}

export async function fit(gpu: Gpu, model: Model, state: ModelState, data: GpuData, options: FitOptions,
  existing?: Trainer): Promise<FitResult> {
  const { epochs, batchSize, trainIndices } = options;
  const dropRemainder = options.dropRemainder ?? false;
  const perEpoch = stepsPerEpoch(trainIndices.length, batchSize, dropRemainder);
  if (options.scheduleSteps !== undefined && !(Number.isInteger(options.scheduleSteps) && options.scheduleSteps >= 1)) {
    throw new Error(`fit: scheduleSteps must be a positive integer, got ${options.scheduleSteps}`);
  }
  if (perEpoch < 1) throw new Error(`batch size ${batchSize} is larger than the ${trainIndices.length} training samples (and dropRemainder is set)`);
  const remainder = dropRemainder ? 0 : trainIndices.length % batchSize;
  // Kernel variants are picked when the step is compiled, so the timed GEMM and convolution choices
  // (cached per adapter after their first run) must be known before.
  if (!existing) {
    await tuneGemm(gpu);
    await tuneConv(gpu);
  }
  const trainer = existing ?? new Trainer(gpu, model, state, data, new Map(), {
    ...options, stepsPerEpoch: perEpoch, totalSteps: options.scheduleSteps ?? perEpoch * epochs, ...(remainder ? { remainderBatch: remainder } : {}),
  });
  const { loss, inputs, target } = options;
  const evaluator = options.validationIndices?.length
    ? new Evaluator(gpu, model, state, data, options.evalBatchSize ?? 500, options.normalize, { dropRemainder, ...(loss ? { loss } : {}), ...(inputs ? { inputs } : {}), ...(target ? { target } : {}) })
    : undefined;
  const history: EpochResult[] = [];
  let stoppedBy: FitResult['stoppedBy'] = 'completed';
  let best = Infinity;
  let sinceBest = 0;
  const plateau = options.reduceLrOnPlateau;
  if (plateau) {
    const factor = plateau.factor ?? 0.1;
    if (!(factor > 0 && factor < 1)) throw new Error(`reduceLrOnPlateau.factor must be in (0, 1), got ${factor}`);
    if (!(Number.isInteger(plateau.patience) && plateau.patience >= 0)) throw new Error(`reduceLrOnPlateau.patience must be a whole number ≥ 0, got ${plateau.patience}`);
  }
  let plateauBest = Infinity;
  let plateauWait = 0;
  let cooldown = 0;
  const batchEvery = options.batchEvery ?? 20;
  const checkLoss = divergenceCheck(trainer.program.crossEntropy ? trainer.program.classes : undefined, options.divergenceFactor ?? DEFAULT_DIVERGENCE_FACTOR);
  let checked: Snapshot | null = null;
  try {
    for (let epoch = options.initialEpoch ?? 0; epoch < epochs && stoppedBy === 'completed'; epoch++) {
      const order = epochPermutation(trainIndices.length, options.seed, epoch);
      const full = new Uint32Array(batchSize);
      const short = new Uint32Array(remainder);
      const started = performance.now();
      const learningRate = trainer.learningRate();
      trainer.resetTotals();
      for (let s = 0; s < perEpoch; s++) {
        const batch = remainder && s === perEpoch - 1 ? short : full;
        for (let i = 0; i < batch.length; i++) batch[i] = trainIndices[order[s * batchSize + i]!]!;
        await trainer.step(batch);
        const seen = trainer.latest;
        // A non-finite snapshot is the trainer's to report, as NonFiniteLossError.
        if (seen && seen !== checked && seen.nonFinite === 0) { checked = seen; checkLoss(seen.loss, `(mean since its epoch began, read at step ${seen.step})`); }
        if (options.shouldStop?.()) { stoppedBy = 'signal'; break; }
        if (options.onBatchEnd && ((s + 1) % batchEvery === 0 || s + 1 === perEpoch)) {
          const elapsed = (performance.now() - started) / 1000;
          const result = await options.onBatchEnd({ epoch, stepInEpoch: s + 1, stepsPerEpoch: perEpoch, snapshot: trainer.latest, imagesPerSecond: ((s + 1) * batchSize) / elapsed });
          if (result === 'stop') { stoppedBy = 'callback'; break; }
        }
      }
      if (stoppedBy === 'signal') break;
      const totals = await trainer.totals();
      checkLoss(totals.loss, `(mean over epoch ${epoch + 1})`);
      const trainSeconds = (performance.now() - started) / 1000;
      const result: EpochResult = {
        epoch: epoch + 1, trainLoss: totals.loss, trainAccuracy: totals.accuracy, metrics: totals.metrics, seconds: trainSeconds,
        imagesPerSecond: totals.rows / trainSeconds, learningRate,
      };
      if (evaluator && options.validationIndices) {
        const val = await evaluator.evaluate(options.validationIndices);
        result.valLoss = val.loss;
        result.valAccuracy = val.accuracy;
        result.valMetrics = val.metrics;
        result.seconds = (performance.now() - started) / 1000;
      }
      history.push(result);
      if ((await options.onEpochEnd?.(result, trainer)) === 'stop') stoppedBy = 'callback';
      const stop = options.earlyStopping;
      if (stop && stoppedBy === 'completed') {
        const value = monitoredValue(result, stop.monitor, 'early stopping');
        if (value < best - (stop.minDelta ?? 0)) { best = value; sinceBest = 0; }
        else if (++sinceBest >= stop.patience) stoppedBy = 'early-stopping';
      }
      if (plateau) {
        const value = monitoredValue(result, plateau.monitor, 'reduceLrOnPlateau');
        if (cooldown > 0) { cooldown--; plateauWait = 0; }
        if (value < plateauBest - (plateau.minDelta ?? 1e-4)) { plateauBest = value; plateauWait = 0; }
        else if (cooldown === 0 && ++plateauWait >= plateau.patience) {
          const minLr = plateau.minLr ?? 0;
          if (trainer.learningRate() > minLr) trainer.scaleLearningRate(plateau.factor ?? 0.1, minLr);
          plateauWait = 0;
          cooldown = plateau.cooldown ?? 0;
        }
      }
    }
  } finally {
    evaluator?.destroy();
  }
  return { history, stoppedBy, trainer };
}
