// Tensor ops and graph-shaped models: each op's forward against the float64 reference and its
// gradients against finite differences; models with fan-out, residuals, concatenation, shared
// layers and two inputs; a drawn model trained on the GPU against the CPU twin; one submit per step.
import { describe, expect, it } from 'vitest';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { modelGradients } from './helpers/graph.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { checkOp, count } from './helpers/check-op.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { binaryRef, concatRef, permuteRef, sliceRef, unaryRef } from './reference/elementwise.ts';
import { input, SymbolicTensor } from '../src/layers/layer.ts';
import { Conv2D, Dense, DENSE_TRANSPOSE_ROWS, Dropout, Flatten, MaxPool2D, ReLU, Softmax } from '../src/layers/layers.ts';
import { add, concat, div, exp, log, mul, permute, reshape, scale, shift, slice, split, sqrt, sub, transpose } from '../src/layers/ops.ts';
import { Model } from '../src/model/model.ts';
import { zooModel } from '../src/model/zoo.ts';
import { ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';

const batched = (batch: number, rank: number, s: readonly number[]) => [batch, ...Array<number>(rank - s.length).fill(1), ...s];

describe('elementwise ops with broadcasting', () => {
  const cases: [number[], number[]][] = [[[6], [6]], [[3, 4], [4]], [[2, 1, 5], [3, 1]], [[1], [7]], [[4, 3, 3], [4, 1, 1]]];
  for (const [name, f] of [['add', add], ['sub', sub], ['mul', mul], ['div', div]] as const) {
    it.each(cases)(`${name} of %j and %j: forward and both gradients`, async (a, b) => {
      const batch = 3, rank = Math.max(a.length, b.length);
      await checkOp(f, [a, b], ([x, y]) => binaryRef(name, x!, batched(batch, rank, a), y!, batched(batch, rank, b)), batch, name === 'div');
    });
  }

  it('names the op and both shapes when they do not broadcast', () => {
    expect(() => add(input([3, 4]), input([5]))).toThrow('Add: shapes [3, 4] and [5] do not broadcast (4 vs 5 at axis -1)');
    expect(() => new Model({ inputs: [], outputs: [] })).toThrow('needs at least one input');
  });
});

describe('unary and scalar ops', () => {
  const unary = [['exp', exp, 'exp', 1, 0], ['log', log, 'log', 1, 0], ['sqrt', sqrt, 'sqrt', 1, 0],
    ['scale', (x: SymbolicTensor) => scale(x, -2.5), 'affine', -2.5, 0], ['shift', (x: SymbolicTensor) => shift(x, 0.75), 'affine', 1, 0.75]] as const;
  it.each(unary)('%s: forward and gradient', async (_name, f, op, alpha, beta) => {
    await checkOp(f, [[5, 3]], ([x]) => unaryRef(op, x!, alpha, beta), 2, true);
  });
});

describe('concatenation, slicing and reshaping', () => {
  it.each([[0, [[2, 3, 3], [5, 3, 3]]], [-1, [[4, 2], [4, 1], [4, 3]]], [1, [[3, 1, 2], [3, 4, 2]]]] as const)('concat along axis %i of %j', async (axis, shapes) => {
    const batch = 2;
    const resolved = (axis < 0 ? shapes[0]!.length + axis : axis) + 1;
    await checkOp((...xs) => concat(xs, axis), shapes.map((s) => [...s]), (xs) => concatRef(xs.map((data, i) => ({ data, shape: [batch, ...shapes[i]!] })), resolved), batch);
  });

  it.each([[0, 1, 3], [1, 0, 2], [-1, 2, 5]] as const)('slice of axis %i [%i, %i) of [4, 3, 5]', async (axis, start, end) => {
    const shape = [4, 3, 5], batch = 3;
    const resolved = (axis < 0 ? shape.length + axis : axis) + 1;
    await checkOp((x) => slice(x, axis, start, end), [shape], ([x]) => sliceRef(x!, [batch, ...shape], resolved, start, end), batch);
  });

  it.each([[[2, 0, 1], [3, 4, 5]], [[1, 0], [7, 3]], [[0, 2, 1, 3], [2, 1, 5, 3]], [[3, 2, 1, 0], [2, 3, 1, 4]]] as const)('permute %j of %j', async (perm, shape) => {
    const batch = 2;
    await checkOp((x) => permute(x, perm), [[...shape]], ([x]) => permuteRef(x!, [batch, ...shape], [0, ...perm.map((p) => p + 1)]), batch);
  });

  it('transpose swaps the last two axes; a wrong permutation is named', async () => {
    await checkOp((x) => transpose(x), [[3, 4, 2]], ([x]) => permuteRef(x!, [2, 3, 4, 2], [0, 1, 3, 2]), 2);
    expect(() => permute(input([3, 4]), [0, 0])).toThrow('Permute: [0,0] is not a permutation');
    expect(() => permute(input([3, 4]), [2, 0, 1])).toThrow('needs a per-sample rank of 3, got [3, 4]');
  });

  it('split pieces joined back are the input; reshape keeps the elements', async () => {
    await checkOp((x) => concat(split(x, [1, 3, 2], 1), 1), [[2, 6]], ([x]) => x!, 2);
    await checkOp((x) => reshape(x, [-1, 2]), [[3, 4]], ([x]) => x!, 2);
    expect(() => reshape(input([3, 4]), [5, -1])).toThrow('Reshape([5, -1]): cannot reshape [3, 4] (12 elements) to [5, -1]');
    expect(() => slice(input([3, 4]), 1, 2, 6)).toThrow('2:6 is not a non-empty range of axis 1 of [3, 4]');
    expect(() => concat([input([3, 4]), input([2, 5])], 0)).toThrow('cannot join [3, 4] and [2, 5] along axis 0');
  });
});

describe('models drawn as graphs', () => {
  // 130 tokens in a batch of 2 pass DENSE_TRANSPOSE_ROWS, where the forward transposes the weight first.
  it.each([4, 130])('Dense projects a sequence [%i tokens, features] token by token', async (tokens) => {
    const gpu = await testGpu();
    const x = input([tokens, 3]);
    const model = new Model({ inputs: x, outputs: new Dense({ units: 5, activation: 'tanh' }).apply(x) });
    expect(model.outputShape).toEqual([tokens, 5]);
    expect(2 * tokens >= DENSE_TRANSPOSE_ROWS).toBe(tokens === 130);
    const batch = 2;
    const params = model.initialValues(1);
    const xs = randomArray(batch * tokens * 3, 4), dy = randomArray(batch * tokens * 5, 5);
    const got = await modelGradients(gpu, model, batch, xs, dy, params);
    const base = new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
    const forward = (p: Map<string, Float64Array>, v: Float64Array) => Float64Array.from({ length: batch * tokens * 5 }, (_, i) => {
      const row = Math.floor(i / 5), o = i % 5;
      let s = p.get('fc1.bias')![o]!;
      for (let k = 0; k < 3; k++) s += p.get('fc1.weight')![o * 3 + k]! * v[row * 3 + k]!;
      return Math.tanh(s);
    });
    expect(maxRelativeError(got.y, forward(base, Float64Array.from(xs)))).toBeLessThan(1e-5);
    expect(maxRelativeError(got.dx, numericGradient((v) => forward(base, v), Float64Array.from(xs), dy))).toBeLessThan(1e-4);
    expect(maxRelativeError(got.grads.get('fc1.weight')!, numericGradient((v) => forward(new Map([...base, ['fc1.weight', v]]), Float64Array.from(xs)), base.get('fc1.weight')!, dy))).toBeLessThan(1e-4);
  });

  it('fan-out, a residual add, concatenation, a shared layer and two inputs: gradients match finite differences', async () => {
    const gpu = await testGpu();
    const a = input([5], { name: 'a' });
    const b = input([3], { name: 'b' });
    const shared = new Dense({ units: 5, activation: 'tanh' });
    const h = shared.apply(a);
    const residual = add(shared.apply(h), h); // the shared layer twice; h feeds two consumers
    const joined = concat([mul(residual, a), new Dense({ units: 2 }).apply(b)]);
    const model = new Model({ inputs: [a, b], outputs: new Dense({ units: 3 }).apply(joined) });
    expect(model.layers.map((l) => l.name)).toEqual(['fc1', 'add1', 'mul1', 'fc2', 'concat1', 'fc3']);
    expect(model.parameterSpecs().map((s) => s.name)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);

    const batch = 2;
    const params = model.initialValues(4);
    const xs = [randomArray(batch * 5, 1), randomArray(batch * 3, 2)];
    const dy = randomArray(batch * 3, 3);
    const got = await modelGradients(gpu, model, batch, xs, dy, params);
    // The same function on the CPU in float64, every parameter and input as one flat vector.
    const names = [...params.keys()];
    const dense = (w: Float64Array, bias: Float64Array, x: Float64Array, inF: number, out: number, tanh: boolean) => Float64Array.from({ length: batch * out }, (_, i) => {
      const n = Math.floor(i / out), o = i % out;
      let s = bias[o]!;
      for (let k = 0; k < inF; k++) s += w[o * inF + k]! * x[n * inF + k]!;
      return tanh ? Math.tanh(s) : s;
    });
    const forward = (p: Map<string, Float64Array>, x0: Float64Array, x1: Float64Array) => {
      const fc1 = (x: Float64Array) => dense(p.get('fc1.weight')!, p.get('fc1.bias')!, x, 5, 5, true);
      const hh = fc1(x0);
      const res = fc1(hh).map((v, i) => v + hh[i]!);
      const left = res.map((v, i) => v * x0[i]!);
      const right = dense(p.get('fc2.weight')!, p.get('fc2.bias')!, x1, 3, 2, false);
      const cat = concatRef([{ data: left, shape: [batch, 5] }, { data: right, shape: [batch, 2] }], 1);
      return dense(p.get('fc3.weight')!, p.get('fc3.bias')!, cat, 7, 3, false);
    };
    const base = new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
    const x64 = xs.map((x) => Float64Array.from(x));
    expect(maxRelativeError(got.y, forward(base, x64[0]!, x64[1]!))).toBeLessThan(1e-5);
    for (const name of names) {
      const numeric = numericGradient((v) => forward(new Map([...base, [name, v]]), x64[0]!, x64[1]!), base.get(name)!, dy);
      expect(maxRelativeError(got.grads.get(name)!, numeric), name).toBeLessThan(1e-4);
    }
    for (const i of [0, 1]) {
      const numeric = numericGradient((v) => forward(base, i === 0 ? v : x64[0]!, i === 1 ? v : x64[1]!), x64[i]!, dy);
      expect(maxRelativeError(got.dxs[i]!, numeric), `input ${i}`).toBeLessThan(1e-4);
    }
  });

  it('refuses graphs that are not models: a missing input, a reused stateful layer, softmax in the middle', () => {
    const x = input([4]);
    const other = input([4], { name: 'other' });
    expect(() => new Model({ inputs: x, outputs: add(x, other) })).toThrow('depends on input other, which is not among the model\'s inputs');
    const hidden = new Dense({ units: 4 }).apply(x);
    expect(() => new Model({ inputs: hidden, outputs: hidden })).toThrow('is a layer\'s output, not an input()');
    const wide = new Dense({ units: 6 });
    expect(() => new Model({ inputs: x, outputs: wide.apply(wide.apply(x)) })).toThrow(/fc1 \(Dense\(6\)\) is applied to inputs of other shapes/);
    const dropout = new Dropout(0.5);
    expect(() => new Model({ inputs: x, outputs: dropout.apply(dropout.apply(x)) })).toThrow('dropout1 (Dropout(0.5)) is applied 2 times; it keeps per-application state');
    expect(() => new Model({ inputs: x, outputs: new Dense({ units: 2 }).apply(new Softmax().apply(x)) })).toThrow('softmax1: Softmax is only supported as the last layer');
  });

  const imageSet = (n: number, seed: number) => {
    const next = rng(seed);
    return { images: new Uint8Array(n * 64).map(() => Math.floor(next() * 256)), labels: new Uint8Array(n).map(() => Math.floor(next() * 3)), count: n, rows: 8, cols: 8 };
  };

  it('a residual CNN with a concatenated branch trains 3 Adam steps like the float64 CPU twin', async () => {
    const gpu = await testGpu();
    const x = input([1, 8, 8]);
    const stem = new Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
    const body = new Conv2D({ filters: 3, kernelSize: 3, padding: 'same' }).apply(stem);
    const residual = ReLU().apply(add(body, stem));
    const branch = new Conv2D({ filters: 2, kernelSize: 1 }).apply(x);
    const joined = concat([residual, sub(branch, scale(slice(stem, 0, 1, 2), 0.5))], 0);
    const logits = new Dense({ units: 3 }).apply(new Flatten().apply(new MaxPool2D().apply(joined)));
    const model = new Model({ inputs: x, outputs: logits });

    await expectTrainsLikeCpuTwin(gpu, model, imageSet(16, 11), { classes: 3, optimizer: { kind: 'adam', lr: 1e-2 }, seed: 7, initSeed: 3 });
  });

  it('the zoo resnet trains with exactly one submit per step and creates nothing after compile', async () => {
    const gpu = await testGpu();
    const model = zooModel('resnet');
    const next = rng(5);
    const set = { images: new Uint8Array(64 * 784).map(() => Math.floor(next() * 256)), labels: new Uint8Array(64).map(() => Math.floor(next() * 10)), count: 64, rows: 28, cols: 28 };
    const data = uploadDataset(gpu, set, 10, 'synthetic');
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 16, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0, std: 1 }, stepsPerEpoch: 4, totalSteps: 4, metricsEvery: 1000 });
    const counts = await countDeviceWork(gpu, async () => {
      for (let s = 0; s < 4; s++) await trainer.step(range(s * 16, (s + 1) * 16));
    });
    expect(counts).toEqual({ submits: 4, created: 0 });
    const values = await state.read();
    expect([...values.values()].every((v) => v.every(Number.isFinite))).toBe(true);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });
});
