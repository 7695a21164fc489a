// Hyperparameter search: train one short run per combination of learning rate, batch size, dropout
// and optimizer on a validation split of the training set (the test set is never touched), then rank.
//   node --import tsx scripts/tune.ts --model mlp --lr 1e-3,3e-3 --batch-size 32,64 --epochs 2 --subset 6000
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Session, pixelStats, takeSamples, ZOO_NAMES, zooModel, ModelState, DivergenceError, NonFiniteLossError, Trainer, destroyDataset, range, uploadDataset, fit, stepsPerEpoch, type Gpu, type GpuDataset, type Normalization } from 'webgrad';
import { fraction, positive, seedRange, UsageError, runCommand, choiceList, numberList, loadTrainingData, OPTIMIZER_NAMES, optimizerConfig, formatTrialTable, gridTrials, randomTrials, rankTrials, trialsCsv, writeTextAtomic, writableFolder, type ParsedArgs, type SearchSpace, type TrialConfig, type TrialResult } from 'webgrad/node';

const command = {
  name: 'tune',
  summary: 'Grid or seeded random search over lr, batch size, dropout and optimizer; ranks the trials by validation accuracy, then loss.',
  flags: {
    model: { type: 'enum', choices: ZOO_NAMES, default: 'mlp', help: 'network from the zoo' },
    dataset: { type: 'string', default: 'mnist', help: 'mnist, fashion-mnist, or folder:PATH (PNG images in one sub-folder per class)' },
    data: { type: 'path', help: 'folder holding the four IDX .gz files (as for train-mnist)' },
    search: { type: 'enum', choices: ['grid', 'random'], default: 'grid', help: 'grid: every combination; random: --trials distinct combinations drawn with --seed' },
    trials: { type: 'int', check: positive, help: 'number of trials for --search random (default: 4)' },
    lr: { type: 'string', default: '1e-3', help: 'candidate learning rates, comma-separated' },
    'batch-size': { type: 'string', default: '64', help: 'candidate batch sizes, comma-separated' },
    dropout: { type: 'string', default: '0', help: 'candidate dropout rates before the classifier, comma-separated' },
    optimizer: { type: 'string', default: 'adam', help: `candidate optimizers, comma-separated (${OPTIMIZER_NAMES.join(', ')})` },
    epochs: { type: 'int', default: 2, check: positive, help: 'epochs per trial' },
    subset: { type: 'int', check: positive, help: 'use only the first N training images (validation included), to keep trials short' },
    'val-split': { type: 'float', default: 0.1, check: fraction, help: 'fraction of the (subset of the) training set held out for validation: the last part' },
    seed: { type: 'int', default: 1, check: seedRange, help: 'seed for the random search, initialization, shuffling and dropout' },
    out: { type: 'path', help: 'folder for tune.json and tune.csv (default runs/tune-<model>)' },
    quiet: { type: 'bool', help: 'print only the ranked table' },
  },
} as const;

interface TrialData { data: GpuDataset; trainIndices: Uint32Array; validationIndices: Uint32Array; normalize: Normalization; classes: number }

