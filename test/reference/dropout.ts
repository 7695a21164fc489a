// Float64 CPU reference for inverted dropout, built on the mask's CPU twin.
import { dropoutKeeps } from '../../src/kernels/dropout.ts';

export function dropoutRef(values: ArrayLike<number>, rate: number, seed: number, step: number, stream: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = dropoutKeeps(seed, step, stream, i, rate) ? values[i]! / (1 - rate) : 0;
  return out;
}
