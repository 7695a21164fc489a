// Time to accuracy, the headline figure: wall time to train a model from scratch until it reaches
// 99.0% on the 10,000 MNIST test images. The clock starts before the device is created and counts
// the dataset upload, GEMM tuning, pipeline compilation and every test evaluation; it stops at the
// first evaluation that reaches the target. Several seeds, mean and spread; PyTorch on the CPU runs
// the same recipe in the same run, each seed right after webgrad's, when a python3 with torch is
// present (bench/time-to-99.py).
//   npx tsx bench/time-to-99.ts [--seeds 1,2,3] [--model fast] [--epochs 2] [--batch-size 128] [--lr 0.006] [--evals-per-epoch 4] [--first-eval 1] [--label-smoothing 0]
//   npx tsx bench/time-to-99.ts --quick      # a smoke run that proves the script works, not a measurement
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createGpu, destroyDataset, Evaluator, fit, ModelState, pixelStats, range, stepsPerEpoch, takeSamples, uploadDataset,
  zooModel, ZOO_NAMES, type ImageSet, type Normalization, type Schedule,
} from 'webgrad';
import { between, loadDataset, numberList, nonNegative, positive, runCommand, type ParsedArgs } from 'webgrad/node';

const SCHEDULE_NAMES = ['onecycle', 'cosine', 'constant'] as const;
/** Evaluation points are whole steps, so "after 1 epoch" may land a fraction of a step early. */
const EPOCH_TOLERANCE = 1e-6;
/** The models bench/time-to-99.py also builds, layer for layer. */
const TWIN_MODELS = ['cnn', 'cnn-bn', 'fast'];

const command = {
  name: 'time-to-99',
  summary: 'Wall time from nothing to a target MNIST test accuracy (default 99.0%), over several seeds; PyTorch CPU alongside when present.',
  flags: {
    seeds: { type: 'string', default: '1,2,3', help: 'comma-separated seeds, one training run each' },
    model: { type: 'enum', choices: ZOO_NAMES, default: 'fast', help: `network from the zoo (PyTorch twin for ${TWIN_MODELS.join(', ')})` },
    epochs: { type: 'float', default: 2, check: positive, help: 'length of the learning-rate schedule, and the most epochs a run may take (fractions end mid-epoch)' },
    'batch-size': { type: 'int', default: 128, check: positive, help: 'images per step' },
    lr: { type: 'float', default: 0.006, check: positive, help: 'Adam learning rate (the peak for onecycle)' },
    schedule: { type: 'enum', choices: SCHEDULE_NAMES, default: 'onecycle', help: 'learning-rate schedule over --epochs' },
    'label-smoothing': { type: 'float', default: 0, check: between(0, 1), help: 'label smoothing for the cross-entropy' },
    target: { type: 'float', default: 0.99, check: between(0, 1), help: 'test accuracy that stops the clock' },
    'evals-per-epoch': { type: 'int', default: 4, check: positive, help: 'test evaluations per epoch (each one counts in the time)' },
    'first-eval': { type: 'float', default: 1, check: nonNegative, help: 'epochs trained before the first test evaluation (0: from the first --evals-per-epoch point)' },
    'train-limit': { type: 'int', check: positive, help: 'train on only the first N training images' },
    'test-limit': { type: 'int', check: positive, help: 'evaluate on only the first N test images' },
    quick: { type: 'bool', help: 'smoke run: 2,048 training and 1,000 test images, one epoch, target 50%, seed 1, written to the temp folder' },
    torch: { type: 'bool', default: true, help: 'also run the PyTorch CPU twin when python3 has torch (--no-torch skips it)' },
    data: { type: 'path', help: 'folder holding the MNIST IDX .gz files (default: the usual lookup)' },
    out: { type: 'path', help: 'where to write the JSON (default bench/results/time-to-99.json)' },
  },
} as const;

type Flags = ParsedArgs<typeof command.flags>['flags'];

interface Recipe {
  model: string; epochs: number; batchSize: number; lr: number; schedule: (typeof SCHEDULE_NAMES)[number]; labelSmoothing: number;
  target: number; evalsPerEpoch: number; firstEval: number; trainImages: number; testImages: number; normalize: Normalization;
}

/** One seed's run; `seconds` is null when the target was not reached within the epochs. */
interface RunResult {
  seed: number; seconds: number | null; epochsTrained: number; bestAccuracy: number; evaluationSeconds: number;
  evaluations: { epochs: number; seconds: number; accuracy: number }[];
}

function scheduleFor(name: Recipe['schedule']): Schedule {
  return name === 'onecycle' ? { kind: 'onecycle' } : name === 'cosine' ? { kind: 'cosine' } : { kind: 'constant' };
}

