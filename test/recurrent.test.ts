import { describe, expect, it } from 'vitest';
import { Dense } from '../src/layers/layers.ts';
import { LSTM, SimpleRNN } from '../src/layers/recurrent.ts';
import { Sequential } from '../src/model/model.ts';
import { zooModel } from '../src/model/zoo.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { fit } from '../src/runtime/fit.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import { loadDataset } from '../src/node/datasets.ts';
import type { CellKind } from '../src/kernels/recurrent.ts';
import { lstmCell, recurrentBackwardRef, recurrentForwardRef, rnnCell, type RecurrentParams, type SequenceShape } from './reference/recurrent.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { modelGradients } from './helpers/graph.ts';
import { testGpu } from './helpers/gpu.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function randomParams(s: SequenceShape, seed: number, scale = 0.5): RecurrentParams {
  const rows = (s.cell === 'lstm' ? 4 : 1) * s.hidden;
  return {
    weightIh: randomArray(rows * s.features, seed, -scale, scale),
    weightHh: randomArray(rows * s.hidden, seed + 1, -scale, scale),
    biasIh: randomArray(rows, seed + 2, -scale, scale),
    biasHh: randomArray(rows, seed + 3, -scale, scale),
  };
}

describe('recurrent CPU reference', () => {
  it('LSTM cell follows PyTorch gate order i, f, g, o', () => {
    // Zero weights leave each gate at its bias, so the cell reduces to closed forms per gate.
    const hidden = 2, features = 3;
    const bias = [0.3, -0.2, 1.1, 0.4, -0.7, 0.5, 0.9, -1.3];
    const p = { weightIh: new Float64Array(4 * hidden * features), weightHh: new Float64Array(4 * hidden * hidden), biasIh: bias, biasHh: new Float64Array(8) };
    const c0 = [0.6, -0.25];
    const r = lstmCell(p, [1, 2, 3], [0.5, 0.5], c0);
    for (let j = 0; j < hidden; j++) {
      const i = sigmoid(bias[j]!), f = sigmoid(bias[2 + j]!), g = Math.tanh(bias[4 + j]!), o = sigmoid(bias[6 + j]!);
      const c = f * c0[j]! + i * g;
      expect(r.c[j]).toBeCloseTo(c, 14);
      expect(r.h[j]).toBeCloseTo(o * Math.tanh(c), 14);
    }
  });

  it('RNN cell is tanh(W_ih x + b_ih + W_hh h + b_hh)', () => {
    const p = { weightIh: [1, 2, -1, 0.5], weightHh: [0.25, -0.5, 1, 2], biasIh: [0.1, -0.2], biasHh: [0.3, 0.05] };
    const h = rnnCell(p, [0.2, -0.4], [0.7, -0.1]);
    expect(h[0]).toBeCloseTo(Math.tanh(0.2 - 0.8 + 0.1 + 0.175 + 0.05 + 0.3), 14);
    expect(h[1]).toBeCloseTo(Math.tanh(-0.2 - 0.2 - 0.2 + 0.7 - 0.2 + 0.05), 14);
  });

  it.each<CellKind>(['lstm', 'rnn'])('%s BPTT matches finite differences for every parameter and the input', (cell) => {
    const s: SequenceShape = { cell, batch: 2, steps: 3, features: 3, hidden: 2 };
    const p = randomParams(s, 11, 0.8);
    const x = randomArray(s.batch * s.steps * s.features, 7);
    const weights = randomArray(s.batch * s.steps * s.hidden, 9);
    const grads = recurrentBackwardRef(s, p, x, weights);
    const check = (name: keyof RecurrentParams | 'x', analytic: Float64Array) => {
      const value = name === 'x' ? x : p[name];
      const numeric = numericGradient((v) => recurrentForwardRef(s, name === 'x' ? p : { ...p, [name]: v }, name === 'x' ? v : x), value, weights);
      // Central differences with step 1e-6 on smooth float64 functions: truncation error ~1e-10.
      expect(maxRelativeError(analytic, numeric, 1e-3), `${cell} ${name}`).toBeLessThan(1e-6);
    };
    check('x', grads.dx);
    check('weightIh', grads.dWeightIh);
    check('weightHh', grads.dWeightHh);
    check('biasIh', grads.dBiasIh);
    check('biasHh', grads.dBiasHh);
  });
});

