// Random gpt weights spread wide enough that different tokens' logits lie far apart next to float
// error, so greedy decoding by two correct implementations cannot part ways on a near tie.
import { randomArray } from './random.ts';
import type { Model } from '../../src/model/model.ts';

export function spreadWeights(model: Model, seed: number): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  model.parameterSpecs().forEach((spec, i) => {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const norm = /\.ln_\w+\.weight$/.test(spec.name);
    values.set(spec.name, norm ? randomArray(count, seed + i, 0.5, 1.5) : randomArray(count, seed + i, -0.4, 0.4));
  });
  return values;
}