async function webgradRun(recipe: Recipe, train: ImageSet, test: ImageSet, seed: number, log: (line: string) => void): Promise<RunResult & { adapter: string }> {
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const gpu = await createGpu();
  const trainData = uploadDataset(gpu, train, 10, 'mnist.train');
  const testData = uploadDataset(gpu, test, 10, 'mnist.test');
  const model = zooModel(recipe.model);
  const state = new ModelState(gpu, model, model.initialValues(seed));
  const evaluator = new Evaluator(gpu, model, state, testData, 500, recipe.normalize);
  const evaluations: RunResult['evaluations'] = [];
  let evaluationSeconds = 0;
  let seconds: number | null = null;
  const perEpoch = stepsPerEpoch(train.count, recipe.batchSize);
  try {
    const result = await fit(gpu, model, state, trainData, {
      batchSize: recipe.batchSize, seed, optimizer: { kind: 'adam', lr: recipe.lr }, schedule: scheduleFor(recipe.schedule),
      normalize: recipe.normalize, labelSmoothing: recipe.labelSmoothing, trainIndices: range(0, train.count),
      epochs: Math.ceil(recipe.epochs - EPOCH_TOLERANCE), scheduleSteps: Math.round(perEpoch * recipe.epochs),
      batchEvery: Math.ceil(perEpoch / recipe.evalsPerEpoch),
      onBatchEnd: async (batch) => {
        const epochsDone = batch.epoch + batch.stepInEpoch / batch.stepsPerEpoch;
        if (epochsDone < recipe.firstEval - EPOCH_TOLERANCE) return;
        const evalStart = performance.now();
        const { accuracy } = await evaluator.evaluate(range(0, test.count));
        evaluationSeconds += (performance.now() - evalStart) / 1000;
        const at = { epochs: +epochsDone.toFixed(3), seconds: +elapsed().toFixed(2), accuracy };
        evaluations.push(at);
        log(`  seed ${seed}: ${at.epochs.toFixed(2)} epochs, ${at.seconds.toFixed(1)} s: test accuracy ${(100 * accuracy).toFixed(2)}%`);
        if (accuracy < recipe.target) return epochsDone >= recipe.epochs - EPOCH_TOLERANCE ? 'stop' : undefined;
        seconds = at.seconds;
        return 'stop';
      },
    });
    result.trainer.destroy();
  } finally {
    evaluator.destroy();
    state.destroy();
    destroyDataset(gpu, trainData);
    destroyDataset(gpu, testData);
    gpu.destroy();
  }
  const last = evaluations.at(-1);
  return {
    seed, seconds, epochsTrained: last?.epochs ?? 0, bestAccuracy: Math.max(0, ...evaluations.map((e) => e.accuracy)),
    evaluationSeconds: +evaluationSeconds.toFixed(2), evaluations, adapter: gpu.describe(),
  };
}

/** Mean, sample standard deviation and range of the runs that reached the target. */
function summarize(runs: RunResult[]) {
  const times = runs.map((r) => r.seconds).filter((s): s is number => s !== null);
  const mean = times.reduce((sum, t) => sum + t, 0) / Math.max(1, times.length);
  const std = times.length > 1 ? Math.sqrt(times.reduce((sum, t) => sum + (t - mean) ** 2, 0) / (times.length - 1)) : 0;
  return times.length === 0
    ? { reached: 0, of: runs.length, meanSeconds: null, stdSeconds: null, minSeconds: null, maxSeconds: null }
    : { reached: times.length, of: runs.length, meanSeconds: +mean.toFixed(2), stdSeconds: +std.toFixed(2), minSeconds: Math.min(...times), maxSeconds: Math.max(...times) };
}

function formatSummary(name: string, summary: ReturnType<typeof summarize>, target: number): string {
  if (summary.meanSeconds === null) return `${name}: reached ${(100 * target).toFixed(1)}% in none of ${summary.of} runs`;
  return `${name}: ${summary.meanSeconds.toFixed(1)} s ± ${summary.stdSeconds!.toFixed(1)} (min ${summary.minSeconds!.toFixed(1)}, max ${summary.maxSeconds!.toFixed(1)}) ` +
    `to ${(100 * target).toFixed(1)}%, reached in ${summary.reached} of ${summary.of} runs`;
}

/**
 * The PyTorch CPU twin, fed the same decoded images (raw bytes in a temp folder, so both sides start
 * from memory). Null when no python3 here has torch; Debian's python3-torch lives under
 * /usr/bin/python3, which a pyenv python3 on PATH may hide.
 */