/** Layer output and gradients on the GPU vs the float64 reference, for one recurrent layer. */
async function compareLayer(cell: CellKind, s: Omit<SequenceShape, 'cell'>, returnSequences: boolean, imageInput: boolean, seed: number): Promise<void> {
  const gpu = await testGpu();
  const shape: SequenceShape = { cell, ...s };
  const { batch, steps, features, hidden } = shape;
  const layer = cell === 'lstm' ? new LSTM({ units: hidden, returnSequences }) : new SimpleRNN({ units: hidden, returnSequences });
  const model = new Sequential(imageInput ? [1, steps, features] : [steps, features], [layer]);
  const p = randomParams(shape, seed);
  const name = layer.name;
  const params = new Map([
    [`${name}.weight_ih`, Float32Array.from(p.weightIh)], [`${name}.weight_hh`, Float32Array.from(p.weightHh)],
    [`${name}.bias_ih`, Float32Array.from(p.biasIh)], [`${name}.bias_hh`, Float32Array.from(p.biasHh)],
  ]);
  const x = randomArray(batch * steps * features, seed + 5);
  const outCount = batch * (returnSequences ? steps : 1) * hidden;
  const dy = randomArray(outCount, seed + 6);
  const got = await modelGradients(gpu, model, batch, x, dy, params);

  const all = recurrentForwardRef(shape, p, x);
  const dAll = new Float64Array(all.length);
  const want = new Float64Array(outCount);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < hidden; j++) {
      if (returnSequences) {
        for (let t = 0; t < steps; t++) { const i = (b * steps + t) * hidden + j; want[i] = all[i]!; dAll[i] = dy[i]!; }
      } else {
        const i = (b * steps + steps - 1) * hidden + j;
        want[b * hidden + j] = all[i]!;
        dAll[i] = dy[b * hidden + j]!;
      }
    }
  }
  const ref = recurrentBackwardRef(shape, p, x, dAll);
  const label = `${cell} ${JSON.stringify(s)} sequences=${returnSequences}`;
  // fp32 through T steps of sums over F + H terms of values ≤ 1 in size: relative to a floor of 1
  // the forward stays within 1e-5; gradients sum over T·B rows, so they are judged against their
  // own largest magnitude (a few units for these shapes), at 1e-4.
  expect(maxRelativeError(got.y, want, 1), `${label} y`).toBeLessThan(1e-5);
  const gradFloor = (a: ArrayLike<number>) => Math.max(1, ...Array.from(a, Math.abs));
  const compare = (what: string, actual: Float32Array | undefined, expected: Float64Array) => {
    expect(actual, `${label} ${what}`).toBeDefined();
    expect(maxRelativeError(actual!, expected, gradFloor(expected)), `${label} ${what}`).toBeLessThan(1e-4);
  };
  compare('dx', got.dx, ref.dx);
  compare('dweight_ih', got.grads.get(`${name}.weight_ih`), ref.dWeightIh);
  compare('dweight_hh', got.grads.get(`${name}.weight_hh`), ref.dWeightHh);
  compare('dbias_ih', got.grads.get(`${name}.bias_ih`), ref.dBiasIh);
  compare('dbias_hh', got.grads.get(`${name}.bias_hh`), ref.dBiasHh);
  gpu.check();
}

const SHAPES: Omit<SequenceShape, 'cell'>[] = [
  { batch: 1, steps: 1, features: 1, hidden: 1 },
  { batch: 2, steps: 3, features: 4, hidden: 3 },
  { batch: 3, steps: 7, features: 17, hidden: 5 },
  { batch: 5, steps: 28, features: 28, hidden: 17 },
];

describe('recurrent layers on the GPU vs the float64 reference', () => {
  for (const cell of ['lstm', 'rnn'] as const) {
    for (const returnSequences of [false, true]) {
      it(`${cell}, ${returnSequences ? 'all steps' : 'last step'} out, over many shapes`, async () => {
        for (const [i, s] of SHAPES.entries()) await compareLayer(cell, s, returnSequences, i % 2 === 0, 100 + i);
      });
    }
  }
});

