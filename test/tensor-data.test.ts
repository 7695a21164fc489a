// Datasets of named tensors end to end: models fed from fields by name, every loss, task metrics
// and short last batches, each against the float64 CPU twin of the step.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../src/gpu/device.ts';
import { input } from '../src/layers/layer.ts';
import { ActivationLayer, BatchNorm, Dense, Flatten, Softmax } from '../src/layers/layers.ts';
import { predict } from '../src/runtime/predict.ts';
import { Embedding } from '../src/layers/tokens.ts';
import { concat, mul, sub } from '../src/layers/ops.ts';
import { Model, Sequential } from '../src/model/model.ts';
import type { ChannelNormalization, LossSpec } from '../src/compiler/program.ts';
import type { OptimizerConfig } from '../src/optim/optim.ts';
import { Evaluator, ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, range, tensorDataset, uploadDataset, type FieldData } from '../src/runtime/dataset.ts';
import { gatherScaledBytesReference } from './reference/gather.ts';
import { fit } from '../src/runtime/fit.ts';
import { epochPermutation } from '../src/data/split.ts';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { rowsOf } from './helpers/cpu-twin.ts';
import { cpuTrainer } from './reference/model.ts';
import { bceWithLogitsRef, huberLossRef, l1LossRef, mseLossRef, regressionMetricsRef, softmaxCrossEntropyRef, type ElementLossRef } from './reference/loss.ts';

const ADAM: OptimizerConfig = { kind: 'adam', lr: 0.01 };
const SGD: OptimizerConfig = { kind: 'sgd', lr: 0.05, momentum: 0.9 };

function classIds(count: number, classes: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length: count }, () => Math.floor(next() * classes));
}

const meanOf = (rowLoss: ArrayLike<number>) => Array.from(rowLoss).reduce((a, b) => a + b, 0) / rowLoss.length;

/** The CPU twin's loss for a built-in loss name on a batch of f32 targets. */
function cpuLoss(loss: Exclude<LossSpec, (...args: never[]) => unknown>, target: Float64Array, rows: number, cols: number): (output: Float64Array) => { loss: number; grad: Float64Array } {
  return (output) => {
    let r: ElementLossRef;
    if (loss === 'mse') r = mseLossRef(output, target, rows, cols);
    else if (loss === 'l1') r = l1LossRef(output, target, rows, cols);
    else if (loss === 'binary-crossentropy') r = bceWithLogitsRef(output, target, rows, cols);
    else if (typeof loss === 'object') r = huberLossRef(output, target, rows, cols, loss.delta);
    else throw new Error(`no CPU loss ${String(loss)}`);
    return { loss: meanOf(r.rowLoss), grad: r.dpredictions };
  };
}

/** fp32 steps against float64 ones: 1e-4 relative to each tensor's scale (see cpu-twin.ts). */
async function expectParamsMatch(state: ModelState, params: ReadonlyMap<string, Float64Array>, what: string): Promise<void> {
  const values = await state.read();
  for (const [name, expected] of params) expect(maxRelativeError(values.get(name)!, expected, 1e-2), `${name} ${what}`).toBeLessThanOrEqual(1e-4);
}

async function trainSteps(gpu: Gpu, model: Model, fields: Record<string, FieldData>, o: { loss?: LossSpec; optimizer: OptimizerConfig; batch: number; steps: number; inputs?: Record<string, string>; normalize?: ChannelNormalization }): Promise<{ state: ModelState; trainer: Trainer }> {
  const data = tensorDataset(gpu, fields, 'twin');
  const state = new ModelState(gpu, model, model.initialValues(5));
  const trainer = new Trainer(gpu, model, state, data, new Map(), {
    batchSize: o.batch, seed: 1, optimizer: o.optimizer, stepsPerEpoch: o.steps, totalSteps: o.steps,
    ...(o.loss ? { loss: o.loss } : {}), ...(o.inputs ? { inputs: o.inputs } : {}), ...(o.normalize ? { normalize: o.normalize } : {}),
  });
  for (let s = 0; s < o.steps; s++) await trainer.step(range(s * o.batch, (s + 1) * o.batch));
  await trainer.totals();
  destroyDataset(gpu, data);
  return { state, trainer };
}

