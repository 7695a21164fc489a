// Transfer learning with few labels: an MNIST-pretrained model trained on Fashion-MNIST or a PNG
// folder with 1% / 10% of the target's training labels, from scratch vs head only vs everything vs
// head first then everything, each scored on the target's test set.
//   node --import tsx scripts/finetune.ts --model mlp --target fashion-mnist --fractions 0.01,0.1 --epochs 5
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Session, pixelStats, takeSamples, ZOO_NAMES, zooModel, Evaluator, ModelState, Trainer, destroyDataset, range, uploadDataset, fit, stepsPerEpoch, type Gpu, type Checkpoint, type OptimizerConfig, modelFromDescription } from 'webgrad';
import { positive, seedRange, UsageError, runCommand, numberList, loadTrainingData, OPTIMIZER_NAMES, optimizerConfig, classBalancedSubset, planVariants, trainVariant, writeTextAtomic, readCheckpoint, saveCheckpoint, writableFolder, keepForeignCheckpoint, type ParsedArgs, type TrainingData, type VariantResult, withClasses } from 'webgrad/node';

const command = {
  name: 'finetune',
  summary: 'Fine-tune an MNIST-pretrained model on Fashion-MNIST or a PNG folder with a fraction of the labels; compares from scratch, head only, full, and head-then-all.',
  flags: {
    pretrained: { type: 'path', help: 'checkpoint from train-mnist (default: pretrain --model on MNIST for --pretrain-epochs and save it in --out)' },
    model: { type: 'enum', choices: ZOO_NAMES, help: 'network from the zoo (default: the checkpoint\'s, else mlp)' },
    target: { type: 'string', default: 'fashion-mnist', help: 'fashion-mnist or folder:PATH (PNG images in one sub-folder per class; a seeded 20% is the test set)' },
    fractions: { type: 'string', default: '0.01,0.1', help: 'fractions of the target training labels to train on (class-balanced, seeded), comma-separated' },
    epochs: { type: 'int', default: 5, check: positive, help: 'epochs over the labelled subset, per variant' },
    'unfreeze-after': { type: 'int', check: positive, help: 'head-then-all: epochs of head-only training before unfreezing everything (default: half of --epochs)' },
    'body-lr': { type: 'float', default: 0.1, check: positive, help: 'learning-rate multiplier for the pretrained body when it trains (1: same as the head)' },
    'pretrain-epochs': { type: 'int', default: 2, check: positive, help: 'MNIST epochs (batch 64, on all 60,000 training images) when no --pretrained is given' },
    'batch-size': { type: 'int', default: 32, check: positive, help: 'images per step (capped at the subset size)' },
    lr: { type: 'float', default: 1e-3, check: positive, help: 'learning rate' },
    optimizer: { type: 'enum', choices: OPTIMIZER_NAMES, default: 'adam', help: 'sgd, momentum, adam or adamw' },
    seed: { type: 'int', default: 1, check: seedRange, help: 'seed for the subsets, initialization, shuffling and dropout' },
    out: { type: 'path', help: 'folder for finetune.json, finetune.md (and the pretrained checkpoint) (default runs/finetune-<model>-<target>)' },
    overwrite: { type: 'bool', help: 'replace a pretrained-mnist.safetensors already in --out (without it, give it as --pretrained)' },
    quiet: { type: 'bool', help: 'print only the table' },
  },
} as const;

interface Row extends VariantResult { fraction: number; images: number }

