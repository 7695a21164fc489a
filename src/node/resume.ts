// Resuming honestly. A checkpoint fixes the run it came from, so with --resume every training flag
// takes the checkpoint's value: one left out is filled in from it (and so reaches the report), one
// given with a different value is an error naming both. --epochs is the one that may change, to
// train further: it must exceed the epochs already done, and the schedule is rebuilt for the new
// total (so a finished cosine run does not go on at learning rate 0).
import type { Checkpoint } from '../io/checkpoint.ts';
import type { Schedule } from '../optim/optim.ts';
import type { TrainerOptions } from '../runtime/runtime.ts';
import { mixedPrecisionRule } from '../compiler/program.ts';
import { fraction, parseDecimal, positive, UsageError } from './args.ts';
import { optimizerName, scheduleConfig } from './optimizer-flags.ts';

/** The training flags of train-mnist that a checkpoint determines, as the flags would read. */
export interface ResumableFlags {
  model: string;
  dataset: string;
  epochs: number;
  'batch-size': number;
  lr: number;
  optimizer: string;
  momentum: number;
  schedule: string;
  'weight-decay': number;
  decay: string;
  l1: number;
  dropout: number | undefined;
  'label-smoothing': number;
  'clip-norm': number | undefined;
  'mixed-precision': boolean;
  'val-split': number;
  'train-limit': number | undefined;
  augment: boolean;
  standardize: boolean;
  seed: number;
}

type Recorded = { [K in keyof ResumableFlags]?: ResumableFlags[K] };

/** The split train-mnist records in a checkpoint's extras (val_split, and train_limit when one was given). */
function recordedSplit(checkpoint: Checkpoint): Recorded {
  const { val_split: valSplit, train_limit: trainLimit } = checkpoint.extra;
  if (valSplit === undefined) return {};
  const split = parseDecimal(valSplit, false);
  const limit = trainLimit === undefined ? undefined : parseDecimal(trainLimit, true);
  if (typeof split !== 'number' || !fraction.test(split)) throw new Error(`${checkpoint.source}: metadata val_split is ${JSON.stringify(valSplit)}, not a number ${fraction.describe}`);
  if (limit !== undefined && (typeof limit !== 'number' || !positive.test(limit))) throw new Error(`${checkpoint.source}: metadata train_limit is ${JSON.stringify(trainLimit)}, not a positive integer`);
  return { 'val-split': split, 'train-limit': limit };
}

/** What the checkpoint's run used, flag by flag; flags it does not record are left out. */
function checkpointFlags(checkpoint: Checkpoint): Recorded {
  const training = checkpoint.training;
  // A drawn model has no zoo name: any --model given conflicts with it.
  const description = checkpoint.model;
  const model = 'zoo' in description ? description.zoo : 'a drawn graph';
  if (!training) return { model };
  const optimizer = training.optimizer!;
  const name = optimizerName(optimizer);
  return {
    model,
    ...(checkpoint.extra.dataset === undefined ? {} : { dataset: checkpoint.extra.dataset }),
    ...recordedSplit(checkpoint),
    epochs: Math.round(training.totalSteps / training.stepsPerEpoch),
    'batch-size': training.batchSize,
    lr: optimizer.lr,
    optimizer: name,
    ...(name === 'momentum' && optimizer.kind === 'sgd' && optimizer.momentum !== undefined ? { momentum: optimizer.momentum } : {}),
    schedule: training.schedule?.kind ?? 'constant',
    'weight-decay': optimizer.weightDecay ?? 0,
    decay: optimizer.decay ?? 'all',
    l1: optimizer.l1 ?? 0,
    dropout: 'zoo' in description ? description.options.dropout : undefined,
    'label-smoothing': training.labelSmoothing ?? 0,
    'clip-norm': training.clipNorm,
    'mixed-precision': mixedPrecisionRule(training.mixedPrecision) !== undefined,
    augment: training.augment !== undefined,
    standardize: !(checkpoint.normalize.mean === 0 && checkpoint.normalize.std === 1),
    seed: training.seed,
  };
}

const shown = (value: unknown) => (value === undefined ? 'unset' : String(value));

/**
 * The flags of a resumed run: the checkpoint's values, with every given flag checked against them.
 * All conflicts are listed in one UsageError, each naming the flag, its value and the checkpoint's.
 */
export function resumedFlags<F extends ResumableFlags>(flags: F, given: ReadonlySet<string>, checkpoint: Checkpoint, source: string): F {
  const { epochs: recordedEpochs, ...recorded } = checkpointFlags(checkpoint);
  const { settled, conflicts } = settleRecordedFlags(flags, given, recorded);
  const done = checkpoint.epoch;
  const epochs = given.has('epochs') ? flags.epochs : recordedEpochs ?? flags.epochs;
  if (epochs <= done) {
    conflicts.push(given.has('epochs')
      ? `--epochs ${epochs}: the checkpoint has already completed ${done} epochs; give more to train further`
      : `the checkpoint has completed all ${done} of its epochs; give --epochs above ${done} to train further`);
  }
  settled.epochs = epochs;
  if (conflicts.length) throw resumeConflicts(source, conflicts);
  return settled as F;
}

/**
 * The flags with every recorded one set to the checkpoint's value; a flag given on the command line
 * with another value is listed as a conflict naming both values.
 */
export function settleRecordedFlags<F extends object>(flags: F, given: ReadonlySet<string>, recorded: Readonly<Record<string, unknown>>): { settled: F; conflicts: string[] } {
  const conflicts: string[] = [];
  const settled = { ...flags } as Record<string, unknown>;
  for (const [key, value] of Object.entries(recorded)) {
    if (given.has(key) && settled[key] !== value) conflicts.push(`--${key} ${shown(settled[key])} differs from the checkpoint's ${shown(value)}`);
    settled[key] = value;
  }
  return { settled: settled as F, conflicts };
}

/** All of a resume's conflicts in one error, with how to go on. */
export function resumeConflicts(source: string, conflicts: string[]): UsageError {
  return new UsageError(`--resume ${source}: ${conflicts.join('; ')}. Leave a conflicting flag out to continue with the checkpoint's value, or start a fresh run`);
}

/**
 * The checkpoint's trainer options for a run of `epochs` epochs: the same ones when the total is
 * unchanged, otherwise with the total steps and the schedule rebuilt for the new total.
 */
export function resumedTrainerOptions(checkpoint: Checkpoint, scheduleName: string, epochs: number): TrainerOptions {
  const training = checkpoint.training!;
  const totalSteps = training.stepsPerEpoch * epochs;
  if (totalSteps === training.totalSteps) return training;
  // Fields the name does not carry (a cosine floor, say) stay as they were.
  const schedule = { ...training.schedule, ...scheduleConfig(scheduleName, epochs) } as Schedule;
  return { ...training, totalSteps, schedule };
}
