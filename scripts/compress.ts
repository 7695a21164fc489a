// Compresses a trained checkpoint two ways and reports MNIST test accuracy for each:
//   - magnitude pruning (global over Dense/Conv2D weights) at each --sparsity, before and after a
//     recovery fine-tune that keeps the pruned weights at zero every step;
//   - post-training int8 quantization (per-output-channel weights, per-row activations), with the
//     weight bytes and inference images/s against the fp32 program (both compiled by the one compiler).
// Any image classifier the checkpoint describes (a zoo network or a drawn graph) is accepted; MNIST
// is resized to its input when that is not 1×28×28.
//   node --import tsx scripts/compress.ts --ckpt runs/cnn-mnist/checkpoint.safetensors
import { Session, modelFromCheckpoint, restoreCheckpoint, range, stepsPerEpoch, type ModelState, applyMasks, keepPrunedAtZero, pruneModelMasks, sparsityOf, linearWeightNames, modelBytes, quantizeModel, accuracyOf, QuantizedState, packedDotSupported, type PruneScope, describeModel, imageClassifierShape, resizeImages } from 'webgrad';
import { loadDataset, fraction, nonNegative, positive, UsageError, runCommand, numberList, readCheckpoint, writeTextAtomic, writableFile, type ParsedArgs } from 'webgrad/node';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const command = {
  name: 'compress',
  summary: 'Prune (with recovery fine-tuning) and int8-quantize a trained checkpoint; print a table and write compress.json.',
  flags: {
    ckpt: { type: 'path', help: 'checkpoint from scripts/train-mnist.ts (required)' },
    sparsity: { type: 'string', default: '0.5,0.75,0.9', help: 'comma-separated target sparsities for pruning' },
    scope: { type: 'enum', choices: ['global', 'layer'], default: 'global', help: 'one magnitude threshold over all weights, or one per layer' },
    'recover-epochs': { type: 'int', default: 1, check: nonNegative, help: 'fine-tuning epochs after pruning (pruned weights stay zero)' },
    'recover-lr': { type: 'float', default: 5e-4, check: positive, help: 'Adam learning rate of the recovery fine-tune' },
    'batch-size': { type: 'int', default: 64, check: positive, help: 'recovery batch size' },
    'eval-batch': { type: 'int', default: 500, check: positive, help: 'inference batch size (fp32 and int8)' },
    repeats: { type: 'int', default: 3, check: positive, help: 'timed passes over the test set per engine (best is reported)' },
    data: { type: 'path', help: 'folder holding the MNIST IDX files (default: as train-mnist)' },
    out: { type: 'path', default: 'compress.json', help: 'where to write the JSON report' },
  },
} as const;

const percent = (v: number) => `${(100 * v).toFixed(2)}%`;