/** Trains the zoo model on all of MNIST's training set, saves it, and returns the checkpoint as read back. */
async function pretrainOnMnist(gpu: Gpu, zoo: string, epochs: number, batchSize: number, optimizer: OptimizerConfig, seed: number, path: string, log: (line: string) => void): Promise<{ checkpoint: Checkpoint; testAccuracy: number }> {
  const mnist = await loadTrainingData('mnist', { seed, log });
  const description = { zoo, options: { classes: mnist.classNames.length } };
  const model = zooModel(zoo, description.options);
  const stats = pixelStats(mnist.train.images);
  const normalize = { mean: stats.mean / 255, std: stats.std / 255 };
  const train = uploadDataset(gpu, mnist.train, mnist.classNames.length, 'mnist.train');
  const test = uploadDataset(gpu, mnist.test, mnist.classNames.length, 'mnist.test');
  const state = new ModelState(gpu, model, model.initialValues(seed));
  const perEpoch = stepsPerEpoch(mnist.train.count, batchSize);
  const options = { batchSize, seed, normalize, optimizer, stepsPerEpoch: perEpoch, totalSteps: perEpoch * epochs };
  const moments = new Map<string, GPUBuffer>();
  const trainer = new Trainer(gpu, model, state, train, moments, options);
  const started = performance.now();
  await fit(gpu, model, state, train, { ...options, epochs, trainIndices: range(0, mnist.train.count) }, trainer);
  const evaluator = new Evaluator(gpu, model, state, test, 500, normalize);
  const { accuracy } = await evaluator.evaluate(range(0, mnist.test.count));
  log(`pretrained ${zoo} on MNIST: ${epochs} epochs in ${((performance.now() - started) / 1000).toFixed(1)} s, test accuracy ${(100 * accuracy).toFixed(2)}%; saved ${path}`);
  await saveCheckpoint(path, state, { model: description, epoch: epochs, normalize, classNames: mnist.classNames, extra: { dataset: 'mnist' } });
  evaluator.destroy();
  trainer.destroy();
  for (const buffer of moments.values()) gpu.destroyBuffer(buffer);
  state.destroy();
  destroyDataset(gpu, train);
  destroyDataset(gpu, test);
  return { checkpoint: await readCheckpoint(path), testAccuracy: accuracy };
}

