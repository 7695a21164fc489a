// The token-sequence layers (token embedding, learned positional embedding, class token): forward
// against a float64 reference and every gradient against finite differences, then a small
// ViT-shaped model trained on the GPU against the CPU twin.
import { describe, expect, it } from 'vitest';
import { testGpu } from './helpers/gpu.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { modelGradients } from './helpers/graph.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { input } from '../src/layers/layer.ts';
import { Conv2D, Dense } from '../src/layers/layers.ts';
import { reshape, slice, transpose } from '../src/layers/ops.ts';
import { ClassToken, Embedding, PositionalEmbedding, TiedDense } from '../src/layers/tokens.ts';
import { embeddingForwardRef } from './reference/embedding.ts';
import { Model } from '../src/model/model.ts';

async function checkLayer(make: () => PositionalEmbedding | ClassToken, shape: [number, number], forward: (x: Float64Array, w: Float64Array) => Float64Array) {
  const gpu = await testGpu();
  const x = input(shape);
  const layer = make();
  const model = new Model({ inputs: x, outputs: layer.apply(x) });
  const batch = 3;
  const params = model.initialValues(7);
  const weightName = `${layer.name}.weight`;
  const xs = randomArray(batch * shape[0] * shape[1], 2);
  const outCount = batch * model.outputShape.reduce((a, b) => a * b, 1);
  const dy = randomArray(outCount, 3);
  const got = await modelGradients(gpu, model, batch, xs, dy, params);
  const x64 = Float64Array.from(xs), w64 = Float64Array.from(params.get(weightName)!);
  expect(maxRelativeError(got.y, forward(x64, w64))).toBeLessThan(1e-6);
  expect(maxRelativeError(got.dx, numericGradient((v) => forward(v, w64), x64, dy))).toBeLessThan(1e-5);
  expect(maxRelativeError(got.grads.get(weightName)!, numericGradient((v) => forward(x64, v), w64, dy))).toBeLessThan(1e-5);
}