describe('models fed from named fields train like the CPU twin', () => {
  it('a model with two inputs, each read from its own field, and class ids in y', async () => {
    const gpu = await testGpu();
    const [n, batch, steps] = [12, 4, 3];
    const a = input([5], { name: 'a' }), b = input([3], { name: 'b' });
    const model = new Model({ inputs: [a, b], outputs: new Dense({ units: 4 }).apply(concat([new Dense({ units: 6, activation: 'relu' }).apply(a), b])) });
    const fields = {
      a: { data: randomArray(n * 5, 1), shape: [n, 5] }, b: { data: randomArray(n * 3, 2), shape: [n, 3] },
      y: { data: classIds(n, 4, 3), shape: [n] },
    };
    const { state, trainer } = await trainSteps(gpu, model, fields, { optimizer: SGD, batch, steps });
    const cpu = cpuTrainer(model, model.initialValues(5), SGD, 1);
    for (let s = 0; s < steps; s++) {
      const rows = range(s * batch, (s + 1) * batch);
      const labels = Array.from(rows, (i) => fields.y.data[i]!);
      cpu.stepWith([rowsOf(fields.a.data, 5, rows), rowsOf(fields.b.data, 3, rows)], batch, (out) => {
        const r = softmaxCrossEntropyRef(out, batch, 4, { labels });
        return { loss: meanOf(r.rowLoss), grad: r.dlogits };
      });
    }
    await expectParamsMatch(state, cpu.params, `after ${steps} steps`);
    expect(trainer.submits).toBe(steps);
    trainer.destroy(); state.destroy();
  });

  it('u32 token ids in a field feed an Embedding; the target is a field named by `target`', async () => {
    const gpu = await testGpu();
    const [n, batch, steps, tokens, vocab] = [8, 4, 2, 5, 11];
    const ids = input([tokens], { dtype: 'u32' });
    const model = new Model({ inputs: ids, outputs: new Dense({ units: 3 }).apply(new Flatten().apply(new Embedding({ vocab, width: 4 }).apply(ids))) });
    const fields = { x: { data: classIds(n * tokens, vocab, 23), shape: [n, tokens] }, label: { data: classIds(n, 3, 24), shape: [n] } };
    const data = tensorDataset(gpu, fields, 'ids');
    const state = new ModelState(gpu, model, model.initialValues(5));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: SGD, target: 'label', stepsPerEpoch: steps, totalSteps: steps });
    const cpu = cpuTrainer(model, model.initialValues(5), SGD, 1);
    for (let s = 0; s < steps; s++) {
      const rows = range(s * batch, (s + 1) * batch);
      await trainer.step(rows);
      cpu.step(rowsOf(fields.x.data, tokens, rows), Array.from(rows, (i) => fields.label.data[i]!));
    }
    await expectParamsMatch(state, cpu.params, `after ${steps} steps`);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('inputs maps a model input to a field of another name', async () => {
    const gpu = await testGpu();
    const n = 8;
    const model = new Sequential([3], [new Dense({ units: 2 })]);
    const fields = { features: { data: randomArray(n * 3, 4), shape: [n, 3] }, y: { data: classIds(n, 2, 5), shape: [n] } };
    const { state, trainer } = await trainSteps(gpu, model, fields, { optimizer: SGD, batch: 4, steps: 2, inputs: { input: 'features' } });
    const cpu = cpuTrainer(model, model.initialValues(5), SGD, 1);
    for (let s = 0; s < 2; s++) {
      const rows = range(s * 4, (s + 1) * 4);
      cpu.step(rowsOf(fields.features.data, 3, rows), Array.from(rows, (i) => fields.y.data[i]!));
    }
    await expectParamsMatch(state, cpu.params, 'after 2 steps');
    trainer.destroy(); state.destroy();
  });

  const REGRESSION: [string, LossSpec][] = [['mse', 'mse'], ['l1', 'l1'], ['huber', { kind: 'huber', delta: 0.5 }], ['binary-crossentropy', 'binary-crossentropy']];
  it.each(REGRESSION)('f32 features and f32 targets with %s', async (_name, loss) => {
    const gpu = await testGpu();
    const [n, batch, steps, width, outs] = [15, 5, 3, 13, 3];
    const model = new Sequential([width], [new Dense({ units: 8, activation: 'relu' }), new Dense({ units: outs })]);
    const raw = randomArray(n * outs, 7, -2, 2);
    const targets = loss === 'binary-crossentropy' ? Float32Array.from(raw, (v) => (v > 0 ? 1 : 0)) : raw;
    const fields = { x: { data: randomArray(n * width, 6), shape: [n, width] }, y: { data: targets, shape: [n, outs] } };
    const { state, trainer } = await trainSteps(gpu, model, fields, { loss, optimizer: ADAM, batch, steps });
    const cpu = cpuTrainer(model, model.initialValues(5), ADAM, 1);
    for (let s = 0; s < steps; s++) {
      const rows = range(s * batch, (s + 1) * batch);
      cpu.stepWith([rowsOf(fields.x.data, width, rows)], batch, cpuLoss(loss as Exclude<LossSpec, (...args: never[]) => unknown>, rowsOf(targets, outs, rows), batch, outs));
    }
    await expectParamsMatch(state, cpu.params, `after ${steps} steps`);
    trainer.destroy(); state.destroy();
  });

  it('f32 class-probability targets with categorical-crossentropy', async () => {
    const gpu = await testGpu();
    const [n, batch, steps, width, classes] = [12, 4, 3, 7, 5];
    const model = new Sequential([width], [new Dense({ units: 6, activation: 'relu' }), new Dense({ units: classes })]);
    const targets = randomArray(n * classes, 21, 0.05, 1);
    for (let r = 0; r < n; r++) {
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += targets[r * classes + c]!;
      for (let c = 0; c < classes; c++) targets[r * classes + c]! /= sum;
    }
    const fields = { x: { data: randomArray(n * width, 22), shape: [n, width] }, y: { data: targets, shape: [n, classes] } };
    const { state, trainer } = await trainSteps(gpu, model, fields, { loss: 'categorical-crossentropy', optimizer: ADAM, batch, steps });
    const cpu = cpuTrainer(model, model.initialValues(5), ADAM, 1);
    for (let s = 0; s < steps; s++) {
      const rows = range(s * batch, (s + 1) * batch);
      cpu.stepWith([rowsOf(fields.x.data, width, rows)], batch, (out) => {
        const r = softmaxCrossEntropyRef(out, batch, classes, { targets: rowsOf(targets, classes, rows) });
        return { loss: meanOf(r.rowLoss), grad: r.dlogits };
      });
    }
    await expectParamsMatch(state, cpu.params, `after ${steps} steps`);
    expect(Object.keys((await trainer.totals()).metrics)).toEqual(['accuracy']);
    trainer.destroy(); state.destroy();
  });

  it('a loss drawn as tensor ops, (o − t)², trains exactly like mse', async () => {
    const gpu = await testGpu();
    const [n, batch, steps] = [12, 4, 3];
    const model = new Sequential([6], [new Dense({ units: 5, activation: 'tanh' }), new Dense({ units: 2 })]);
    const fields = { x: { data: randomArray(n * 6, 8), shape: [n, 6] }, y: { data: randomArray(n * 2, 9), shape: [n, 2] } };
    const drawn = await trainSteps(gpu, model, fields, { loss: (o, t) => mul(sub(o, t), sub(o, t)), optimizer: ADAM, batch, steps });
    const cpu = cpuTrainer(model, model.initialValues(5), ADAM, 1);
    for (let s = 0; s < steps; s++) {
      const rows = range(s * batch, (s + 1) * batch);
      cpu.stepWith([rowsOf(fields.x.data, 6, rows)], batch, cpuLoss('mse', rowsOf(fields.y.data, 2, rows), batch, 2));
    }
    await expectParamsMatch(drawn.state, cpu.params, `after ${steps} steps`);
    const totals = await drawn.trainer.totals();
    expect(Object.keys(totals.metrics).sort()).toEqual(['mae', 'mse']);
    // The drawn loss's mean over its elements is the mse metric itself.
    expect(maxRelativeError([totals.loss], [totals.metrics.mse!])).toBeLessThan(1e-5);
    const data = tensorDataset(gpu, fields, 'drawn');
    const evaluated = await new Evaluator(gpu, model, drawn.state, data, 5, undefined, { loss: (o, t) => mul(sub(o, t), sub(o, t)) }).evaluate(range(0, n));
    const outputs = await new Evaluator(gpu, model, drawn.state, data, 5).logits(range(0, n));
    expect(maxRelativeError([evaluated.loss], [meanOf(mseLossRef(outputs, fields.y.data, n, 2).rowLoss)])).toBeLessThan(1e-5);
    drawn.trainer.destroy(); drawn.state.destroy(); destroyDataset(gpu, data);
  });
});

