// Float64 reference for gemm(): the same arguments as the GPU launcher, on plain arrays.
import type { GemmActivation } from '../../src/kernels/gemm.ts';

export interface GemmReferenceArgs {
  a: ArrayLike<number>; b: ArrayLike<number>;
  /** C before the product; read when beta ≠ 0, and kept wherever the product does not write. */
  c: ArrayLike<number>;
  m: number; n: number; k: number;
  transA?: boolean; transB?: boolean;
  batch?: number;
  strideA?: number; strideB?: number; strideC?: number;
  alpha?: number; beta?: number;
  bias?: ArrayLike<number>; biasAxis?: 'n' | 'm';
  activation?: GemmActivation;
}

export interface GemmReferenceResult {
  c: Float64Array;
  /** Per element, the sum of magnitudes of every term that went into it: the scale of its rounding error. */
  scale: Float64Array;
}

export function gemmReference(args: GemmReferenceArgs): GemmReferenceResult {
  const { a, b, m, n, k } = args;
  const batch = args.batch ?? 1;
  const strideA = args.strideA ?? m * k, strideB = args.strideB ?? k * n, strideC = args.strideC ?? m * n;
  const alpha = args.alpha ?? 1, beta = args.beta ?? 0;
  const c = Float64Array.from(args.c);
  const scale = new Float64Array(c.length);
  for (let q = 0; q < batch; q++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0, magnitude = 0;
        for (let p = 0; p < k; p++) {
          const av = a[q * strideA + (args.transA ? p * m + i : i * k + p)]!;
          const bv = b[q * strideB + (args.transB ? j * k + p : p * n + j)]!;
          sum += av * bv;
          magnitude += Math.abs(av * bv);
        }
        const index = q * strideC + i * n + j;
        let v = alpha * sum;
        magnitude *= Math.abs(alpha);
        if (beta !== 0) {
          v += beta * args.c[index]!;
          magnitude += Math.abs(beta * args.c[index]!);
        }
        if (args.bias) {
          const bias = args.bias[args.biasAxis === 'm' ? i : j]!;
          v += bias;
          magnitude += Math.abs(bias);
        }
        if (args.activation === 'relu') v = Math.max(v, 0);
        c[index] = v;
        scale[index] = magnitude;
      }
    }
  }
  return { c, scale };
}