async function main({ flags }: ParsedArgs<typeof command.flags>): Promise<number> {
  if (!flags.ckpt) throw new UsageError('--ckpt is required');
  const sparsities = numberList('sparsity', flags.sparsity, { check: fraction });
  await writableFile('out', flags.out);
  const checkpoint = await readCheckpoint(flags.ckpt);
  const extraDataset = checkpoint.extra.dataset;
  if (extraDataset && extraDataset !== 'mnist' && extraDataset !== 'fashion-mnist') throw new UsageError(`${flags.ckpt} was trained on ${extraDataset}; compress runs on mnist or fashion-mnist`);
  const datasetName = (extraDataset ?? 'mnist') as 'mnist' | 'fashion-mnist';
  const model = modelFromCheckpoint(checkpoint);
  let shape;
  try {
    shape = imageClassifierShape(model);
  } catch (error) {
    throw new UsageError(`${flags.ckpt}: compress evaluates image classifiers on ${datasetName}, and ${(error as Error).message}`);
  }
  const { channels, height, width, classes } = shape;
  const loaded = await loadDataset(datasetName, { ...(flags.data ? { dataDir: flags.data } : {}), log: (m) => console.log(m) });
  const fitted = channels === 1 && height === loaded.train.rows && width === loaded.train.cols;
  const data = fitted ? loaded : { train: resizeImages(loaded.train, { channels, height, width }), test: resizeImages(loaded.test, { channels, height, width }) };
  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const session = await Session.create();
  const { gpu } = session;
  console.log(`adapter: ${gpu.describe()}; dot4I8Packed: ${packedDotSupported(gpu) ? 'yes' : 'no (shift fallback)'}`);
  const normalize = checkpoint.normalize;
  const trainData = session.upload(data.train, classes, `${datasetName}.train`);
  const testData = session.upload(data.test, classes, `${datasetName}.test`);
  const testIndices = range(0, data.test.count);
  const state = session.state(model);
  restoreCheckpoint(checkpoint, state);
  const trained = await state.read();
  const names = linearWeightNames(model);

  const fp32Accuracy = async (s: ModelState): Promise<number> => {
    const evaluator = session.evaluator(model, s, testData, flags['eval-batch'], normalize);
    try {
      return (await evaluator.evaluate(testIndices)).accuracy;
    } finally {
      evaluator.destroy();
    }
  };
  const baseline = await fp32Accuracy(state);
  console.log(`${flags.ckpt}: ${describeModel(checkpoint.model)}, fp32 test accuracy ${percent(baseline)}`);

  // Pruning: the training split minus train-mnist's validation tail (10%), as it was trained on.
  const trainCount = data.train.count - Math.floor(data.train.count * 0.1);
  const batchSize = flags['batch-size'];
  const perEpoch = stepsPerEpoch(trainCount, batchSize);
  const pruning = [];
  for (const sparsity of sparsities) {
    const masks = pruneModelMasks(model, trained, sparsity, flags.scope as PruneScope);
    const pruned = session.state(model, applyMasks(trained, masks));
    const before = await fp32Accuracy(pruned);
    let after = before;
    if (flags['recover-epochs'] > 0) {
      const trainer = session.trainer(model, pruned, trainData, {
        batchSize, seed: 1, optimizer: { kind: 'adam', lr: flags['recover-lr'] }, normalize,
        stepsPerEpoch: perEpoch, totalSteps: perEpoch * flags['recover-epochs'],
      });
      const maskBuffers = keepPrunedAtZero(gpu, trainer, masks);
      await session.fit(model, pruned, trainData, { ...trainer.options, epochs: flags['recover-epochs'], trainIndices: range(0, trainCount) }, trainer);
      after = await fp32Accuracy(pruned);
      trainer.destroy();
      for (const b of maskBuffers) gpu.destroyBuffer(b);
    }
    const measured = sparsityOf(await pruned.read(), names);
    pruned.destroy();
    pruning.push({ sparsity, measuredSparsity: measured, accuracyBefore: before, accuracyAfter: after });
    console.log(`pruned ${percent(sparsity)} (${flags.scope}): ${percent(before)} → ${percent(after)} after ${flags['recover-epochs']} recovery epoch(s); weights ${percent(measured)} zero`);
  }

  // Quantization: accuracy and best-of-N inference throughput, fp32 Evaluator vs int8 program.
  const quantized = quantizeModel(model, trained);
  const bytes = modelBytes(quantized);
  const evaluator = session.evaluator(model, state, testData, flags['eval-batch'], normalize);
  const quantizedState = new QuantizedState(gpu, quantized);
  const int8 = session.evaluator(model, quantizedState, testData, flags['eval-batch'], normalize, { int8: quantizedState.int8 });
  const labels = data.test.labels;
  const timeBest = async (run: () => Promise<unknown>): Promise<number> => {
    await run(); // compiles the programs
    let best = Infinity;
    for (let i = 0; i < flags.repeats; i++) {
      const started = performance.now();
      await run();
      best = Math.min(best, (performance.now() - started) / 1000);
    }
    return data.test.count / best;
  };
  const fp32ImagesPerSecond = await timeBest(() => evaluator.evaluate(testIndices));
  const int8ImagesPerSecond = await timeBest(() => int8.evaluate(testIndices));
  const int8Predictions = (await int8.evaluate(testIndices)).predictions;
  const fp32Predictions = (await evaluator.evaluate(testIndices)).predictions;
  const int8Accuracy = accuracyOf(int8Predictions, labels);
  evaluator.destroy();
  int8.destroy();
  quantizedState.destroy();
  const quantization = {
    fp32Accuracy: baseline, int8Accuracy, agreement: accuracyOf(int8Predictions, fp32Predictions),
    weightBytesF32: bytes.weightsF32, weightBytesInt8: bytes.weightsInt8, modelBytesF32: bytes.f32, modelBytesInt8: bytes.int8,
    fp32ImagesPerSecond, int8ImagesPerSecond, packedDot: packedDotSupported(gpu),
  };

  const rows = [
    ['', 'accuracy', 'after recovery', 'weights', 'images/s'],
    ['fp32', percent(baseline), '', `${bytes.weightsF32} B`, fp32ImagesPerSecond.toFixed(0)],
    ...pruning.map((p) => [`pruned ${percent(p.sparsity)}`, percent(p.accuracyBefore), percent(p.accuracyAfter), `${percent(p.measuredSparsity)} zero`, '']),
    ['int8', percent(int8Accuracy), '', `${bytes.weightsInt8} B`, int8ImagesPerSecond.toFixed(0)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n'));
  console.log(`int8 agrees with fp32 on ${percent(quantization.agreement)} of test images; accuracy change ${(100 * (int8Accuracy - baseline)).toFixed(2)} points`);

  const report = {
    checkpoint: flags.ckpt, model: checkpoint.model, dataset: datasetName, adapter: gpu.describe(), scope: flags.scope,
    recoverEpochs: flags['recover-epochs'], recoverLr: flags['recover-lr'], pruning, quantization,
  };
  mkdirSync(dirname(flags.out), { recursive: true });
  await writeTextAtomic(flags.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${flags.out}`);
  session.destroy();
  return 0;
}

runCommand(command, main);