describe('u8 data normalized per channel', () => {
  const [n, channels, side, classes, batch, steps] = [8, 3, 5, 4, 4, 2];
  const pixels = channels * side * side;
  const mean = [0.2, 0.5, 0.1], std = [0.3, 0.25, 0.4];
  const bytes = Uint8Array.from(randomArray(n * pixels, 16, 0, 255.99), Math.floor);
  const labels = classIds(n, classes, 17);
  const model = () => new Sequential([channels, side, side], [new Flatten(), new Dense({ units: classes })]);
  const cpuRun = (m: Model) => {
    const cpu = cpuTrainer(m, m.initialValues(5), SGD, 1);
    for (let s = 0; s < steps; s++) {
      const rows = range(s * batch, (s + 1) * batch);
      cpu.step(Float64Array.from(gatherScaledBytesReference(bytes, rows, pixels, mean, std)), Array.from(rows, (i) => labels[i]!));
    }
    return cpu.params;
  };

  it('an image dataset with a mean and std per channel trains like the CPU twin', async () => {
    const gpu = await testGpu();
    const m = model();
    const data = uploadDataset(gpu, { images: bytes, labels, count: n, rows: side, cols: side, channels }, classes, 'rgb');
    const state = new ModelState(gpu, m, m.initialValues(5));
    const trainer = new Trainer(gpu, m, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: SGD, normalize: { mean, std }, stepsPerEpoch: steps, totalSteps: steps });
    for (let s = 0; s < steps; s++) await trainer.step(range(s * batch, (s + 1) * batch));
    await expectParamsMatch(state, cpuRun(m), `after ${steps} steps`);
    expect(() => new Trainer(gpu, m, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: SGD, normalize: { mean: [0, 0], std: [1, 1] }, stepsPerEpoch: 1, totalSteps: 1 }))
      .toThrow(/dataset rgb: normalize gives 2 per-channel values, but its samples are \[3, 5, 5\]/);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('a u8 field of a tensor dataset, the same way', async () => {
    const gpu = await testGpu();
    const m = model();
    const { state, trainer } = await trainSteps(gpu, m, { x: { data: bytes, shape: [n, channels, side, side] }, y: { data: labels, shape: [n] } }, { optimizer: SGD, batch, steps, normalize: { mean, std } });
    await expectParamsMatch(state, cpuRun(m), `after ${steps} steps`);
    trainer.destroy(); state.destroy();
  });
});

