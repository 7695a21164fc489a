// Float64 CPU reference for multi-head scaled-dot-product attention: the whole T×T softmax per
// head, materialised, with a mask and dropout factors given as functions so tests can hand it any
// mask (including a wrong one).
import type { AttentionShape } from '../../src/kernels/attention.ts';

/** Whether query i may attend to key j. */
export type AttentionMask = (i: number, j: number) => boolean;
/** The factor on weight (i, j) of head `head` (0 or 1/(1 − rate) under dropout). */
export type AttentionDropoutFactor = (head: number, i: number, j: number) => number;

export const causalMask: AttentionMask = (i, j) => j <= i;
export const noMask: AttentionMask = () => true;
const noDropout: AttentionDropoutFactor = () => 1;

export interface AttentionRefOptions { mask?: AttentionMask; dropout?: AttentionDropoutFactor }

/** P[head][i·T + j] = softmax over the allowed keys of scale·q_i·k_j; lse per (head, i). */
function probabilities(s: AttentionShape, q: ArrayLike<number>, k: ArrayLike<number>, mask: AttentionMask): { p: Float64Array; lse: Float64Array } {
  const { seq: T, headDim: D } = s;
  const heads = s.batch * s.heads;
  const scale = 1 / Math.sqrt(D);
  const p = new Float64Array(heads * T * T), lse = new Float64Array(heads * T);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      const row = (h * T + i) * T;
      let largest = -Infinity;
      for (let j = 0; j < T; j++) {
        if (!mask(i, j)) continue;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(h * T + i) * D + d]! * k[(h * T + j) * D + d]!;
        p[row + j] = dot * scale;
        largest = Math.max(largest, dot * scale);
      }
      let total = 0;
      for (let j = 0; j < T; j++) total += mask(i, j) ? Math.exp(p[row + j]! - largest) : 0;
      for (let j = 0; j < T; j++) p[row + j] = mask(i, j) ? Math.exp(p[row + j]! - largest) / total : 0;
      lse[h * T + i] = largest + Math.log(total);
    }
  }
  return { p, lse };
}

export function attentionForwardRef(s: AttentionShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  options: AttentionRefOptions = {}): { o: Float64Array; lse: Float64Array } {
  const { seq: T, headDim: D } = s;
  const dropout = options.dropout ?? noDropout;
  const { p, lse } = probabilities(s, q, k, options.mask ?? noMask);
  const o = new Float64Array(s.batch * s.heads * T * D);
  for (let h = 0; h < s.batch * s.heads; h++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        const weight = p[(h * T + i) * T + j]! * dropout(h, i, j);
        if (weight === 0) continue;
        for (let d = 0; d < D; d++) o[(h * T + i) * D + d]! += weight * v[(h * T + j) * D + d]!;
      }
    }
  }
  return { o, lse };
}

/**
 * The textbook backward through the materialised softmax: with P̃ = P∘Z, dV = P̃ᵀ·dO,
 * dP = (dO·Vᵀ)∘Z, dS = P∘(dP − rowsum(P∘dP)), dQ = scale·dS·K, dK = scale·dSᵀ·Q. It takes the
 * row sum directly, not through dO·O as the kernels do, so it checks that identity too.
 */
export function attentionBackwardRef(s: AttentionShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dO: ArrayLike<number>,
  options: AttentionRefOptions = {}): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { seq: T, headDim: D } = s;
  const heads = s.batch * s.heads;
  const scale = 1 / Math.sqrt(D);
  const dropout = options.dropout ?? noDropout;
  const { p } = probabilities(s, q, k, options.mask ?? noMask);
  const dq = new Float64Array(heads * T * D), dk = new Float64Array(heads * T * D), dv = new Float64Array(heads * T * D);
  const at = (h: number, row: number, d: number): number => (h * T + row) * D + d;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      const dp = new Float64Array(T);
      let rowSum = 0;
      for (let j = 0; j < T; j++) {
        const pij = p[(h * T + i) * T + j]!, z = dropout(h, i, j);
        let dot = 0;
        for (let d = 0; d < D; d++) {
          dot += dO[at(h, i, d)]! * v[at(h, j, d)]!;
          dv[at(h, j, d)]! += pij * z * dO[at(h, i, d)]!;
        }
        dp[j] = dot * z;
        rowSum += pij * dp[j]!;
      }
      for (let j = 0; j < T; j++) {
        const ds = p[(h * T + i) * T + j]! * (dp[j]! - rowSum) * scale;
        for (let d = 0; d < D; d++) {
          dq[at(h, i, d)]! += ds * k[at(h, j, d)]!;
          dk[at(h, j, d)]! += ds * q[at(h, i, d)]!;
        }
      }
    }
  }
  return { dq, dk, dv };
}
