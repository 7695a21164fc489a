// Float64 reference for gemm() with `storage: 'f16'`: rounds to f16 where the kernel stores f16 —
// A, B and C's incoming values (they arrive as f16) and the result — and nowhere else: the product,
// sums, alpha, beta, bias (an f32 tensor) and the activation are exact here, f32 on the GPU.
import { roundToF16 } from '../../src/data/f16.ts';
import { gemmReference, type GemmReferenceArgs } from './gemm.ts';

export interface Gemm16ReferenceResult {
  /** The result rounded to f16, as the kernel would store it with exact arithmetic. */
  c: Float64Array;
  /** The same before the final rounding. */
  exact: Float64Array;
  /** Per element, the sum of magnitudes of every term: the scale of the f32 accumulation error. */
  scale: Float64Array;
}

const toF16 = (values: ArrayLike<number>) => Float64Array.from(values, roundToF16);

export function gemm16Reference(args: GemmReferenceArgs): Gemm16ReferenceResult {
  const c = toF16(args.c);
  const { c: exact, scale } = gemmReference({ ...args, a: toF16(args.a), b: toF16(args.b), c });
  return { c: exact.map(roundToF16), exact, scale };
}
