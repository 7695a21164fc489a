// The main job: train a zoo model on MNIST (or Fashion-MNIST, or a folder of PNGs), validate every
// epoch, evaluate on the test set, and leave a report, pictures and a checkpoint in --out.
//   node --import tsx scripts/train-mnist.ts --help
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Session, unsteadyTuningNote, EpochProgress, formatEpochSummary, formatClassificationReport, formatConfusionMatrix, pixelStats, takeSamples, ZOO_NAMES, zooModel, SCHEDULES, DECAY_GROUPS, Evaluator, ModelState, Trainer, modelFromCheckpoint, restoreCheckpoint, range, uploadDataset, fit, stepsPerEpoch, DEFAULT_DIVERGENCE_FACTOR, type ImageSet, type Checkpoint } from 'webgrad';
import { loadTrainingData, OPTIMIZER_NAMES, optimizerConfig, scheduleConfig, between, fraction, nonNegative, positive, seedRange, UsageError, runCommand, TRAINING_OUTPUT_FLAGS, openEventFile, evaluatePredictions, toReportHistory, writePictures, writeTextAtomic, readCheckpoint, saveCheckpoint, stopAfterStepOnSignal, SIGNAL_EXIT_CODES, resumedFlags, resumedTrainerOptions, writableFolder, writableFile, keepForeignCheckpoint, keptCheckpoint, type ParsedArgs, type RunReport } from 'webgrad/node';

const command = {
  name: 'train-mnist',
  summary: 'Train a model on MNIST-style data on the GPU (or llvmpipe), then evaluate it and write a report and a checkpoint.',
  flags: {
    model: { type: 'enum', choices: ZOO_NAMES, default: 'cnn', help: 'network from the zoo' },
    dataset: { type: 'string', default: 'mnist', help: 'mnist, fashion-mnist, or folder:PATH (PNG images in one sub-folder per class)' },
    data: { type: 'path', help: 'folder holding the four IDX .gz files (default: $WEBGRAD_DATA, ./data/<dataset>, ../shared/data/<dataset>, then download)' },
    epochs: { type: 'int', default: 5, check: positive, help: 'passes over the training set' },
    'batch-size': { type: 'int', default: 64, check: positive, help: 'images per step' },
    lr: { type: 'float', default: 1e-3, check: positive, help: 'learning rate (peak rate for onecycle)' },
    optimizer: { type: 'enum', choices: OPTIMIZER_NAMES, default: 'adam', help: 'sgd, momentum (SGD with Nesterov momentum 0.9), adam or adamw' },
    momentum: { type: 'float', default: 0.9, check: between(0, 0.999), help: 'momentum for --optimizer momentum' },
    schedule: { type: 'enum', choices: SCHEDULES, default: 'cosine', help: 'learning-rate schedule: cosine (decay to 0 over the run), constant, step (×0.1 every third of the epochs), exponential (×0.9 per epoch), onecycle' },
    'weight-decay': { type: 'float', default: 0, check: nonNegative, help: 'L2 penalty (decoupled for adamw)' },
    decay: { type: 'enum', choices: DECAY_GROUPS, default: 'all', help: 'which parameters --weight-decay applies to: all, or matrices (nanoGPT: tensors of 2+ dimensions; no biases or norm weights)' },
    l1: { type: 'float', default: 0, check: nonNegative, help: 'L1 penalty on the weights' },
    dropout: { type: 'float', check: fraction, help: 'dropout rate before the classifier (default: the model\'s own)' },
    'label-smoothing': { type: 'float', default: 0, check: fraction, help: 'label smoothing for the cross-entropy' },
    'clip-norm': { type: 'float', check: positive, help: 'clip gradients to this global L2 norm' },
    'mixed-precision': { type: 'bool', help: 'f16 products in Dense, Conv2D (column passes) and matmul with f32 master weights, and dynamic loss scaling that skips steps whose gradients overflow (GradScaler defaults)' },
    augment: { type: 'bool', help: 'random affine augmentation on the GPU: rotation ±15°, translation ±2 px, scale 0.9–1.1' },
    standardize: { type: 'bool', default: true, help: 'subtract the training mean and divide by its std (--no-standardize: scale to [0,1] only)' },
    'val-split': { type: 'float', default: 0.1, check: fraction, help: 'fraction of the training set held out for validation (the last part, as Keras does)' },
    'train-limit': { type: 'int', check: positive, help: 'use only the first N training images (before the validation split), for quick runs' },
    'test-limit': { type: 'int', check: positive, help: 'evaluate on only the first N test images' },
    seed: { type: 'int', default: 1, check: seedRange, help: 'seed for initialization, shuffling, dropout and augmentation' },
    out: { type: 'path', help: 'folder for the checkpoint, report and pictures (default runs/<model>-<dataset>)' },
    report: { type: 'path', help: 'also write the JSON report here' },
    logdir: { type: 'path', help: 'write TensorBoard event files here' },
    resume: { type: 'path', help: 'continue from this checkpoint: flags left out take its values, a conflicting one is an error, --epochs may grow (the schedule is rebuilt for the new total)' },
    ...TRAINING_OUTPUT_FLAGS,
    'divergence-factor': { type: 'float', default: DEFAULT_DIVERGENCE_FACTOR, check: positive, help: 'stop (exit 1, last good checkpoint kept) when the mean training loss passes this multiple of ln(classes), the loss of a guess at chance' },
  },
} as const;