function markdownTable(target: string, rows: readonly Row[]): string {
  const lines = [
    `| target | labels | images | variant | trained params | test accuracy | test loss | seconds |`,
    `| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |`,
    ...rows.map((r) => `| ${target} | ${(100 * r.fraction).toFixed(r.fraction < 0.01 ? 2 : 0)}% | ${r.images} | ${r.variant} | ${r.trainableParameters.join(' → ')} | ${(100 * r.testAccuracy).toFixed(2)}% | ${r.testLoss.toFixed(4)} | ${r.seconds.toFixed(1)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main({ flags }: ParsedArgs<typeof command.flags>): Promise<number> {
  const log = (line: string) => { if (!flags.quiet) console.log(line); };
  const fractions = numberList('fractions', flags.fractions, { check: { describe: 'in (0, 1]', test: (v) => v > 0 && v <= 1 } });
  if (flags.target !== 'fashion-mnist' && !flags.target.startsWith('folder:')) throw new UsageError(`--target: "${flags.target}" is not one of fashion-mnist, folder:PATH`);
  if (flags.epochs < 2) throw new UsageError('--epochs: the head-then-all variant needs at least 2 epochs');
  const unfreezeAfter = flags['unfreeze-after'] ?? Math.floor(flags.epochs / 2);
  if (unfreezeAfter >= flags.epochs) throw new UsageError(`--unfreeze-after: ${unfreezeAfter} must be fewer than the ${flags.epochs} epochs`);
  const given = flags.pretrained ? await readCheckpoint(flags.pretrained) : undefined;
  const givenZoo = given && 'zoo' in given.model ? given.model.zoo : undefined;
  if (given && flags.model && flags.model !== givenZoo) throw new UsageError(`--model: ${flags.model} differs from the checkpoint's model ${givenZoo ?? '(a drawn graph)'}`);
  // A drawn model is named "graph" in the output folder.
  const zoo = given ? givenZoo ?? 'graph' : flags.model ?? 'mlp';
  const out = flags.out ?? join(process.cwd(), 'runs', `finetune-${zoo}-${flags.target.replace(/[^\w-]+/g, '_')}`);
  const pretrainPath = join(out, 'pretrained-mnist.safetensors');
  if (!given) keepForeignCheckpoint(pretrainPath, { overwrite: flags.overwrite, reuse: `--pretrained ${pretrainPath} uses it` });
  await writableFolder('out', out);
  const target: TrainingData = await loadTrainingData(flags.target, { seed: flags.seed, log, flag: 'target' });
  const classes = target.classNames.length;

  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const { gpu } = await Session.create();
  log(`adapter: ${gpu.describe()}`);
  mkdirSync(out, { recursive: true });
  const optimizer = optimizerConfig({ optimizer: flags.optimizer, lr: flags.lr, momentum: 0.9, 'weight-decay': 0, l1: 0 });
  const pretrained = given ? { checkpoint: given, testAccuracy: undefined } : await pretrainOnMnist(gpu, zoo, flags['pretrain-epochs'], 64, optimizer, flags.seed, pretrainPath, log);
  const { checkpoint } = pretrained;
  // The body learned features of inputs scaled its way, so every variant (scratch included, for a
  // like-for-like comparison) feeds the target through the pretrained normalization.
  const normalize = checkpoint.normalize;
  const targetModel = withClasses(checkpoint.model, classes);
  const plans = planVariants(modelFromDescription('the target model', targetModel), { epochs: flags.epochs, unfreezeAfter, bodyLrMultiplier: flags['body-lr'] });
  log(`target: ${target.name}: ${target.train.count} train / ${target.test.count} test images, ${classes} classes; ${flags.epochs} epochs per variant (head-then-all unfreezes after ${unfreezeAfter}), body lr ×${flags['body-lr']}`);

  const test = uploadDataset(gpu, target.test, classes, `${target.name}.test`);
  const rows: Row[] = [];
  try {
    for (const fraction of fractions) {
      const subset = takeSamples(target.train, classBalancedSubset(target.train.labels, classes, fraction, flags.seed));
      const train = uploadDataset(gpu, subset, classes, `${target.name}.train×${fraction}`);
      try {
        for (const plan of plans) {
          const { result, state } = await trainVariant(gpu, {
            model: targetModel, pretrained: checkpoint.weights, train, trainIndices: range(0, subset.count), test, testIndices: range(0, target.test.count),
            normalize, batchSize: Math.min(flags['batch-size'], subset.count), optimizer, seed: flags.seed,
          }, plan);
          state.destroy();
          rows.push({ fraction, images: subset.count, ...result });
          log(`${(100 * fraction).toFixed(1)}% (${subset.count} images) ${plan.name}: test accuracy ${(100 * result.testAccuracy).toFixed(2)}% (${result.seconds.toFixed(1)} s)${result.reinitialized.length && plan.fromPretrained ? `; re-initialized ${result.reinitialized.join(', ')}` : ''}`);
        }
      } finally {
        destroyDataset(gpu, train);
      }
    }
  } finally {
    destroyDataset(gpu, test);
  }

  const table = markdownTable(target.name, rows);
  const report = {
    pretrained: { path: flags.pretrained ?? pretrainPath, model: checkpoint.model, epochs: checkpoint.epoch, ...(pretrained.testAccuracy === undefined ? {} : { mnistTestAccuracy: pretrained.testAccuracy }) },
    target: target.name, classes: target.classNames, epochs: flags.epochs, unfreezeAfter, bodyLrMultiplier: flags['body-lr'],
    batchSize: flags['batch-size'], lr: flags.lr, optimizer: flags.optimizer, seed: flags.seed, adapter: gpu.adapter, rows,
  };
  await writeTextAtomic(join(out, 'finetune.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeTextAtomic(join(out, 'finetune.md'), table);
  console.log(table);
  log(`wrote ${join(out, 'finetune.json')}, ${join(out, 'finetune.md')}`);
  return 0;
}

runCommand(command, main);
