// Float64 references for shaders/gather_axis.wgsl (torch.gather along one axis, and its gradient).
import type { GatherAxisShape } from '../../src/kernels/gather_axis.ts';

export function gatherAxisRef(s: GatherAxisShape, x: ArrayLike<number>, indices: ArrayLike<number>): Float64Array {
  const out = new Float64Array(s.outer * s.k * s.inner);
  for (let o = 0; o < s.outer; o++) for (let j = 0; j < s.k; j++) for (let i = 0; i < s.inner; i++) {
    const e = (o * s.k + j) * s.inner + i, id = indices[e]!;
    out[e] = id < s.n ? x[(o * s.n + id) * s.inner + i]! : 0;
  }
  return out;
}

export function gatherAxisBackwardRef(s: GatherAxisShape, indices: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.outer * s.n * s.inner);
  for (let o = 0; o < s.outer; o++) for (let j = 0; j < s.k; j++) for (let i = 0; i < s.inner; i++) {
    const e = (o * s.k + j) * s.inner + i, id = indices[e]!;
    if (id < s.n) dx[(o * s.n + id) * s.inner + i]! += dy[e]!;
  }
  return dx;
}