async function runTrial(gpu: Gpu, modelName: string, seed: number, epochs: number, setup: TrialData, config: TrialConfig, trial: number): Promise<TrialResult> {
  const model = zooModel(modelName, { classes: setup.classes, dropout: config.dropout });
  const state = new ModelState(gpu, model, model.initialValues(seed));
  const optimizerState = new Map<string, GPUBuffer>();
  const perEpoch = stepsPerEpoch(setup.trainIndices.length, config.batchSize);
  const options = {
    batchSize: config.batchSize, seed, normalize: setup.normalize,
    optimizer: optimizerConfig({ optimizer: config.optimizer, lr: config.lr, momentum: 0.9, 'weight-decay': 0, l1: 0 }),
    stepsPerEpoch: perEpoch, totalSteps: perEpoch * epochs,
  };
  const started = performance.now();
  const trainer = new Trainer(gpu, model, state, setup.data, optimizerState, options);
  try {
    const { history } = await fit(gpu, model, state, setup.data, { ...options, epochs, trainIndices: setup.trainIndices, validationIndices: setup.validationIndices }, trainer);
    const last = history.at(-1)!;
    return {
      trial, config, valAccuracy: last.valAccuracy!, valLoss: last.valLoss!, trainLoss: last.trainLoss, trainAccuracy: last.trainAccuracy,
      epochs: history.length, seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    // A diverging learning rate is a result of the search, not a reason to abandon it.
    if (!(error instanceof DivergenceError)) throw error;
    const failure = error instanceof NonFiniteLossError ? 'loss became NaN/Inf' : 'loss diverged';
    return { trial, config, valAccuracy: NaN, valLoss: NaN, trainLoss: NaN, trainAccuracy: NaN, epochs: 0, seconds: (performance.now() - started) / 1000, failure };
  } finally {
    trainer.destroy();
    for (const buffer of optimizerState.values()) gpu.destroyBuffer(buffer);
    state.destroy();
  }
}

async function main({ flags }: ParsedArgs<typeof command.flags>): Promise<number> {
  const log = (line: string) => { if (!flags.quiet) console.log(line); };
  const space: SearchSpace = {
    lr: numberList('lr', flags.lr, { check: positive }),
    batchSize: numberList('batch-size', flags['batch-size'], { integer: true, check: positive }),
    dropout: numberList('dropout', flags.dropout, { check: fraction }),
    optimizer: choiceList('optimizer', flags.optimizer, OPTIMIZER_NAMES),
  };
  if (flags.search === 'grid' && flags.trials !== undefined) throw new UsageError('--trials: only used with --search random (the grid runs every combination)');
  const combinations = gridTrials(space).length;
  const trials = flags.search === 'grid' ? gridTrials(space) : (() => {
    const count = flags.trials ?? 4;
    if (count > combinations) throw new UsageError(`--trials: ${count} is more than the ${combinations} distinct combinations of the candidate values`);
    return randomTrials(space, count, flags.seed);
  })();
  const out = flags.out ?? join(process.cwd(), 'runs', `tune-${flags.model}`);
  await writableFolder('out', out);

  const loaded = await loadTrainingData(flags.dataset, { ...(flags.data ? { dataDir: flags.data } : {}), seed: flags.seed, log });
  if (flags.subset !== undefined && flags.subset > loaded.train.count) throw new UsageError(`--subset: ${flags.subset} is more than the ${loaded.train.count} training images`);
  const pool = flags.subset === undefined ? loaded.train : takeSamples(loaded.train, range(0, flags.subset));
  const valCount = Math.floor(pool.count * flags['val-split']);
  const trainCount = pool.count - valCount;
  if (valCount === 0) throw new UsageError(`--val-split: ${flags['val-split']} of ${pool.count} images leaves no validation images`);
  const largest = Math.max(...space.batchSize);
  if (largest > trainCount) throw new UsageError(`--batch-size: ${largest} is larger than the ${trainCount} training images`);

  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const { gpu } = await Session.create();
  log(`adapter: ${gpu.describe()}`);
  log(`data: ${loaded.name}: ${trainCount} train / ${valCount} validation images, ${loaded.classNames.length} classes; ${trials.length} trials (${flags.search}) of ${flags.epochs} epochs`);
  const stats = pixelStats(pool.images.subarray(0, trainCount * pool.rows * pool.cols));
  const setup: TrialData = {
    data: uploadDataset(gpu, pool, loaded.classNames.length, `${loaded.name}.tune`),
    trainIndices: range(0, trainCount), validationIndices: range(trainCount, pool.count),
    normalize: { mean: stats.mean / 255, std: stats.std / 255 }, classes: loaded.classNames.length,
  };
  const results: TrialResult[] = [];
  try {
    for (const [i, config] of trials.entries()) {
      const result = await runTrial(gpu, flags.model, flags.seed, flags.epochs, setup, config, i + 1);
      results.push(result);
      log(`trial ${i + 1}/${trials.length} lr ${config.lr} batch ${config.batchSize} dropout ${config.dropout} ${config.optimizer}: ${result.failure ?? `validation accuracy ${(100 * result.valAccuracy).toFixed(2)}% loss ${result.valLoss.toFixed(4)}`} (${result.seconds.toFixed(1)} s)`);
    }
  } finally {
    destroyDataset(gpu, setup.data);
  }

  const ranked = rankTrials(results);
  mkdirSync(out, { recursive: true });
  const json = {
    model: flags.model, dataset: loaded.name, search: flags.search, seed: flags.seed, epochs: flags.epochs,
    trainImages: trainCount, validationImages: valCount, adapter: gpu.adapter, space,
    // A failed trial's NaN metrics come out as null.
    trials: ranked.map((r, i) => ({ rank: i + 1, ...r })),
  };
  await writeTextAtomic(join(out, 'tune.json'), `${JSON.stringify(json, null, 2)}\n`);
  await writeTextAtomic(join(out, 'tune.csv'), trialsCsv(ranked));
  console.log(formatTrialTable(ranked));
  log(`wrote ${join(out, 'tune.json')}, ${join(out, 'tune.csv')}`);
  return 0;
}

runCommand(command, main);
