// Train a decoder-only gpt on any UTF-8 text (default: Moby-Dick), character- or byte-level: the last
// part held out, random windows per step, train and validation loss in nats per character at every
// evaluation next to a bigram baseline, and a checkpoint (with the tokenizer) that --resume continues
// exactly. Leaves checkpoint.safetensors, report.json and training-curves.svg in --out.
//   node --import tsx scripts/train-lm.ts --help
import { existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import {
  bigramLoss, ByteTokenizer, DECAY_GROUPS, CharTokenizer, Session, unsteadyTuningNote, DEFAULT_DIVERGENCE_FACTOR, destroyDataset, DivergenceError, EpochProgress, Evaluator, evaluationStarts, gptModel,
  modelFromCheckpoint, ModelState, restoreCheckpoint, splitTokenStream, tokenizerFromDescription, Trainer, trainingStarts, uploadTokens,
  type Checkpoint, type Tokenizer, type TokenSplit, type TrainerOptions,
} from 'webgrad';
import {
  CORPUS_NAMES, keepForeignCheckpoint, keptCheckpoint, LM_RUN_KEY, LM_SCHEDULES, lmRunRecord, lmSchedule, nonNegative, positive, readCheckpoint, readCorpus, recordedLmFlags,
  resumeConflicts, runCommand, TRAINING_OUTPUT_FLAGS, saveCheckpoint, seedRange, settleRecordedFlags, SIGNAL_EXIT_CODES, stopAfterStepOnSignal, UsageError, writableFolder, writeLmReport,
  type Corpus, type LmEvaluation, type LmReport, type LmRunRecord, type ParsedArgs,
} from 'webgrad/node';

const openFraction = { describe: 'in (0, 1)', test: (v: number) => v > 0 && v < 1 };

const command = {
  name: 'train-lm',
  summary: 'Train a gpt language model on a text file on the GPU (or llvmpipe); write a checkpoint with its tokenizer, a report and a loss-curve picture.',
  flags: {
    text: { type: 'path', help: 'UTF-8 text file to train on (default: --dataset moby-dick)' },
    dataset: { type: 'enum', choices: CORPUS_NAMES, help: 'a named corpus, found in ./data/text or ../shared/data/text (verified by SHA-256), tiny-shakespeare downloaded if missing' },
    tokenizer: { type: 'enum', choices: ['char', 'byte'], default: 'char', help: 'char: the text\'s distinct characters; byte: its UTF-8 bytes (vocab 256, any file)' },
    'val-fraction': { type: 'float', default: 0.1, check: openFraction, help: 'the last part of the text held out for validation' },
    layers: { type: 'int', default: 2, check: positive, help: 'transformer blocks' },
    heads: { type: 'int', default: 4, check: positive, help: 'attention heads per block' },
    width: { type: 'int', default: 64, check: positive, help: 'embedding width, a multiple of --heads' },
    context: { type: 'int', default: 64, check: positive, help: 'tokens per window' },
    'batch-size': { type: 'int', default: 16, check: positive, help: 'windows per step' },
    steps: { type: 'int', default: 500, check: positive, help: 'training steps in all (nanoGPT\'s max_iters); may grow on --resume' },
    lr: { type: 'float', default: 1e-3, check: positive, help: 'peak learning rate (AdamW)' },
    'min-lr': { type: 'float', default: 1e-4, check: nonNegative, help: 'learning rate at the end of a cosine decay' },
    warmup: { type: 'int', default: 50, check: nonNegative, help: 'linear warm-up steps for --schedule warmup-cosine' },
    schedule: { type: 'enum', choices: LM_SCHEDULES, default: 'warmup-cosine', help: 'learning-rate schedule over --steps' },
    'weight-decay': { type: 'float', default: 0.1, check: nonNegative, help: 'AdamW\'s decoupled weight decay' },
    decay: { type: 'enum', choices: DECAY_GROUPS, default: 'all', help: 'which parameters decay: all, or matrices only (nanoGPT\'s groups: no biases, no LayerNorm)' },
    'tie-weights': { type: 'bool', help: 'lm_head projects onto the token embedding\'s table (one parameter, as nanoGPT)' },
    'clip-norm': { type: 'float', default: 1, check: positive, help: 'clip gradients to this global L2 norm' },
    'mixed-precision': { type: 'bool', help: 'f16 products in every Dense projection with f32 master weights, and dynamic loss scaling that skips steps whose gradients overflow (GradScaler defaults)' },
    seed: { type: 'int', default: 1, check: seedRange, help: 'seed for initialization and for the windows' },
    'eval-every': { type: 'int', default: 100, check: positive, help: 'evaluate (and save a checkpoint) every N steps, and at the end' },
    'eval-batches': { type: 'int', default: 8, check: positive, help: 'batches of fixed windows evaluated in each part' },
    out: { type: 'path', help: 'folder for the checkpoint, report and picture (default runs/lm-<corpus>)' },
    resume: { type: 'path', help: 'continue from this checkpoint: flags left out take its values, a conflicting one is an error, --steps may grow' },
    ...TRAINING_OUTPUT_FLAGS,
    'divergence-factor': { type: 'float', default: DEFAULT_DIVERGENCE_FACTOR, check: positive, help: 'stop (exit 1, last good checkpoint kept) when the training loss passes this multiple of ln(vocab), the loss of a guess at chance' },
  },
} as const;

type Flags = ParsedArgs<typeof command.flags>['flags'];

/** The checkpoint's values for every flag it fixes; --steps must pass the steps it has done. */
function settleResumedFlags(flags: Flags, given: ReadonlySet<string>, checkpoint: Checkpoint, record: LmRunRecord, source: string): Flags {
  const { settled, conflicts } = settleRecordedFlags(flags, given, recordedLmFlags(checkpoint, record));
  const done = checkpoint.step;
  const steps = given.has('steps') ? flags.steps : checkpoint.training!.totalSteps;
  if (steps <= done) {
    conflicts.push(given.has('steps') ? `--steps ${steps}: the checkpoint has already done ${done} steps; give more to train further` : `the checkpoint has done all ${done} of its steps; give --steps above ${done} to train further`);
  }
  if (conflicts.length) throw resumeConflicts(source, conflicts);
  return { ...settled, steps };
}

interface TokenizedText {
  tokenizer: Tokenizer;
  tokens: Uint32Array;
  /** Characters per token in each part, to turn nats per token into nats per character. */
  charactersPerToken: { train: number; validation: number };
}

const characterCount = (bytes: Uint8Array) => [...new TextDecoder().decode(bytes)].length;

/** Char: the text decoded strictly (the checkpoint's vocabulary when resuming). Byte: the bytes as they are. */
function tokenize(corpus: Corpus, kind: string, split: (count: number) => TokenSplit, resumed: Checkpoint | undefined): TokenizedText & { split: TokenSplit } {
  if (corpus.bytes.length === 0) throw new UsageError(`${corpus.path}: the text is empty`);
  if (kind === 'byte') {
    const tokens = Uint32Array.from(corpus.bytes);
    const s = split(tokens.length);
    const perToken = (part: Uint8Array) => characterCount(part) / part.length;
    return { tokenizer: new ByteTokenizer(), tokens, split: s, charactersPerToken: { train: perToken(corpus.bytes.subarray(0, s.trainEnd)), validation: perToken(corpus.bytes.subarray(s.trainEnd)) } };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(corpus.bytes);
  } catch {
    throw new UsageError(`${corpus.path}: not valid UTF-8 text; --tokenizer byte trains on any bytes`);
  }
  const tokenizer = resumed?.tokenizer ? tokenizerFromDescription(resumed.tokenizer) : CharTokenizer.fromCorpus(text);
  const tokens = tokenizer.encode(text);
  return { tokenizer, tokens, split: split(tokens.length), charactersPerToken: { train: 1, validation: 1 } };
}

const IDENTITY = { mean: 0, std: 1 }; // token ids are not normalized; the checkpoint format asks for a value

async function main({ flags: parsed, given }: ParsedArgs<typeof command.flags>): Promise<number> {
  const resumed = parsed.resume ? await readCheckpoint(parsed.resume) : undefined;
  if (resumed && !resumed.training) throw new UsageError(`--resume: ${parsed.resume} holds weights only (no training state); it cannot be resumed`);
  const record = resumed ? lmRunRecord(resumed) : undefined;
  // From here on every flag holds the value the run really uses, so the report can quote them.
  const flags = resumed ? settleResumedFlags(parsed, given, resumed, record!, parsed.resume!) : parsed;
  const log = (line: string) => { if (!flags.quiet) console.log(line); };
  if (flags.width % flags.heads !== 0) throw new UsageError(`--width ${flags.width} must be a multiple of --heads ${flags.heads}`);
  const textPath = flags.text ?? (resumed && flags.dataset === undefined ? record!.path : undefined);
  const corpusName = textPath ? basename(textPath, extname(textPath)) : flags.dataset ?? 'moby-dick';
  const out = flags.out ?? join(process.cwd(), 'runs', `lm-${corpusName.replace(/[^\w-]+/g, '_')}`);
  const checkpointPath = join(out, 'checkpoint.safetensors');
  keepForeignCheckpoint(checkpointPath, { ...(flags.resume ? { from: flags.resume } : {}), overwrite: flags.overwrite, reuse: `--resume ${checkpointPath} continues it` });
  const hadCheckpoint = existsSync(checkpointPath);
  const cleared = await writableFolder('out', out);
  if (cleared.length) log(`removed temp files left by interrupted writes: ${cleared.join(', ')}`);

  const corpus = await readCorpus({ ...(textPath ? { text: textPath } : {}), ...(flags.dataset ? { dataset: flags.dataset } : {}), log: (m) => console.log(m) });
  if (record && corpus.sha256 !== record.sha256) {
    throw new UsageError(`--resume ${flags.resume}: ${corpus.path} (SHA-256 ${corpus.sha256}) is not the text the checkpoint trained on (${record.path}, SHA-256 ${record.sha256})`);
  }
  const splitOrRefuse = (count: number) => {
    try {
      return splitTokenStream(count, flags['val-fraction'], flags.context);
    } catch (error) {
      throw new UsageError(`${corpus.path}: too short: ${(error as Error).message}; use a longer text, a smaller --context or another --val-fraction`);
    }
  };
  const { tokenizer, tokens, split, charactersPerToken } = tokenize(corpus, flags.tokenizer, splitOrRefuse, resumed);
  const unit = flags.tokenizer === 'byte' ? 'byte' : 'char';
  const perCharacter = (loss: number, part: keyof typeof charactersPerToken) => loss / charactersPerToken[part];
  const showLoss = (loss: number, part: keyof typeof charactersPerToken) => (unit === 'byte' ? `${loss.toFixed(4)} nats/byte (${perCharacter(loss, part).toFixed(4)} nats/char)` : `${loss.toFixed(4)} nats/char`);
  const bigram = bigramLoss(tokens, tokenizer.vocab, split.trainEnd);

  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const session = await Session.create();
  const { gpu } = session;
  log(`adapter: ${gpu.describe()}`);
  const tuningNote = unsteadyTuningNote(session.tuning);
  if (tuningNote) log(tuningNote);
  log(`text: ${corpus.source}: ${tokens.length} tokens (${unit}-level, vocab ${tokenizer.vocab}), ${split.trainEnd} to train on, ${tokens.length - split.trainEnd} held out`);
  log(`bigram baseline (add-one counts over the training tokens): val ${showLoss(bigram.validation, 'validation')} — the loss to beat`);
  const sizes = { layers: flags.layers, heads: flags.heads, width: flags.width, context: flags.context };
  const model = resumed ? modelFromCheckpoint(resumed) : gptModel({ vocab: tokenizer.vocab, ...sizes, tieWeights: flags['tie-weights'] });
  log(`gpt ${flags.layers} layers × ${flags.heads} heads × width ${flags.width}, context ${flags.context}: ${model.parameterCount()} parameters`);

  const data = uploadTokens(gpu, tokens, { vocab: tokenizer.vocab, context: flags.context, name: corpusName });
  const state = new ModelState(gpu, model, model.initialValues(flags.seed));
  const batch = flags['batch-size'];
  const trainerOptions: TrainerOptions = resumed ? { ...resumed.training!, totalSteps: flags.steps } : {
    batchSize: batch, seed: flags.seed, optimizer: { kind: 'adamw', lr: flags.lr, weightDecay: flags['weight-decay'], decay: flags.decay }, schedule: lmSchedule(flags),
    clipNorm: flags['clip-norm'], metricsEvery: 10, ...(flags['mixed-precision'] ? { mixedPrecision: true } : {}),
    // One epoch is one pass's worth of training tokens; only the report's epoch count reads it.
    stepsPerEpoch: Math.max(1, Math.floor(split.trainEnd / (batch * flags.context))), totalSteps: flags.steps,
  };
  const trainer = new Trainer(gpu, model, state, data, new Map(), trainerOptions);
  if (resumed) {
    restoreCheckpoint(resumed, state, trainer);
    log(`resumed from ${flags.resume}: ${resumed.step} of ${flags.steps} steps done`);
  }
  const evaluator = new Evaluator(gpu, model, state, data, batch);
  const windows = flags['eval-batches'] * batch;
  const fixed = { train: evaluationStarts(split, 'train', flags.seed, windows), validation: evaluationStarts(split, 'validation', flags.seed, windows) };
  const divergedAbove = flags['divergence-factor'] * Math.log(tokenizer.vocab);
  const checkLoss = (loss: number, when: string) => {
    if (!(loss <= divergedAbove)) throw new DivergenceError(`the training loss diverged: ${loss.toPrecision(4)} ${when}, more than ${flags['divergence-factor']}× the chance-level loss ln(${tokenizer.vocab}); lower --lr`);
  };

  const history: LmEvaluation[] = record ? [...record.history] : [];
  const runRecord = (): LmRunRecord => ({ corpus: corpus.name, path: corpus.path, sha256: corpus.sha256, valFraction: flags['val-fraction'], evalBatches: flags['eval-batches'], ...sizes, tieWeights: flags['tie-weights'], history });
  let savedStep: number | null = null;
  const save = async () => {
    const epoch = Math.floor(trainer.stepCount / trainerOptions.stepsPerEpoch);
    await saveCheckpoint(checkpointPath, state, { epoch, normalize: IDENTITY, tokenizer: tokenizer.describe(), extra: { [LM_RUN_KEY]: JSON.stringify(runRecord()) } }, trainer);
    savedStep = trainer.stepCount;
  };
  const evaluate = async (): Promise<LmEvaluation> => {
    const train = await evaluator.evaluate(fixed.train);
    const validation = await evaluator.evaluate(fixed.validation);
    checkLoss(train.loss, `on the training windows at step ${trainer.stepCount}`);
    return { step: trainer.stepCount, trainLoss: train.loss, trainAccuracy: train.accuracy, valLoss: validation.loss, valAccuracy: validation.accuracy, learningRate: trainer.learningRate(Math.max(0, trainer.stepCount - 1)) };
  };

  mkdirSync(out, { recursive: true });
  const firstStep = trainer.stepCount;
  const tokensPerStep = batch * flags.context;
  const progress = flags.quiet ? undefined : new EpochProgress({ label: 'train', totalSteps: flags.steps, sink: process.stdout, unit: 'tok' });
  let trainMs = 0;
  const interrupt = stopAfterStepOnSignal(command.name, 'saving a checkpoint');
  try {
    while (trainer.stepCount < flags.steps && interrupt.signal === null) {
      const started = performance.now();
      await trainer.step(trainingStarts(split, flags.seed, trainer.stepCount, batch));
      trainMs += performance.now() - started;
      if (trainer.latest) checkLoss(trainer.latest.loss, `at step ${trainer.latest.step}`);
      progress?.update(trainer.stepCount, (trainer.stepCount - firstStep) * tokensPerStep, trainer.latest?.loss);
      if (trainer.stepCount % flags['eval-every'] !== 0 && trainer.stepCount !== flags.steps) continue;
      progress?.finish();
      const e = await evaluate();
      trainer.resetTotals(); // the progress line's loss then covers the steps since this evaluation
      history.push(e);
      await save();
      log(`step ${String(e.step).padStart(String(flags.steps).length)}/${flags.steps}  train ${showLoss(e.trainLoss, 'train')}  val ${showLoss(e.valLoss, 'validation')}  (bigram ${showLoss(bigram.validation, 'validation')})  lr ${e.learningRate.toExponential(2)}`);
    }
    if (interrupt.signal) {
      await trainer.totals(); // throws on a NaN loss, so a diverged state is never saved
      await save();
    }
  } catch (error) {
    const kept = keptCheckpoint(checkpointPath, { saved: savedStep === null ? null : `step ${savedStep}`, hadCheckpoint, ...(resumed ? { resumedFrom: flags.resume! } : {}) });
    throw new Error(`${(error as Error).message}\n${kept}`);
  } finally {
    interrupt.release();
  }
  if (interrupt.signal) {
    console.error(`stopped by ${interrupt.signal} after ${trainer.stepCount} steps; saved ${checkpointPath} (--resume continues from step ${trainer.stepCount})`);
    return SIGNAL_EXIT_CODES[interrupt.signal];
  }

  const final = history.at(-1)!;
  const trainSeconds = trainMs / 1000;
  const tokensPerSecond = ((trainer.stepCount - firstStep) * tokensPerStep) / trainSeconds;
  const lossScale = await trainer.lossScale();
  const report: LmReport = {
    corpus: corpus.name, source: corpus.source, sha256: corpus.sha256, tokenizer: flags.tokenizer, vocab: tokenizer.vocab,
    tokens: { train: split.trainEnd, validation: tokens.length - split.trainEnd }, charactersPerToken: charactersPerToken.validation,
    model: { ...sizes, tieWeights: flags['tie-weights'], parameters: model.parameterCount() },
    steps: trainer.stepCount, batchSize: batch, seed: flags.seed, learningRate: trainerOptions.optimizer!.lr, schedule: trainerOptions.schedule!,
    weightDecay: trainerOptions.optimizer!.weightDecay ?? 0, decay: trainerOptions.optimizer!.decay ?? 'all',
    bigram: { trainLoss: bigram.train, valLoss: bigram.validation },
    final: { ...final, valNatsPerCharacter: perCharacter(final.valLoss, 'validation') },
    history, adapter: gpu.adapter, trainSeconds, tokensPerSecond, memory: trainer.memory,
    ...(resumed ? { resumedFrom: { checkpoint: flags.resume!, step: resumed.step } } : {}),
    ...(lossScale ? { mixedPrecision: { lossScale: lossScale.scale, skippedSteps: lossScale.skippedSteps } } : {}),
  };
  if (lossScale) log(`mixed precision: ${lossScale.skippedSteps} of ${trainer.stepCount} steps skipped (gradients overflowed), loss scale now ${lossScale.scale}`);
  const written = await writeLmReport(out, report);
  log(`wrote ${[checkpointPath, ...written].join(', ')}`);
  trainer.destroy();
  evaluator.destroy();
  state.destroy();
  destroyDataset(gpu, data);
  console.log(`val loss ${perCharacter(final.valLoss, 'validation').toFixed(4)} nats/char (bigram baseline ${perCharacter(bigram.validation, 'validation').toFixed(4)})  train loss ${perCharacter(final.trainLoss, 'train').toFixed(4)}  after ${trainer.stepCount} steps  ${tokensPerSecond.toFixed(0)} tokens/s training  ${trainSeconds.toFixed(1)} s`);
  return 0;
}

runCommand(command, main);
