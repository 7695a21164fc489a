// Float64 reference for batched matmul over full shapes [...batch, m, k] × [...batch, k, n], the
// batch axes right-aligned and broadcast where their size is 1 (torch.matmul after widening 1-D
// operands). Also broadcastTo, the copy the op uses when a broadcast does not fold into a stride.
import { broadcastRef } from './elementwise.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The flat index into `own` (right-aligned, size-1 axes broadcast) of element `i` of `out`. */
function itemIndex(i: number, out: readonly number[], own: readonly number[]): number {
  let index = 0, rest = i, stride = 1;
  for (let axis = out.length - 1; axis >= 0; axis--) {
    const coordinate = rest % out[axis]!;
    rest = Math.floor(rest / out[axis]!);
    const o = axis - (out.length - own.length);
    if (o >= 0) { if (own[o] !== 1) index += coordinate * stride; stride *= own[o]!; }
  }
  return index;
}

export function matmulRef(a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[]): Float64Array {
  const [m, k] = aShape.slice(-2) as [number, number];
  const n = bShape.at(-1)!;
  const aBatch = aShape.slice(0, -2), bBatch = bShape.slice(0, -2);
  const out = broadcastRef(aBatch, bBatch);
  const y = new Float64Array(count(out) * m * n);
  for (let item = 0; item < count(out); item++) {
    const ia = itemIndex(item, out, aBatch) * m * k, ib = itemIndex(item, out, bBatch) * k * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ia + i * k + p]! * b[ib + p * n + j]!;
      y[(item * m + i) * n + j] = s;
    }
  }
  return y;
}

/** x copied to every position of outShape it broadcasts to. */
export function broadcastToRef(x: ArrayLike<number>, shape: readonly number[], outShape: readonly number[]): Float64Array {
  return Float64Array.from({ length: count(outShape) }, (_, i) => x[itemIndex(i, outShape, shape)]!);
}

/** The gradients of matmulRef for an output gradient dy, each summed over the items its operand was broadcast to. */
export function matmulBackwardRef(a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[], dy: ArrayLike<number>): { da: Float64Array; db: Float64Array } {
  const [m, k] = aShape.slice(-2) as [number, number];
  const n = bShape.at(-1)!;
  const aBatch = aShape.slice(0, -2), bBatch = bShape.slice(0, -2);
  const out = broadcastRef(aBatch, bBatch);
  const da = new Float64Array(count(aShape)), db = new Float64Array(count(bShape));
  for (let item = 0; item < count(out); item++) {
    const ia = itemIndex(item, out, aBatch) * m * k, ib = itemIndex(item, out, bBatch) * k * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      const g = dy[(item * m + i) * n + j]!;
      for (let p = 0; p < k; p++) { da[ia + i * k + p]! += g * b[ib + p * n + j]!; db[ib + p * n + j]! += g * a[ia + i * k + p]!; }
    }
  }
  return { da, db };
}

/** The full shapes matmulRef multiplies for per-sample shapes a and b: 1-D operands widened, leading axes padded to one rank, batch first. */
export function matmulFullShapes(batch: number, a: readonly number[], b: readonly number[]): [number[], number[]] {
  const aw = a.length === 1 ? [1, a[0]!] : [...a], bw = b.length === 1 ? [b[0]!, 1] : [...b];
  const rank = Math.max(aw.length, bw.length);
  const pad = (s: number[]) => [batch, ...Array<number>(rank - s.length).fill(1), ...s];
  return [pad(aw), pad(bw)];
}