describe('task metrics', () => {
  it('regression: mse and mae over every row, a short last batch included', async () => {
    const gpu = await testGpu();
    const [n, outs] = [11, 2];
    const model = new Sequential([4], [new Dense({ units: outs })]);
    const targets = randomArray(n * outs, 11);
    const data = tensorDataset(gpu, { x: { data: randomArray(n * 4, 10), shape: [n, 4] }, y: { data: targets, shape: [n, outs] } }, 'metrics');
    const state = new ModelState(gpu, model, model.initialValues(2));
    const evaluator = new Evaluator(gpu, model, state, data, 4, undefined, { loss: 'l1' });
    const outputs = await evaluator.logits(range(0, n));
    const result = await evaluator.evaluate(range(0, n));
    const perRow = regressionMetricsRef(outputs, targets, n, outs);
    const mse = meanOf(perRow.filter((_, i) => i % 2 === 0)), mae = meanOf(perRow.filter((_, i) => i % 2 === 1));
    expect(result.rows).toBe(n);
    expect(maxRelativeError([result.metrics.mse!, result.metrics.mae!, result.loss], [mse, mae, mae])).toBeLessThan(1e-5);
    expect(result.accuracy).toBeNaN();
    expect(result.predictions.length).toBe(0);
    const dropped = await new Evaluator(gpu, model, state, data, 4, undefined, { loss: 'l1', dropRemainder: true }).evaluate(range(0, n));
    expect(dropped.rows).toBe(8);
    await expect(new Evaluator(gpu, model, state, data, 4).evaluate(range(0, n))).rejects.toThrow(/f32 target and no loss named/);
    evaluator.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('multi-label: accuracy per label (a logit > 0 reads as 1) and their mean', async () => {
    const gpu = await testGpu();
    const [n, labels] = [9, 3];
    const model = new Sequential([4], [new Dense({ units: labels })]);
    const targets = Float32Array.from(randomArray(n * labels, 13), (v) => (v > 0 ? 1 : 0));
    const data = tensorDataset(gpu, { x: { data: randomArray(n * 4, 12), shape: [n, 4] }, y: { data: targets, shape: [n, labels] } }, 'labels');
    const state = new ModelState(gpu, model, model.initialValues(3));
    const evaluator = new Evaluator(gpu, model, state, data, 4, undefined, { loss: 'binary-crossentropy' });
    const outputs = await evaluator.logits(range(0, n));
    const result = await evaluator.evaluate(range(0, n));
    const expected = bceWithLogitsRef(outputs, targets, n, labels);
    for (let c = 0; c < labels; c++) {
      let right = 0;
      for (let r = 0; r < n; r++) right += expected.labelCorrect[r * labels + c]!;
      expect(result.metrics[`accuracy[${c}]`], `label ${c}`).toBeCloseTo(right / n, 6);
    }
    expect(result.accuracy).toBeCloseTo(meanOf(expected.rowCorrect), 6);
    expect(maxRelativeError([result.loss], [meanOf(expected.rowLoss)])).toBeLessThan(1e-5);
    evaluator.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('short last batches', () => {
  it('fit trains the short last batch like PyTorch: mean over its rows, batch norm over its rows', async () => {
    const gpu = await testGpu();
    const [n, batch, width, classes] = [10, 4, 6, 3];
    // No bias before batch norm: its true gradient is zero, and Adam would blow float noise up to full steps.
    const model = new Sequential([width], [new Dense({ units: 5, useBias: false }), new BatchNorm(), new ActivationLayer('relu'), new Dense({ units: classes })]);
    const fields = { x: { data: randomArray(n * width, 14), shape: [n, width] }, y: { data: classIds(n, classes, 15), shape: [n] } };
    const data = tensorDataset(gpu, fields, 'short');
    const state = new ModelState(gpu, model, model.initialValues(5));
    const { trainer, history } = await fit(gpu, model, state, data, { epochs: 1, batchSize: batch, seed: 3, optimizer: ADAM, trainIndices: range(0, n) });
    const cpu = cpuTrainer(model, model.initialValues(5), ADAM, 3);
    const order = epochPermutation(n, 3, 0);
    for (let start = 0; start < n; start += batch) {
      const rows = order.subarray(start, Math.min(n, start + batch));
      cpu.step(rowsOf(fields.x.data, width, rows), Array.from(rows, (i) => fields.y.data[i]!));
    }
    await expectParamsMatch(state, cpu.params, 'after an epoch of 4 + 4 + 2 rows');
    expect(trainer.submits).toBe(3);
    expect(history[0]!.imagesPerSecond).toBeGreaterThan(0);
    expect((await trainer.totals()).rows).toBe(n);
    // The short step was compiled with the trainer: another epoch creates nothing on the device.
    const work = await countDeviceWork(gpu, async () => {
      const order1 = epochPermutation(n, 3, 1);
      for (let start = 0; start < n; start += batch) await trainer.step(order1.subarray(start, Math.min(n, start + batch)));
    });
    expect(work).toEqual({ submits: 3, created: 0 });
    trainer.destroy();
    const dropped = await fit(gpu, model, state, data, { epochs: 1, batchSize: batch, seed: 3, optimizer: ADAM, trainIndices: range(0, n), dropRemainder: true });
    expect(dropped.trainer.submits).toBe(2);
    expect((await dropped.trainer.totals()).rows).toBe(8);
    dropped.trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('the divergence check without a chance level', () => {
  it('compares a regression loss with the first loss the run reads, not with ln(classes)', async () => {
    const gpu = await testGpu();
    const n = 8;
    const model = new Sequential([3], [new Dense({ units: 2 })]);
    const data = tensorDataset(gpu, { x: { data: randomArray(n * 3, 19), shape: [n, 3] }, y: { data: randomArray(n * 2, 20, 5, 9), shape: [n, 2] } }, 'far');
    const state = new ModelState(gpu, model, model.initialValues(1));
    // Any reading is above half of itself, so a factor of ½ must trip on the first one.
    await expect(fit(gpu, model, state, data, { epochs: 1, batchSize: 4, seed: 1, loss: 'mse', optimizer: SGD, trainIndices: range(0, n), divergenceFactor: 0.5 }))
      .rejects.toThrow(/more than 0\.5× the first loss read/);
    const fine = await fit(gpu, model, state, data, { epochs: 2, batchSize: 4, seed: 1, loss: 'mse', optimizer: { kind: 'sgd', lr: 1e-3 }, trainIndices: range(0, n) });
    expect(fine.history.map((h) => Object.keys(h.metrics).sort())).toEqual([['mae', 'mse'], ['mae', 'mse']]);
    fine.trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});

describe('bad data and losses are refused by name', () => {
  it('a field whose length does not fit its shape, and fields of different sample counts', async () => {
    const gpu = await testGpu();
    expect(() => tensorDataset(gpu, { x: { data: new Float32Array(10), shape: [4, 3] } }, 'd')).toThrow(/dataset d: field x holds 10 values, but its shape \[4, 3\] needs 12/);
    expect(() => tensorDataset(gpu, { x: { data: new Float32Array(12), shape: [4, 3] }, y: { data: new Uint32Array(5), shape: [5] } }, 'd')).toThrow(/field y has 5 samples, but field x has 4/);
    expect(() => tensorDataset(gpu, { x: { data: [1, 2] as unknown as Float32Array, shape: [2] } }, 'd')).toThrow(/field x must be a Uint8Array, Float32Array or Uint32Array/);
  });

  const compile = async (fields: Record<string, FieldData>, model: Model, loss?: LossSpec) => {
    const gpu = await testGpu();
    const data = tensorDataset(gpu, fields, 'd');
    const state = new ModelState(gpu, model);
    try {
      new Trainer(gpu, model, state, data, new Map(), { batchSize: 2, seed: 1, optimizer: SGD, stepsPerEpoch: 1, totalSteps: 1, ...(loss ? { loss } : {}) }).destroy();
    } finally {
      state.destroy(); destroyDataset(gpu, data);
    }
  };
  const x = { data: new Float32Array(12), shape: [4, 3] };
  const head = () => new Sequential([3], [new Dense({ units: 2 })]);

  it('a class id outside the head', async () => {
    await expect(compile({ x, y: { data: Uint32Array.from([0, 1, 2, 1]), shape: [4] } }, head())).rejects.toThrow(/field y of dataset d holds class id 2, outside the model's 2 classes/);
  });
  it('a target whose shape does not fit the output', async () => {
    await expect(compile({ x, y: { data: new Float32Array(12), shape: [4, 3] } }, head(), 'mse')).rejects.toThrow(/loss mse: field y of dataset d has samples of \[3\] but the model outputs \[2\]/);
  });
  it('a loss that does not fit the target dtype', async () => {
    await expect(compile({ x, y: { data: new Uint32Array(4), shape: [4] } }, head(), 'mse')).rejects.toThrow(/loss mse needs an f32 target; field y of dataset d is u32/);
    await expect(compile({ x, y: { data: new Float32Array(8), shape: [4, 2] } }, head())).rejects.toThrow(/field y of dataset d is f32; name the loss/);
  });
  it('a missing field and an input that does not fit its field', async () => {
    await expect(compile({ features: x, y: { data: new Uint32Array(4), shape: [4] } }, head())).rejects.toThrow(/dataset d has no field "x" for model input input \(its fields: features, y\)/);
    await expect(compile({ x: { data: new Float32Array(16), shape: [4, 4] }, y: { data: new Uint32Array(4), shape: [4] } }, head())).rejects.toThrow(/model input input \[3\] \(f32\) does not fit field x of dataset d \(f32 samples of \[4\]\)/);
  });
});

describe('predict', () => {
  it('returns every sample\'s outputs from a plain array, batched with a short last batch, and applies a final Softmax', async () => {
    const gpu = await testGpu();
    const [n, width, outs] = [7, 3, 2];
    const dense = new Dense({ units: outs, name: 'head' });
    const plain = new Sequential([width], [dense]);
    const withSoftmax = new Sequential([width], [new Dense({ units: outs, name: 'head' }), new Softmax()]);
    const values = plain.initialValues(4);
    const features = randomArray(n * width, 18);
    const state = new ModelState(gpu, plain, values);
    const got = await predict(gpu, plain, state, { data: features, shape: [n, width] }, { batchSize: 3 });
    const w = values.get('head.weight')!, b = values.get('head.bias')!;
    const expected = new Float64Array(n * outs);
    for (let r = 0; r < n; r++) for (let o = 0; o < outs; o++) {
      expected[r * outs + o] = b[o]!;
      for (let i = 0; i < width; i++) expected[r * outs + o]! += w[o * width + i]! * features[r * width + i]!;
    }
    expect(maxRelativeError(got, expected)).toBeLessThan(1e-5);
    const softState = new ModelState(gpu, withSoftmax, values);
    const probabilities = await predict(gpu, withSoftmax, softState, { x: { data: features, shape: [n, width] } });
    for (let r = 0; r < n; r++) {
      const e = [0, 1].map((o) => Math.exp(expected[r * outs + o]!));
      expect(probabilities[r * outs]).toBeCloseTo(e[0]! / (e[0]! + e[1]!), 5);
    }
    state.destroy(); softState.destroy();
  });
});