function torchRuns(recipe: Recipe, train: ImageSet, test: ImageSet, seeds: number[]): { version: string; threads: number; runs: RunResult[] } | null {
  const python = ['python3', '/usr/bin/python3'].find((candidate) => {
    try {
      execFileSync(candidate, ['-c', 'import torch'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) return null;
  const folder = mkdtempSync(join(tmpdir(), 'webgrad-time-to-99-'));
  try {
    writeFileSync(join(folder, 'train-images.u8'), train.images);
    writeFileSync(join(folder, 'train-labels.u8'), train.labels);
    writeFileSync(join(folder, 'test-images.u8'), test.images);
    writeFileSync(join(folder, 'test-labels.u8'), test.labels);
    const script = fileURLToPath(new URL('./time-to-99.py', import.meta.url));
    const out = execFileSync(python, [script, folder, JSON.stringify({ ...recipe, seeds })], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    return JSON.parse(out.trim().split('\n').at(-1)!) as { version: string; threads: number; runs: RunResult[] };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function limited(set: ImageSet, limit: number | undefined): ImageSet {
  return limit === undefined || limit >= set.count ? set : takeSamples(set, range(0, limit));
}

async function main({ flags }: { flags: Flags }): Promise<number> {
  const quick = flags.quick === true;
  const seeds = quick ? [1] : numberList('seeds', flags.seeds, { integer: true, check: nonNegative });
  const mnist = await loadDataset('mnist', { ...(flags.data ? { dataDir: flags.data } : {}), log: (m) => console.log(m) });
  const train = limited(mnist.train, quick ? 2048 : flags['train-limit']);
  const test = limited(mnist.test, quick ? 1000 : flags['test-limit']);
  const stats = pixelStats(train.images);
  const recipe: Recipe = {
    model: flags.model, epochs: quick ? 1 : flags.epochs, batchSize: flags['batch-size'], lr: flags.lr, schedule: flags.schedule,
    labelSmoothing: flags['label-smoothing'],
    target: quick ? 0.5 : flags.target, evalsPerEpoch: flags['evals-per-epoch'], firstEval: quick ? 0 : flags['first-eval'], trainImages: train.count, testImages: test.count,
    normalize: { mean: stats.mean / 255, std: stats.std / 255 },
  };
  console.log(`recipe: ${recipe.model}, Adam ${recipe.lr} ${recipe.schedule} over ${recipe.epochs} epochs, batch ${recipe.batchSize}, ` +
    `${train.count} training images, target ${(100 * recipe.target).toFixed(1)}% on ${test.count} test images, ${recipe.evalsPerEpoch} evaluation(s) per epoch from epoch ${recipe.firstEval}`);
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const twinAbsent = !flags.torch ? 'PyTorch: skipped (--no-torch)'
    : !TWIN_MODELS.includes(recipe.model) ? `PyTorch: no twin of ${recipe.model} (only ${TWIN_MODELS.join(', ')})` : null;
  const runs: RunResult[] = [];
  const torchSeeds: RunResult[] = [];
  let torchVersion: { version: string; threads: number } | null = null;
  let torchMissing = twinAbsent !== null;
  let adapter = '';
  for (const seed of seeds) {
    const run = await webgradRun(recipe, train, test, seed, (line) => console.log(line));
    adapter = run.adapter;
    const { adapter: _, ...result } = run;
    runs.push(result);
    // Each seed's PyTorch run follows its webgrad run, so on a machine whose speed drifts (shared
    // cores) both sides of a seed meet much the same conditions.
    if (torchMissing) continue;
    const twin = torchRuns(recipe, train, test, [seed]);
    if (twin === null) torchMissing = true;
    else {
      torchVersion = { version: twin.version, threads: twin.threads };
      torchSeeds.push(...twin.runs);
    }
  }
  const webgrad = summarize(runs);
  console.log(`adapter: ${adapter}`);
  console.log(formatSummary('webgrad', webgrad, recipe.target));

  const torch = torchVersion && { ...torchVersion, runs: torchSeeds, summary: summarize(torchSeeds) };
  if (twinAbsent) console.log(twinAbsent);
  else if (!torch) console.log('PyTorch: no python3 with torch here (apt-get install python3-torch to compare)');
  else console.log(formatSummary(`PyTorch ${torch.version} CPU (${torch.threads} threads)`, torch.summary, recipe.target));

  const outFile = flags.out ?? (quick ? join(tmpdir(), 'webgrad-time-to-99-quick.json') : fileURLToPath(new URL('./results/time-to-99.json', import.meta.url)));
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify({
    date: new Date().toISOString(), command: `npx tsx bench/time-to-99.ts ${process.argv.slice(2).join(' ')}`.trim(),
    adapter, quick, recipe, loadAverageAtEnd: loadavg(), webgrad: { summary: webgrad, runs }, pytorchCpu: torch,
  }, null, 2)}\n`);
  console.log(`wrote ${outFile}`);
  return 0;
}

runCommand(command, main);
