// Keras-style model.fit: epochs of shuffled batches from a GPU-resident dataset, validation each
// epoch, callbacks (every N batches, every epoch), early stopping, stopping from outside, and
// stopping on divergence (before the epoch's callbacks, so a diverged epoch is never saved).
import type { Gpu } from '../gpu/device.ts';
import { epochPermutation } from '../data/split.ts';
import { DivergenceError, Evaluator, Trainer, type ModelState, type Snapshot, type TrainerOptions } from './runtime.ts';
import type { GpuDataset } from '../compiler/program.ts';
import type { Model } from '../model/model.ts';
import { tuneGemm } from '../kernels/gemm.ts';

export interface EpochResult {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
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
  /** Indices (into the dataset) to train on and to validate on. */
  trainIndices: Uint32Array;
  validationIndices?: Uint32Array;
  /** First epoch to run (0-based), for resuming. */
  initialEpoch?: number;
  onBatchEnd?: (info: BatchInfo) => CallbackResult;
  batchEvery?: number;
  onEpochEnd?: (result: EpochResult, trainer: Trainer) => CallbackResult;
  earlyStopping?: { monitor: 'valLoss' | 'valAccuracy'; patience: number; minDelta?: number };
  /** Polled every step (e.g. set by a SIGINT handler). */
  shouldStop?: () => boolean;
  /**
   * Throw DivergenceError when the mean training loss so far in an epoch passes this multiple of
   * ln(classes), the cross-entropy of a guess at chance, which is where a fresh classifier starts
   * and above where a resumed one does (default 100; Infinity turns the check off). Checked on the
   * snapshots the trainer already reads asynchronously and on each epoch's totals.
   */
  divergenceFactor?: number;
  evalBatchSize?: number;
}

export interface FitResult {
  history: EpochResult[];
  stoppedBy: 'completed' | 'callback' | 'early-stopping' | 'signal';
  trainer: Trainer;
}

export const DEFAULT_DIVERGENCE_FACTOR = 100;

/** Turns a loss reading into DivergenceError when it is past `factor` × ln(classes). */
function divergenceCheck(classes: number, factor: number): (loss: number, when: string) => void {
  const chance = Math.log(Math.max(2, classes));
  const limit = factor * chance;
  return (loss, when) => {
    if (loss > limit) {
      throw new DivergenceError(`the training loss diverged: ${loss.toPrecision(4)} ${when}, more than ${factor}× the chance-level loss ln(${classes}) = ${chance.toFixed(3)}; lower the learning rate or enable gradient clipping (--clip-norm)`);
    }
  };
}

export function stepsPerEpoch(trainCount: number, batchSize: number): number {
  return Math.floor(trainCount / batchSize);
}

export async function fit(gpu: Gpu, model: Model, state: ModelState, data: GpuDataset, options: FitOptions,
  existing?: Trainer): Promise<FitResult> {
  const { epochs, batchSize, trainIndices } = options;
  const perEpoch = stepsPerEpoch(trainIndices.length, batchSize);
  if (perEpoch < 1) throw new Error(`batch size ${batchSize} is larger than the ${trainIndices.length} training samples`);
  // Kernel variants are picked when the step is compiled, so the timed GEMM choice (cached per
  // adapter after its first run) must be known before.
  if (!existing) await tuneGemm(gpu);
  const trainer = existing ?? new Trainer(gpu, model, state, data, new Map(), { ...options, stepsPerEpoch: perEpoch, totalSteps: perEpoch * epochs });
  const evaluator = options.validationIndices?.length
    ? new Evaluator(gpu, model, state, data, options.evalBatchSize ?? 500, options.normalize)
    : undefined;
  const history: EpochResult[] = [];
  let stoppedBy: FitResult['stoppedBy'] = 'completed';
  let best = Infinity;
  let sinceBest = 0;
  const batchEvery = options.batchEvery ?? 20;
  const checkLoss = divergenceCheck(model.outputShape[0]!, options.divergenceFactor ?? DEFAULT_DIVERGENCE_FACTOR);
  let checked: Snapshot | null = null;
  try {
    for (let epoch = options.initialEpoch ?? 0; epoch < epochs && stoppedBy === 'completed'; epoch++) {
      const order = epochPermutation(trainIndices.length, options.seed, epoch);
      const batch = new Uint32Array(batchSize);
      const started = performance.now();
      const learningRate = trainer.learningRate();
      trainer.resetTotals();
      for (let s = 0; s < perEpoch; s++) {
        for (let i = 0; i < batchSize; i++) batch[i] = trainIndices[order[s * batchSize + i]!]!;
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
        epoch: epoch + 1, trainLoss: totals.loss, trainAccuracy: totals.accuracy, seconds: trainSeconds,
        imagesPerSecond: totals.rows / trainSeconds, learningRate,
      };
      if (evaluator && options.validationIndices) {
        const val = await evaluator.evaluate(options.validationIndices);
        result.valLoss = val.loss;
        result.valAccuracy = val.accuracy;
        result.seconds = (performance.now() - started) / 1000;
      }
      history.push(result);
      if ((await options.onEpochEnd?.(result, trainer)) === 'stop') stoppedBy = 'callback';
      const stop = options.earlyStopping;
      if (stop && stoppedBy === 'completed') {
        const value = stop.monitor === 'valLoss' ? result.valLoss : result.valAccuracy === undefined ? undefined : -result.valAccuracy;
        if (value === undefined) throw new Error(`early stopping monitors ${stop.monitor}, which needs a validation split`);
        if (value < best - (stop.minDelta ?? 0)) { best = value; sinceBest = 0; }
        else if (++sinceBest >= stop.patience) stoppedBy = 'early-stopping';
      }
    }
  } finally {
    evaluator?.destroy();
  }
  return { history, stoppedBy, trainer };
}
