// Float64 references for shaders/select.wgsl over full coordinates, operands right-aligned and
// broadcast where their size is 1.
import { broadcastRef } from './elementwise.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The flat index into `shape` of element i of the broadcast shape `out`. */
function sourceIndex(i: number, out: readonly number[], shape: readonly number[]): number {
  let index = 0, rest = i, stride = 1;
  for (let axis = out.length - 1; axis >= 0; axis--) {
    const coordinate = rest % out[axis]!;
    rest = Math.floor(rest / out[axis]!);
    const own = axis - (out.length - shape.length);
    if (own >= 0) {
      if (shape[own] !== 1) index += coordinate * stride;
      stride *= shape[own]!;
    }
  }
  return index;
}

export function whereRef(cond: ArrayLike<number>, condShape: readonly number[], a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[]): Float64Array {
  const out = broadcastRef(broadcastRef(condShape, aShape), bShape);
  return Float64Array.from({ length: count(out) }, (_, i) => (cond[sourceIndex(i, out, condShape)] !== 0 ? a[sourceIndex(i, out, aShape)]! : b[sourceIndex(i, out, bShape)]!));
}

export function maskedFillRef(x: ArrayLike<number>, shape: readonly number[], mask: ArrayLike<number>, maskShape: readonly number[], value: number): Float64Array {
  return Float64Array.from({ length: count(shape) }, (_, i) => (mask[sourceIndex(i, shape, maskShape)] !== 0 ? value : x[i]!));
}

export function whereBackwardRef(cond: ArrayLike<number>, condShape: readonly number[], dy: ArrayLike<number>, outShape: readonly number[], takeTrue: boolean): Float64Array {
  return Float64Array.from({ length: count(outShape) }, (_, i) => ((cond[sourceIndex(i, outShape, condShape)] !== 0) === takeTrue ? dy[i]! : 0));
}
