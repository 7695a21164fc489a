// Checks a parameter-free op end to end on the GPU (graph ops, tape, memory plan): its forward
// against a float64 reference and every f32 input's gradient against finite differences of it.
import { expect } from 'vitest';
import { input, type SymbolicTensor } from '../../src/layers/layer.ts';
import { Model } from '../../src/model/model.ts';
import { testGpu } from './gpu.ts';
import { modelGradients } from './graph.ts';
import { numericGradient } from './gradcheck.ts';
import { maxRelativeError, randomArray } from './random.ts';

export const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export interface CheckOpOptions {
  /** Draw f32 inputs from [0.5, 2) instead of [−1, 1) (for log, sqrt, division). */
  positive?: boolean;
  /** Fixed data per input; a Uint32Array makes that input u32 (ids, indices, a mask): no gradient is checked for it. */
  data?: readonly (Float32Array | Uint32Array | undefined)[];
}

/** GPU forward and input gradients of a parameter-free model against the reference and finite differences. */
export async function checkOp(build: (...xs: SymbolicTensor[]) => SymbolicTensor, shapes: number[][], reference: (xs: Float64Array[]) => Float64Array,
  batch: number, options: CheckOpOptions | boolean = {}): Promise<void> {
  const { positive = false, data = [] } = typeof options === 'boolean' ? { positive: options } : options;
  const gpu = await testGpu();
  const inputs = shapes.map((s, i) => input(s, { name: `x${i}`, dtype: data[i] instanceof Uint32Array ? 'u32' : 'f32' }));
  const model = new Model({ inputs, outputs: build(...inputs) });
  const xs = shapes.map((s, i) => data[i] ?? randomArray(batch * count(s), 10 * i + count(s), positive ? 0.5 : -1, positive ? 2 : 1));
  const outCount = batch * count(model.outputShape);
  const dy = randomArray(outCount, outCount + 5);
  const got = await modelGradients(gpu, model, batch, xs, dy, new Map());
  const asF64 = xs.map((x) => Float64Array.from(x));
  expect(maxRelativeError(got.y, reference(asF64)), 'forward').toBeLessThan(1e-5);
  xs.forEach((x, i) => {
    if (x instanceof Uint32Array) return;
    const numeric = numericGradient((xi) => reference(asF64.map((v, j) => (j === i ? xi : v))), asF64[i]!, dy);
    expect(maxRelativeError(got.dxs[i]!, numeric), `gradient of input ${i}`).toBeLessThan(1e-4);
  });
}
