// Layer options are checked when the layer is made, for plain-JavaScript callers too: a wrong value
// fails there, naming the layer, the option and what it accepts.
import { describe, expect, it } from 'vitest';
import { testGpu } from './helpers/gpu.ts';
import { modelGradients } from './helpers/graph.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { AvgPool2D, BatchNorm, Conv2D, Dense, MaxPool2D, Tanh } from '../src/layers/layers.ts';
import { Sequential } from '../src/model/model.ts';

// Options as a JavaScript caller might pass them, past the type checker.
const loose = <T>(o: Record<string, unknown>) => o as unknown as T;

describe('layer options', () => {
  it('refuses unknown activations, misspelt options and malformed sizes', () => {
    expect(() => new Dense(loose({ units: 10, activation: 'softmax' }))).toThrow("Dense: activation must be one of relu, sigmoid, tanh, none, got \"softmax\" (for softmax, end the model with a Softmax layer");
    expect(() => new Dense(loose({ units: 10, activaton: 'relu' }))).toThrow('Dense: unknown option activaton; it takes units, activation, useBias, init, name');
    expect(() => new Dense(loose({ units: 10, useBias: 'no' }))).toThrow('Dense: useBias must be true or false, got "no"');
    expect(() => new Conv2D(loose({ filters: 8, kernelSize: 3, activation: 'gelu' }))).toThrow('Conv2D: activation must be one of relu, sigmoid, tanh, none, got "gelu"');
    expect(() => new Conv2D(loose({ filters: 8 }))).toThrow('Conv2D: kernelSize is required');
    expect(() => new Conv2D(loose({ filters: 8, kernelSize: [3, 0] }))).toThrow('Conv2D: kernelSize must be a positive integer or a pair of them, got [3,0]');
    expect(() => new Conv2D(loose({ filters: 8, kernelSize: 3, padding: 'full' }))).toThrow("Conv2D: padding must be 'valid', 'same' or a whole number ≥ 0, got \"full\"");
    expect(() => new MaxPool2D(loose({ poolSize: 2.5 }))).toThrow('MaxPool2D: poolSize must be a positive integer or a pair of them, got 2.5');
    expect(() => new AvgPool2D(loose({ pool: 2 }))).toThrow('AvgPool2D: unknown option pool');
    expect(() => new BatchNorm(loose({ momentum: 2 }))).toThrow('BatchNorm: momentum must be in [0, 1], got 2');
  });

  it('says webgrad is channels-first when an image shape looks channels-last', () => {
    expect(() => new Sequential([28, 28, 1], [new Conv2D({ filters: 4, kernelSize: 3 })])).toThrow('webgrad images are channels-first [C, H, W]; this looks channels-last');
  });

  it('a Conv2D with tanh computes what Conv2D followed by Tanh does, forward and backward', async () => {
    const gpu = await testGpu();
    const fused = new Sequential([2, 7, 6], [new Conv2D({ filters: 3, kernelSize: 3, activation: 'tanh' })]);
    const composed = new Sequential([2, 7, 6], [new Conv2D({ filters: 3, kernelSize: 3 }), Tanh()]);
    const batch = 2;
    const params = fused.initialValues(5);
    const x = randomArray(batch * 2 * 7 * 6, 1);
    const dy = randomArray(batch * 3 * 5 * 4, 2);
    const a = await modelGradients(gpu, fused, batch, x, dy, params);
    const b = await modelGradients(gpu, composed, batch, x, dy, params);
    expect(maxRelativeError(a.y, b.y)).toBeLessThan(1e-6);
    expect(maxRelativeError(a.dx, b.dx)).toBeLessThan(1e-5);
    for (const name of ['conv1.weight', 'conv1.bias']) expect(maxRelativeError(a.grads.get(name)!, b.grads.get(name)!), name).toBeLessThan(1e-5);
    // Not the identity: tanh really was applied.
    expect(maxRelativeError(a.y, (await modelGradients(gpu, new Sequential([2, 7, 6], [new Conv2D({ filters: 3, kernelSize: 3 })]), batch, x, dy, params)).y)).toBeGreaterThan(1e-3);
  });
});
