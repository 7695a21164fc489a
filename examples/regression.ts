// MSE regression on f32 features read from a CSV file: the features standardised by their
// training means and stds, a small MLP trained with fit(), then the held-out rows' MSE and MAE.
// Without --csv it writes a synthetic CSV (a noisy linear + nonlinear function of four features)
// to a temporary folder and reads that.
//   node --import tsx examples/regression.ts [--quick] [--csv FILE --target COL] [--epochs N]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGpu, Sequential, Dense, ModelState, tensorDataset, fit, fitProgress, Evaluator, range, seededRandom } from 'webgrad';
import { readCsv, runCommand, positive, UsageError } from 'webgrad/node';

const command = {
  name: 'regression',
  summary: 'MSE regression on f32 features from a CSV file (or a synthetic one).',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 800 synthetic rows, 20 epochs' },
    csv: { type: 'path', help: 'a CSV file with a header row (default: a synthetic one)' },
    target: { type: 'string', default: 'y', help: 'the column to predict' },
    epochs: { type: 'int', default: 40, check: positive, help: 'passes over the training rows' },
  },
} as const;

/** y = 2·a − b + sin(3c) + d² + noise, for a, b, c, d uniform in [−1, 1]. */
function syntheticCsv(rows: number): string {
  const random = seededRandom(7);
  const u = () => 2 * random() - 1;
  const lines = ['a,b,c,d,y'];
  for (let i = 0; i < rows; i++) {
    const [a, b, c, d] = [u(), u(), u(), u()];
    lines.push([a, b, c, d, 2 * a - b + Math.sin(3 * c) + d * d + 0.05 * u()].map((v) => v.toFixed(5)).join(','));
  }
  return `${lines.join('\n')}\n`;
}

runCommand(command, async ({ flags }) => {
  if (flags.target !== 'y' && !flags.csv) throw new UsageError('--target names a column of --csv; the synthetic file has target y');
  const path = flags.csv ?? join(mkdtempSync(join(tmpdir(), 'webgrad-regression-')), 'synthetic.csv');
  if (!flags.csv) writeFileSync(path, syntheticCsv(flags.quick ? 800 : 5000));
  const { x, y, featureNames } = await readCsv(path, { target: flags.target });
  const [count, width] = x.shape as [number, number];
  const trainCount = Math.floor(0.8 * count);
  for (let f = 0; f < width; f++) {
    let sum = 0, squares = 0;
    for (let r = 0; r < trainCount; r++) { sum += x.data[r * width + f]!; squares += x.data[r * width + f]! ** 2; }
    const mean = sum / trainCount, std = Math.sqrt(Math.max(squares / trainCount - mean * mean, 1e-12));
    for (let r = 0; r < count; r++) x.data[r * width + f] = (x.data[r * width + f]! - mean) / std;
  }
  console.log(`${path}: ${count} rows, features ${featureNames.join(', ')}, target ${flags.target}`);

  const model = new Sequential([width], [new Dense({ units: 64, activation: 'relu' }), new Dense({ units: 64, activation: 'relu' }), new Dense({ units: 1 })]);
  const gpu = await createGpu();
  const data = tensorDataset(gpu, { x, y }, 'csv');
  const state = new ModelState(gpu, model, model.initialValues(1));
  const epochs = flags.quick ? 20 : flags.epochs;
  const batchSize = 32;
  await fit(gpu, model, state, data, {
    epochs, batchSize, seed: 1, loss: 'mse', optimizer: { kind: 'adam', lr: 3e-3 }, schedule: { kind: 'cosine' },
    trainIndices: range(0, trainCount), ...fitProgress({ epochs, batchSize, sink: process.stdout, batchEvery: 50 }),
  });
  const result = await new Evaluator(gpu, model, state, data, 500, undefined, { loss: 'mse' }).evaluate(range(trainCount, count));
  console.log(`test mae ${result.metrics.mae!.toFixed(4)}`);
  console.log(`test mse ${result.metrics.mse!.toFixed(4)}`);
  return 0;
});
