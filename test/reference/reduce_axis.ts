// Float64 references for shaders/reduce_axis.wgsl, written over full coordinates [outer, n, inner].
import type { AxisShape } from '../../src/kernels/reduce_axis.ts';

const at = (s: AxisShape, o: number, r: number, i: number) => (o * s.n + r) * s.inner + i;

function columns(s: AxisShape, f: (o: number, i: number) => void): void {
  for (let o = 0; o < s.outer; o++) for (let i = 0; i < s.inner; i++) f(o, i);
}

export function sumAxisRef(s: AxisShape, x: ArrayLike<number>, alpha = 1): Float64Array {
  const y = new Float64Array(s.outer * s.inner);
  columns(s, (o, i) => { let sum = 0; for (let r = 0; r < s.n; r++) sum += x[at(s, o, r, i)]!; y[o * s.inner + i] = alpha * sum; });
  return y;
}

export function sumAxisBackwardRef(s: AxisShape, dy: ArrayLike<number>, alpha = 1): Float64Array {
  const dx = new Float64Array(s.outer * s.n * s.inner);
  columns(s, (o, i) => { for (let r = 0; r < s.n; r++) dx[at(s, o, r, i)] = alpha * dy[o * s.inner + i]!; });
  return dx;
}

/** The maximum of each column and the first index that holds it. */
export function maxAxisRef(s: AxisShape, x: ArrayLike<number>): { y: Float64Array; argmax: Uint32Array } {
  const y = new Float64Array(s.outer * s.inner), argmax = new Uint32Array(s.outer * s.inner);
  columns(s, (o, i) => {
    let best = 0;
    for (let r = 1; r < s.n; r++) if (x[at(s, o, r, i)]! > x[at(s, o, best, i)]!) best = r;
    y[o * s.inner + i] = x[at(s, o, best, i)]!;
    argmax[o * s.inner + i] = best;
  });
  return { y, argmax };
}

export function maxAxisBackwardRef(s: AxisShape, dy: ArrayLike<number>, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.outer * s.n * s.inner);
  columns(s, (o, i) => { dx[at(s, o, argmax[o * s.inner + i]!, i)] = dy[o * s.inner + i]!; });
  return dx;
}

export function softmaxAxisRef(s: AxisShape, x: ArrayLike<number>, log = false): Float64Array {
  const y = new Float64Array(s.outer * s.n * s.inner);
  columns(s, (o, i) => {
    let largest = -Infinity;
    for (let r = 0; r < s.n; r++) largest = Math.max(largest, x[at(s, o, r, i)]!);
    let total = 0;
    for (let r = 0; r < s.n; r++) total += Math.exp(x[at(s, o, r, i)]! - largest);
    for (let r = 0; r < s.n; r++) {
      const shifted = x[at(s, o, r, i)]! - largest;
      y[at(s, o, r, i)] = log ? shifted - Math.log(total) : Math.exp(shifted) / total;
    }
  });
  return y;
}

export function softmaxAxisBackwardRef(s: AxisShape, y: ArrayLike<number>, dy: ArrayLike<number>, log = false): Float64Array {
  const dx = new Float64Array(s.outer * s.n * s.inner);
  columns(s, (o, i) => {
    let total = 0;
    for (let r = 0; r < s.n; r++) { const k = at(s, o, r, i); total += log ? dy[k]! : dy[k]! * y[k]!; }
    for (let r = 0; r < s.n; r++) { const k = at(s, o, r, i); dx[k] = log ? dy[k]! - Math.exp(y[k]!) * total : y[k]! * (dy[k]! - total); }
  });
  return dx;
}