async function main({ flags: parsed, given }: ParsedArgs<typeof command.flags>): Promise<number> {
  const resumed: Checkpoint | undefined = parsed.resume ? await readCheckpoint(parsed.resume) : undefined;
  if (resumed && !resumed.training) throw new UsageError(`--resume: ${parsed.resume} holds weights only (no training state); it cannot be resumed`);
  // From here on every flag holds the value the run really uses, so the report can quote them.
  const flags = resumed ? resumedFlags(parsed, given, resumed, parsed.resume!) : parsed;
  const log = (line: string) => { if (!flags.quiet) console.log(line); };
  const out = flags.out ?? join(process.cwd(), 'runs', `${flags.model}-${flags.dataset.replace(/[^\w-]+/g, '_')}`);
  const checkpointPath = join(out, 'checkpoint.safetensors');
  keepForeignCheckpoint(checkpointPath, { ...(flags.resume ? { from: flags.resume } : {}), overwrite: flags.overwrite, reuse: `--resume ${checkpointPath} continues it` });
  const hadCheckpoint = existsSync(checkpointPath);
  const cleared = [
    ...(await writableFolder('out', out)),
    ...(flags.report ? await writableFile('report', flags.report) : []),
    ...(flags.logdir ? await writableFolder('logdir', flags.logdir) : []),
  ];
  if (cleared.length) log(`removed temp files left by interrupted writes: ${cleared.join(', ')}`);
  const loaded = await loadTrainingData(flags.dataset, { ...(flags.data ? { dataDir: flags.data } : {}), seed: flags.seed, log: (m) => console.log(m) });
  const limit = (set: ImageSet, n: number | undefined) => (n === undefined || n >= set.count ? set : takeSamples(set, range(0, n)));
  const data = { ...loaded, train: limit(loaded.train, flags['train-limit']), test: limit(loaded.test, flags['test-limit']) };
  const classes = data.classNames.length;
  const valCount = Math.floor(data.train.count * flags['val-split']);
  const trainCount = data.train.count - valCount;
  const batchSize = flags['batch-size'];
  if (batchSize > trainCount) throw new UsageError(`--batch-size: ${batchSize} is larger than the ${trainCount} training images`);
  if (data.test.count === 0) throw new UsageError(`--dataset: ${data.name} (${data.source}) has no test images to evaluate on`);
  const perEpoch = stepsPerEpoch(trainCount, batchSize);
  if (resumed) checkResumedData(resumed, flags.resume!, data.classNames, trainCount, perEpoch);
  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const session = await Session.create();
  const { gpu } = session;
  log(`adapter: ${gpu.describe()}`);
  const tuningNote = unsteadyTuningNote(session.tuning);
  if (tuningNote) log(tuningNote);
  log(`data: ${data.name} from ${data.source}: ${trainCount} train / ${valCount} validation / ${data.test.count} test images, ${classes} classes`);
  const modelDescription = { zoo: flags.model, options: { classes, ...(flags.dropout === undefined ? {} : { dropout: flags.dropout }) } };
  const model = resumed ? modelFromCheckpoint(resumed) : zooModel(modelDescription.zoo, modelDescription.options);
  log(model.summary());

  const stats = pixelStats(data.train.images.subarray(0, trainCount * data.train.rows * data.train.cols));
  const normalize = resumed?.normalize ?? (flags.standardize ? { mean: stats.mean / 255, std: stats.std / 255 } : { mean: 0, std: 1 });
  const trainData = uploadDataset(gpu, data.train, classes, `${data.name}.train`);
  const testData = uploadDataset(gpu, data.test, classes, `${data.name}.test`);
  const state = new ModelState(gpu, model, model.initialValues(flags.seed));
  mkdirSync(out, { recursive: true });
  if (flags.report) mkdirSync(dirname(flags.report), { recursive: true });
  // Which images trained: a resume must take the same ones (src/node/resume.ts reads these back).
  const splitRecord = { dataset: data.name, val_split: String(flags['val-split']), ...(flags['train-limit'] === undefined ? {} : { train_limit: String(flags['train-limit']) }) };
  let savedEpoch: number | null = null;
  const save = async (trainer: Trainer, epoch: number) => {
    await saveCheckpoint(checkpointPath, state, { model: resumed?.model ?? modelDescription, epoch, normalize, classNames: data.classNames, extra: splitRecord }, trainer);
    savedEpoch = epoch;
  };

  const events = flags.logdir ? openEventFile(flags.logdir) : undefined;
  let progress: EpochProgress | undefined;
  const started = performance.now();
  const trainerOptions = resumed ? resumedTrainerOptions(resumed, flags.schedule, flags.epochs) : {
    batchSize, seed: flags.seed, optimizer: optimizerConfig(flags), schedule: scheduleConfig(flags.schedule, flags.epochs), normalize, labelSmoothing: flags['label-smoothing'],
    ...(flags['clip-norm'] === undefined ? {} : { clipNorm: flags['clip-norm'] }),
    ...(flags['mixed-precision'] ? { mixedPrecision: true } : {}),
    ...(flags.augment ? { augment: { maxRotationDegrees: 15, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 } } : {}),
    stepsPerEpoch: perEpoch, totalSteps: perEpoch * flags.epochs,
  };
  const trainer = new Trainer(gpu, model, state, trainData, new Map(), trainerOptions);
  if (resumed) {
    restoreCheckpoint(resumed, state, trainer);
    const rebuilt = trainerOptions === resumed.training ? '' : `; schedule rebuilt for ${flags.epochs} epochs (the checkpoint's run planned ${Math.round(resumed.training!.totalSteps / resumed.training!.stepsPerEpoch)})`;
    log(`resumed from ${flags.resume}: ${resumed.epoch} epochs (${resumed.step} steps) done${rebuilt}`);
  }
  let result: Awaited<ReturnType<typeof fit>>;
  const interrupt = stopAfterStepOnSignal(command.name, 'saving a checkpoint');
  try {
    result = await fit(gpu, model, state, trainData, {
    ...trainerOptions, epochs: flags.epochs, initialEpoch: resumed?.epoch ?? 0,
    trainIndices: range(0, trainCount), validationIndices: range(trainCount, data.train.count),
    batchEvery: 10, divergenceFactor: flags['divergence-factor'],
    shouldStop: () => interrupt.signal !== null,
    onBatchEnd: (b) => {
      if (flags.quiet) return;
      if (b.stepInEpoch <= 10) progress = new EpochProgress({ label: `epoch ${b.epoch + 1}/${flags.epochs}`, totalSteps: b.stepsPerEpoch, sink: process.stdout });
      progress?.update(b.stepInEpoch, b.stepInEpoch * batchSize, b.snapshot?.loss);
    },
    onEpochEnd: async (r, t) => {
      progress?.finish();
      await save(t, r.epoch);
      log(formatEpochSummary({ epoch: r.epoch, epochs: flags.epochs, trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy, ...(r.valLoss === undefined ? {} : { validationLoss: r.valLoss, validationAccuracy: r.valAccuracy! }), seconds: r.seconds, images: perEpoch * batchSize }));
      events?.scalars(r.epoch, [
        { tag: 'train/loss', value: r.trainLoss }, { tag: 'train/accuracy', value: r.trainAccuracy },
        ...(r.valLoss === undefined ? [] : [{ tag: 'val/loss', value: r.valLoss }, { tag: 'val/accuracy', value: r.valAccuracy! }]),
        { tag: 'learning_rate', value: r.learningRate }, { tag: 'images_per_second', value: r.imagesPerSecond },
      ]);
    },
  }, trainer);
  } catch (error) {
    const kept = keptCheckpoint(checkpointPath, { saved: savedEpoch === null ? null : `epoch ${savedEpoch}`, hadCheckpoint, ...(resumed ? { resumedFrom: flags.resume! } : {}) });
    throw new Error(`${(error as Error).message}\n${kept}`);
  } finally {
    interrupt.release();
    events?.close();
  }
  const trainSeconds = (performance.now() - started) / 1000;

  if (result.stoppedBy === 'signal') {
    const completed = (resumed?.epoch ?? 0) + result.history.length;
    await save(trainer, completed);
    console.error(`stopped by ${interrupt.signal} after ${trainer.stepCount} steps; saved ${checkpointPath} (${completed} epochs complete; --resume reruns the interrupted epoch)`);
    return SIGNAL_EXIT_CODES[interrupt.signal!];
  }

  const evaluator = new Evaluator(gpu, model, state, testData, 500, normalize);
  const test = await evaluator.evaluate(range(0, data.test.count));
  const evaluated = evaluatePredictions(data.test.labels, test.predictions, classes);
  const trainImages = result.history.length * perEpoch * batchSize;
  const trainOnlySeconds = result.history.reduce((sum, h) => sum + h.seconds, 0);
  const lossScale = await trainer.lossScale();
  const report: RunReport = {
    dataset: data.name, model: flags.model, epochs: (resumed?.epoch ?? 0) + result.history.length, batchSize, seed: flags.seed,
    optimizer: flags.optimizer, learningRate: flags.lr, schedule: flags.schedule, augment: flags.augment,
    ...(resumed ? { resumedFrom: { checkpoint: flags.resume!, epoch: resumed.epoch } } : {}),
    adapter: gpu.adapter, trainSeconds, imagesPerSecond: trainImages / trainOnlySeconds,
    testAccuracy: test.accuracy, testLoss: test.loss,
    perClass: evaluated.report.perClass.map((c, i) => ({ className: data.classNames[i]!, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support })),
    macroAverage: evaluated.report.macro,
    confusionMatrix: Array.from({ length: classes }, (_, r) => Array.from(evaluated.matrix.counts.subarray(r * classes, (r + 1) * classes))),
    history: toReportHistory(result.history),
    memory: result.trainer.memory,
    stoppedBy: result.stoppedBy,
    ...(lossScale ? { mixedPrecision: { lossScale: lossScale.scale, skippedSteps: lossScale.skippedSteps } } : {}),
  };
  const reportJson = `${JSON.stringify(report, null, 2)}\n`;
  await writeTextAtomic(join(out, 'report.json'), reportJson);
  if (flags.report) await writeTextAtomic(flags.report, reportJson);
  const pictures = await writePictures(out, result.history, evaluated, data.test, test.predictions, data.classNames);

  log('');
  log(formatClassificationReport(evaluated.report, data.classNames));
  log(formatConfusionMatrix(evaluated.matrix, data.classNames));
  log(`wrote ${[checkpointPath, join(out, 'report.json'), ...pictures].join(', ')}`);
  if (lossScale) log(`mixed precision: ${lossScale.skippedSteps} of ${trainer.stepCount} steps skipped (gradients overflowed), loss scale now ${lossScale.scale}`);
  console.log(`test accuracy ${(100 * test.accuracy).toFixed(2)}%  test loss ${test.loss.toFixed(4)}  ${report.imagesPerSecond.toFixed(0)} images/s training  ${trainSeconds.toFixed(1)} s total`);
  return 0;
}

/** The resumed run must see the data its checkpoint trained on: the same classes and epoch length. */
function checkResumedData(checkpoint: Checkpoint, source: string, classNames: string[], trainCount: number, perEpoch: number): void {
  if (checkpoint.classNames && checkpoint.classNames.join('\n') !== classNames.join('\n')) {
    throw new UsageError(`--resume ${source}: the data's classes [${classNames.join(', ')}] are not the checkpoint's [${checkpoint.classNames.join(', ')}]`);
  }
  const expected = checkpoint.training!.stepsPerEpoch;
  if (perEpoch !== expected) {
    throw new UsageError(`--resume ${source}: ${trainCount} training images make ${perEpoch} steps per epoch, the checkpoint's run made ${expected}; give the --train-limit and --val-split it was trained with`);
  }
}

runCommand(command, main);