describe('token-sequence layers', () => {
  it.each([[[5, 3]], [[1, 7]], [[17, 33]]] as const)('PositionalEmbedding on %j: forward and gradients', async (shape) => {
    await checkLayer(() => new PositionalEmbedding(), [...shape], (x, w) => x.map((v, i) => v + w[i % w.length]!));
  });

  it.each([[[5, 3]], [[1, 7]], [[16, 33]]] as const)('ClassToken on %j: forward and gradients', async (shape) => {
    const [tokens, width] = shape;
    await checkLayer(() => new ClassToken(), [...shape], (x, w) => {
      const batch = x.length / (tokens * width);
      const y = new Float64Array(batch * (tokens + 1) * width);
      for (let n = 0; n < batch; n++) {
        y.set(w, n * (tokens + 1) * width);
        y.set(x.subarray(n * tokens * width, (n + 1) * tokens * width), (n * (tokens + 1) + 1) * width);
      }
      return y;
    });
  });

  it.each([[5, 3, 4], [1, 1, 1], [17, 11, 33], [64, 65, 7]] as const)('Embedding of %i ids, vocab %i, width %i: forward and the table gradient', async (tokens, vocab, width) => {
    const gpu = await testGpu();
    const ids = input([tokens], { dtype: 'u32' });
    const layer = new Embedding({ vocab, width });
    const model = new Model({ inputs: ids, outputs: layer.apply(ids) });
    expect(model.outputShape).toEqual([tokens, width]);
    const batch = 3;
    const next = rng(tokens + vocab);
    // Few distinct ids, so most table rows sum several tokens' gradients and some get none.
    const x = Uint32Array.from({ length: batch * tokens }, () => Math.floor(next() * vocab));
    const params = model.initialValues(4);
    const dy = randomArray(batch * tokens * width, 5);
    const got = await modelGradients(gpu, model, batch, x, dy, params);
    const s = { tokens: batch * tokens, vocab, width };
    const table = Float64Array.from(params.get(`${layer.name}.weight`)!);
    expect(maxRelativeError(got.y, embeddingForwardRef(s, x, table))).toBe(0);
    expect(got.dx).toHaveLength(0);
    expect(maxRelativeError(got.grads.get(`${layer.name}.weight`)!, numericGradient((t) => embeddingForwardRef(s, x, t), table, dy))).toBeLessThan(1e-5);
  });

  it.each([[5, 3, 4], [1, 1, 1], [9, 37, 24]] as const)('TiedDense over its own Embedding (%i ids, vocab %i, width %i): logits x·Eᵀ, and the table gets both uses\' gradients', async (tokens, vocab, width) => {
    const gpu = await testGpu();
    const ids = input([tokens], { dtype: 'u32' });
    const embedding = new Embedding({ vocab, width, name: 'wte' });
    const head = new TiedDense({ tiedTo: embedding, name: 'head' });
    const model = new Model({ inputs: ids, outputs: head.apply(embedding.apply(ids)) });
    expect(model.parameterSpecs()).toEqual([{ name: 'wte.weight', shape: [vocab, width] }]);
    expect(model.tiedParameters()).toEqual([{ name: 'head.weight', source: 'wte.weight' }]);
    const batch = 2;
    const next = rng(tokens * vocab);
    const x = Uint32Array.from({ length: batch * tokens }, () => Math.floor(next() * vocab));
    const params = model.initialValues(3);
    const dy = randomArray(batch * tokens * vocab, 6);
    const got = await modelGradients(gpu, model, batch, x, dy, params);
    const s = { tokens: batch * tokens, vocab, width };
    // The whole layer pair in float64: gather rows of E, then project them back onto E.
    const forward = (table: Float64Array): Float64Array => {
      const rows = embeddingForwardRef(s, x, table);
      const y = new Float64Array(s.tokens * vocab);
      for (let t = 0; t < s.tokens; t++) for (let v = 0; v < vocab; v++) {
        let sum = 0;
        for (let e = 0; e < width; e++) sum += rows[t * width + e]! * table[v * width + e]!;
        y[t * vocab + v] = sum;
      }
      return y;
    };
    const table = Float64Array.from(params.get('wte.weight')!);
    // Table entries of ±0.035 make the logits small; a floor of 1e-3 keeps their relative error honest.
    expect(maxRelativeError(got.y, forward(table), 1e-3)).toBeLessThan(1e-5);
    expect(maxRelativeError(got.grads.get('wte.weight')!, numericGradient(forward, table, dy), 1e-3)).toBeLessThan(1e-4);
  });

  it('TiedDense refuses a source that is not an Embedding, a width that does not fit, and an embedding outside the model', () => {
    expect(() => new TiedDense({ tiedTo: new Dense({ units: 3 }) as never })).toThrow('TiedDense: tiedTo must be an Embedding layer, got Dense');
    const embedding = new Embedding({ vocab: 5, width: 4, name: 'wte' });
    expect(() => new TiedDense({ tiedTo: embedding, name: 'head' }).apply(input([3, 6]))).toThrow('layer head (TiedDense(wte, 5)) expects [features] or [tokens, features] with 4 features (the width of wte), got input shape [3, 6]');
    const x = input([3, 4]);
    expect(() => new Model({ inputs: x, outputs: new TiedDense({ tiedTo: embedding, name: 'head' }).apply(x) }))
      .toThrow('layer head (TiedDense(wte, 5)) ties its weight to layer wte, which the model does not apply; apply that layer in the same model');
  });

  it('Embedding refuses f32 inputs, non-sequences of ids and bad sizes, by name', () => {
    expect(() => new Embedding({ vocab: 4, width: 2, name: 'transformer.wte' }).apply(input([8]))).toThrow("layer transformer.wte (Embedding(4, 2)) takes u32 token ids, got a f32 input");
    expect(() => new Embedding({ vocab: 4, width: 2 }).apply(input([2, 8], { dtype: 'u32' }))).toThrow('Embedding(4, 2) expects token ids [tokens], got input shape [2, 8]');
    expect(() => new Embedding({ vocab: 0, width: 2 })).toThrow('Embedding: vocab must be a positive integer, got 0');
    expect(() => new Embedding({ vocab: 4, width: 2.5 })).toThrow('Embedding: width must be a positive integer, got 2.5');
  });

  it('refuses inputs that are not sequences', () => {
    expect(() => new ClassToken().apply(input([1, 4, 4]))).toThrow('ClassToken expects a sequence [tokens, width], got input shape [1, 4, 4]');
  });

  it('patches → tokens → class token + positions → head trains 3 Adam steps like the CPU twin', async () => {
    const gpu = await testGpu();
    const x = input([1, 8, 8]);
    const patches = new Conv2D({ filters: 6, kernelSize: 4, strides: 4 }).apply(x);           // [6, 2, 2]
    const tokens = transpose(reshape(patches, [6, 4]));                                      // [4, 6]
    const sequence = new PositionalEmbedding().apply(new ClassToken().apply(tokens));        // [5, 6]
    const mixed = new Dense({ units: 6, activation: 'tanh' }).apply(sequence);
    const head = new Dense({ units: 3 }).apply(reshape(slice(mixed, 0, 0, 1), [6]));
    const model = new Model({ inputs: x, outputs: head });
    const next = rng(4);
    const set = { images: Uint8Array.from({ length: 16 * 64 }, () => Math.floor(next() * 256)), labels: Uint32Array.from({ length: 16 }, () => Math.floor(next() * 3)), count: 16, rows: 8, cols: 8 };
    await expectTrainsLikeCpuTwin(gpu, model, set, { classes: 3, optimizer: { kind: 'adam', lr: 1e-2 } });
  });
});