describe('recurrent layers in models', () => {
  it('stacked LSTM (all steps) → LSTM (last step) → Dense matches the composed float64 references', async () => {
    const gpu = await testGpu();
    const batch = 3, steps = 5, features = 4, classes = 2;
    const first = new LSTM({ units: 3, returnSequences: true }), second = new LSTM({ units: 4 }), head = new Dense({ units: classes });
    const model = new Sequential([1, steps, features], [first, second, head]);
    const s1: SequenceShape = { cell: 'lstm', batch, steps, features, hidden: 3 };
    const s2: SequenceShape = { cell: 'lstm', batch, steps, features: 3, hidden: 4 };
    const p1 = randomParams(s1, 21), p2 = randomParams(s2, 31);
    const dense = { weight: randomArray(classes * 4, 41), bias: randomArray(classes, 42) };
    const params = new Map<string, Float32Array>();
    for (const [layer, p] of [[first, p1], [second, p2]] as const) {
      for (const [key, value] of Object.entries({ weight_ih: p.weightIh, weight_hh: p.weightHh, bias_ih: p.biasIh, bias_hh: p.biasHh })) {
        params.set(`${layer.name}.${key}`, Float32Array.from(value));
      }
    }
    params.set(`${head.name}.weight`, dense.weight);
    params.set(`${head.name}.bias`, dense.bias);
    const x = randomArray(batch * steps * features, 51);
    const dy = randomArray(batch * classes, 52);
    const got = await modelGradients(gpu, model, batch, x, dy, params);

    const h1 = recurrentForwardRef(s1, p1, x);
    const h2 = recurrentForwardRef(s2, p2, h1);
    const last = new Float64Array(batch * 4);
    for (let b = 0; b < batch; b++) last.set(h2.subarray((b * steps + steps - 1) * 4, (b * steps + steps) * 4), b * 4);
    const y = new Float64Array(batch * classes), dWeight = new Float64Array(classes * 4), dBias = new Float64Array(classes);
    const dh2 = new Float64Array(h2.length);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < classes; o++) {
        const g = dy[b * classes + o]!;
        let sum = dense.bias[o]!;
        for (let k = 0; k < 4; k++) {
          sum += dense.weight[o * 4 + k]! * last[b * 4 + k]!;
          dWeight[o * 4 + k]! += g * last[b * 4 + k]!;
          dh2[(b * steps + steps - 1) * 4 + k]! += g * dense.weight[o * 4 + k]!;
        }
        y[b * classes + o] = sum;
        dBias[o]! += g;
      }
    }
    const g2 = recurrentBackwardRef(s2, p2, h1, dh2);
    const g1 = recurrentBackwardRef(s1, p1, x, g2.dx);
    // As for single layers: fp32 against float64 through two recurrences, relative to max(1, |largest|).
    const check = (what: string, actual: Float32Array | undefined, expected: Float64Array) => {
      expect(actual, what).toBeDefined();
      expect(maxRelativeError(actual!, expected, Math.max(1, ...Array.from(expected, Math.abs))), what).toBeLessThan(1e-4);
    };
    check('y', got.y, y);
    check('dx', got.dx, g1.dx);
    check('dense weight', got.grads.get(`${head.name}.weight`), dWeight);
    check('dense bias', got.grads.get(`${head.name}.bias`), dBias);
    for (const [layer, g] of [[first, g1], [second, g2]] as const) {
      check(`${layer.name} weight_ih`, got.grads.get(`${layer.name}.weight_ih`), g.dWeightIh);
      check(`${layer.name} weight_hh`, got.grads.get(`${layer.name}.weight_hh`), g.dWeightHh);
      check(`${layer.name} bias_ih`, got.grads.get(`${layer.name}.bias_ih`), g.dBiasIh);
      check(`${layer.name} bias_hh`, got.grads.get(`${layer.name}.bias_hh`), g.dBiasHh);
    }
    gpu.check();
  });

  it('zoo lstm and rnn read a 1×28×28 image as 28 steps; LSTM init follows PyTorch with forget bias 1', () => {
    for (const name of ['lstm', 'rnn'] as const) {
      const model = zooModel(name);
      const gates = name === 'lstm' ? 4 : 1;
      expect(model.parameterSpecs()).toEqual([
        { name: `${name}1.weight_ih`, shape: [gates * 128, 28] }, { name: `${name}1.weight_hh`, shape: [gates * 128, 128] },
        { name: `${name}1.bias_ih`, shape: [gates * 128] }, { name: `${name}1.bias_hh`, shape: [gates * 128] },
        { name: 'fc1.weight', shape: [10, 128] }, { name: 'fc1.bias', shape: [10] },
      ]);
      const values = model.initialValues(3);
      const limit = 1 / Math.sqrt(128);
      for (const key of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']) {
        const v = values.get(`${name}1.${key}`)!;
        const outside = Array.from(v).filter((value, i) => {
          const forget = name === 'lstm' && key.startsWith('bias') && i >= 128 && i < 256;
          return forget ? value !== (key === 'bias_ih' ? 1 : 0) : Math.abs(value) > limit;
        });
        expect(outside, `${name} ${key}`).toEqual([]);
        expect(Math.max(...Array.from(v, Math.abs)), `${name} ${key} is not all zeros`).toBeGreaterThan(limit / 2);
      }
    }
  });

  it('an LSTM learns on 2,000 MNIST images with gradient clipping on (loss goes down)', async () => {
    const gpu = await testGpu();
    const mnist = await loadDataset('mnist');
    const data = uploadDataset(gpu, mnist.train, 10, 'mnist.train');
    const model = new Sequential([1, 28, 28], [new LSTM({ units: 32 }), new Dense({ units: 10 })]);
    const state = new ModelState(gpu, model, model.initialValues(5));
    const normalize = { mean: 0.1307, std: 0.3081 };
    try {
      const result = await fit(gpu, model, state, data, {
        epochs: 3, batchSize: 50, seed: 2, optimizer: { kind: 'adam', lr: 1e-2 }, normalize, clipNorm: 1,
        trainIndices: range(0, 2000), validationIndices: range(0, 500),
      });
      const losses = result.history.map((e) => e.trainLoss);
      console.log(`[recurrent test] LSTM 32 on 2,000 MNIST images: train loss by epoch ${losses.map((l) => l.toFixed(3)).join(', ')}; validation accuracy ${result.history.at(-1)!.valAccuracy!.toFixed(3)}`);
      // Chance level is ln 10 ≈ 2.30; a working LSTM is well below it within three epochs.
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1)!).toBeLessThan(0.8 * losses[0]!);
      expect(result.history.at(-1)!.valAccuracy!).toBeGreaterThan(0.5);
      result.trainer.destroy();
    } finally {
      state.destroy();
      destroyDataset(gpu, data);
    }
  });
});
