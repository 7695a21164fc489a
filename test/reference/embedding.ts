// Float64 CPU references for the embedding gather and its gradient, ids ≥ vocab as the kernels treat them.
import type { EmbeddingShape } from '../../src/kernels/embedding.ts';

export function embeddingForwardRef(s: EmbeddingShape, ids: ArrayLike<number>, table: ArrayLike<number>): Float64Array {
  const out = new Float64Array(s.tokens * s.width);
  for (let i = 0; i < s.tokens; i++) {
    const id = ids[i]!;
    if (id >= s.vocab) continue;
    for (let c = 0; c < s.width; c++) out[i * s.width + c] = table[id * s.width + c]!;
  }
  return out;
}

export function embeddingBackwardRef(s: EmbeddingShape, ids: ArrayLike<number>, dOut: ArrayLike<number>): Float64Array {
  const dTable = new Float64Array(s.vocab * s.width);
  for (let i = 0; i < s.tokens; i++) {
    const id = ids[i]!;
    if (id >= s.vocab) continue;
    for (let c = 0; c < s.width; c++) dTable[id * s.width + c]! += dOut[i * s.width + c]!;
  }
  return dTable;
}
