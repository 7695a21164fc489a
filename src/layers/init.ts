// Seeded parameter initializers (CPU side; values are uploaded once at compile time).
import { rngUniform } from '../kernels/rng.ts';

export type Initializer =
  | { kind: 'he' | 'glorot'; fanIn: number; fanOut: number }
  | { kind: 'zeros' | 'ones' }
  /** uniform(−limit, limit), PyTorch's RNN default, with an optional block held at a constant (LSTM forget-gate bias). */
  | { kind: 'uniform'; limit: number; constant?: { start: number; count: number; value: number } };

/** He uniform (ReLU nets) or Glorot uniform; `stream` separates tensors drawn from one seed. */
export function initialize(init: Initializer, count: number, seed: number, stream: number): Float32Array {
  const out = new Float32Array(count);
  if (init.kind === 'uniform') {
    for (let i = 0; i < count; i++) out[i] = (2 * rngUniform(seed, stream, i) - 1) * init.limit;
    if (init.constant) out.fill(init.constant.value, init.constant.start, init.constant.start + init.constant.count);
    return out;
  }
  if (init.kind !== 'he' && init.kind !== 'glorot') return out.fill(init.kind === 'ones' ? 1 : 0);
  const { fanIn, fanOut } = init;
  const limit = init.kind === 'he' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < count; i++) out[i] = (2 * rngUniform(seed, stream, i) - 1) * limit;
  return out;
}
