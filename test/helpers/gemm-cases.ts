// The random operands of one GEMM test case, shared by the f32 and f16 GEMM tests, so both draw
// the same data for the same case.
import type { GemmReferenceArgs } from '../reference/gemm.ts';
import { randomArray } from './random.ts';

export type GemmCase = Omit<GemmReferenceArgs, 'a' | 'b' | 'c' | 'bias'> & { bias?: boolean; seed: number; cNaN?: boolean };

export interface GemmCaseData { a: Float32Array; b: Float32Array; c: Float32Array; bias?: Float32Array }

/** Floats a batched operand spans: every item but the last takes a full stride. */
function operandLength(batch: number, stride: number, size: number): number {
  return (batch - 1) * stride + size;
}

export function gemmCaseData(gemmCase: GemmCase): GemmCaseData {
  const { m, n, k, seed } = gemmCase;
  const batch = gemmCase.batch ?? 1;
  const a = randomArray(operandLength(batch, gemmCase.strideA ?? m * k, m * k), seed);
  const b = randomArray(operandLength(batch, gemmCase.strideB ?? k * n, k * n), seed + 1);
  const c = randomArray(operandLength(batch, gemmCase.strideC ?? m * n, m * n), seed + 2);
  if (gemmCase.cNaN) c.fill(NaN);
  const bias = gemmCase.bias ? randomArray(gemmCase.biasAxis === 'm' ? m : n, seed + 3) : undefined;
  return { a, b, c, bias };
}
