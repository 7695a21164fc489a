// What scripts/train-lm.ts keeps about a run beyond the trainer's own state: the run record stored in
// the checkpoint (metadata extra `lm_run`: the corpus, its SHA-256, the split, the gpt's sizes, the
// evaluation windows and the evaluations so far), the flags a resume takes from it, the schedule the flags name, and the files
// a run leaves (report.json, training-curves.svg).
//
//   lmRunRecord(checkpoint)              → LmRunRecord, checked field by field (errors name the file)
//   recordedLmFlags(checkpoint, record)  → the flags the checkpoint fixes, as the flags would read
//   lmSchedule(flags)                    → the Schedule for --schedule, --warmup, --min-lr
import { join } from 'node:path';
import type { Checkpoint } from '../io/checkpoint.ts';
import type { Schedule } from '../optim/optim.ts';
import type { AdapterSummary } from '../gpu/device.ts';
import { mixedPrecisionRule } from '../compiler/program.ts';
import { boolean, integer, json, list, object, optional, real, required, text, withSource } from '../io/schema.ts';
import { trainingCurvesSvg } from '../report/training-curves.ts';
import { writeTextAtomic } from './training-report.ts';

export const LM_SCHEDULES = ['warmup-cosine', 'cosine', 'constant'] as const;

/** One evaluation: mean next-token losses in nats per token over the fixed windows of each part. */
export interface LmEvaluation {
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  learningRate: number;
}

export interface LmRunRecord {
  /** The corpus name (or the --text file's name), the path it was read from and its SHA-256. */
  corpus: string;
  path: string;
  sha256: string;
  valFraction: number;
  /** Batches of fixed windows per part at each evaluation, so a resumed run's evaluations compare with the earlier ones. */
  evalBatches: number;
  layers: number;
  heads: number;
  width: number;
  context: number;
  /** lm_head shares transformer.wte's table. */
  tieWeights: boolean;
  history: LmEvaluation[];
}

const LOSS = real({ min: 0, max: 1e6 });
const FRACTION = real({ min: 0, max: 1 });
const SIZE = integer(1, 65_536);
const LM_RUN = object({
  corpus: required(text(4096)),
  path: required(text(4096)),
  sha256: required(text(64)),
  valFraction: required(real({ above: 0, below: 1 })),
  evalBatches: required(integer(1, 1_000_000)),
  layers: required(SIZE),
  heads: required(SIZE),
  width: required(SIZE),
  context: required(SIZE),
  tieWeights: required(boolean),
  history: required(list(object({
    step: required(integer(0, 2 ** 32 - 1)),
    trainLoss: required(LOSS),
    trainAccuracy: required(FRACTION),
    valLoss: required(LOSS),
    valAccuracy: required(FRACTION),
    learningRate: required(real({ min: 0, max: 10 })),
  }), { min: 0, max: 100_000 })),
});

export const LM_RUN_KEY = 'lm_run';

/** The run record of a checkpoint train-lm wrote; a missing or malformed one names the file and the field. */
export function lmRunRecord(checkpoint: Checkpoint): LmRunRecord {
  const stored = checkpoint.extra[LM_RUN_KEY];
  if (stored === undefined) throw new Error(`${checkpoint.source}: metadata ${LM_RUN_KEY} is missing; it was not written by train-lm`);
  return withSource(checkpoint.source, () => json(LM_RUN)(stored, LM_RUN_KEY));
}

export interface LmScheduleFlags {
  schedule: string;
  warmup: number;
  'min-lr': number;
}

export function lmSchedule(flags: LmScheduleFlags): Schedule {
  switch (flags.schedule) {
    case 'warmup-cosine': return { kind: 'warmup-cosine', warmupSteps: flags.warmup, minLr: flags['min-lr'] };
    case 'cosine': return { kind: 'cosine', minLr: flags['min-lr'] };
    default: return { kind: 'constant' };
  }
}

/** The flags a train-lm checkpoint fixes, as the flags would read (--steps is settled by the caller). */
export function recordedLmFlags(checkpoint: Checkpoint, record: LmRunRecord): Record<string, unknown> {
  const training = checkpoint.training!;
  const schedule = training.schedule ?? { kind: 'constant' };
  return {
    layers: record.layers, heads: record.heads, width: record.width, context: record.context, 'tie-weights': record.tieWeights,
    'val-fraction': record.valFraction,
    'eval-batches': record.evalBatches,
    tokenizer: checkpoint.tokenizer?.kind,
    'batch-size': training.batchSize,
    lr: training.optimizer!.lr,
    'weight-decay': training.optimizer!.weightDecay ?? 0,
    decay: training.optimizer!.decay ?? 'all',
    'clip-norm': training.clipNorm,
    'mixed-precision': mixedPrecisionRule(training.mixedPrecision) !== undefined,
    schedule: schedule.kind,
    ...(schedule.kind === 'warmup-cosine' ? { warmup: schedule.warmupSteps } : {}),
    ...(schedule.kind === 'warmup-cosine' || schedule.kind === 'cosine' ? { 'min-lr': schedule.minLr ?? 0 } : {}),
    seed: training.seed,
  };
}

export interface LmReport {
  corpus: string;
  source: string;
  sha256: string;
  tokenizer: 'char' | 'byte';
  vocab: number;
  tokens: { train: number; validation: number };
  /** Characters per token in the held-out part: 1 for the char tokenizer, characters / bytes for bytes. */
  charactersPerToken: number;
  model: { layers: number; heads: number; width: number; context: number; tieWeights: boolean; parameters: number };
  steps: number;
  batchSize: number;
  seed: number;
  learningRate: number;
  schedule: Schedule;
  weightDecay: number;
  decay: 'all' | 'matrices';
  /** Add-one bigram counts over the training tokens: the loss to beat, nats per token. */
  bigram: { trainLoss: number; valLoss: number };
  final: LmEvaluation & { valNatsPerCharacter: number };
  history: LmEvaluation[];
  adapter: AdapterSummary;
  trainSeconds: number;
  tokensPerSecond: number;
  memory: { parameterBytes: number; optimizerBytes: number; activationBytes: number; peakBytes: number };
  resumedFrom?: { checkpoint: string; step: number };
  /** With --mixed-precision: the loss scale at the end and the steps skipped over the whole run. */
  mixedPrecision?: { lossScale: number; skippedSteps: number };
  /** A few lines of text sampled from the trained model: left for the generator (scripts/generate.ts) to fill. */
  samples?: string[];
}

/** report.json and training-curves.svg (losses, with the bigram's as a level line, and next-token accuracy per evaluation) in `out`; returns the paths. */
export async function writeLmReport(out: string, report: LmReport): Promise<string[]> {
  const reportPath = join(out, 'report.json');
  const curvesPath = join(out, 'training-curves.svg');
  await writeTextAtomic(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  const curves = report.history.map((h) => ({ epoch: h.step, trainLoss: h.trainLoss, trainAccuracy: h.trainAccuracy, validationLoss: h.valLoss, validationAccuracy: h.valAccuracy }));
  await writeTextAtomic(curvesPath, trainingCurvesSvg(curves, { xLabel: 'step', lossBaseline: { name: 'bigram', loss: report.bigram.valLoss } }));
  return [reportPath, curvesPath];
}
