// Float64 references for shaders/elementwise.wgsl: broadcast arithmetic, unary functions and the
// sum of a broadcast tensor back to its operand's shape, written the plain way (full coordinates).

const stridesOf = (shape: readonly number[]): number[] => {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  return strides;
};
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The flat index into `shape` (right-aligned against out, size-1 axes broadcast) of out's element i. */
function sourceIndex(i: number, out: readonly number[], shape: readonly number[]): number {
  const outStrides = stridesOf(out);
  const strides = stridesOf(shape);
  let index = 0;
  for (let axis = 0; axis < out.length; axis++) {
    const coordinate = Math.floor(i / outStrides[axis]!) % out[axis]!;
    const own = axis - (out.length - shape.length);
    if (own >= 0 && shape[own] !== 1) index += coordinate * strides[own]!;
  }
  return index;
}

export function broadcastRef(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => Math.max(a[a.length - rank + i] ?? 1, b[b.length - rank + i] ?? 1));
}

export const BINARY_REF: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
};

export function binaryRef(op: string, a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[], alpha = 1): Float64Array {
  const out = broadcastRef(aShape, bShape);
  const f = BINARY_REF[op]!;
  return Float64Array.from({ length: count(out) }, (_, i) => alpha * f(a[sourceIndex(i, out, aShape)]!, b[sourceIndex(i, out, bShape)]!));
}

export function sumToShapeRef(src: ArrayLike<number>, srcShape: readonly number[], dstShape: readonly number[], alpha = 1): Float64Array {
  const dst = new Float64Array(count(dstShape));
  for (let i = 0; i < count(srcShape); i++) dst[sourceIndex(i, srcShape, dstShape)]! += src[i]!;
  return dst.map((v) => alpha * v);
}

export const UNARY_REF: Record<string, (z: number) => number> = { affine: (z) => z, exp: Math.exp, log: Math.log, sqrt: Math.sqrt };

export function unaryRef(op: string, x: ArrayLike<number>, alpha = 1, beta = 0): Float64Array {
  return Float64Array.from(x, (v) => UNARY_REF[op]!(alpha * v + beta));
}

/** Concatenation along `axis` of full shapes that agree elsewhere. */
export function concatRef(parts: { data: ArrayLike<number>; shape: readonly number[] }[], axis: number): Float64Array {
  const outer = count(parts[0]!.shape.slice(0, axis));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const { data, shape } of parts) {
      const row = count(shape.slice(axis));
      for (let e = 0; e < row; e++) out.push(data[o * row + e]!);
    }
  }
  return Float64Array.from(out);
}

/** Elements [start, end) of `axis` of a full shape. */
export function sliceRef(data: ArrayLike<number>, shape: readonly number[], axis: number, start: number, end: number): Float64Array {
  const outer = count(shape.slice(0, axis));
  const inner = count(shape.slice(axis + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (let j = start; j < end; j++) for (let e = 0; e < inner; e++) out.push(data[(o * shape[axis]! + j) * inner + e]!);
  return Float64Array.from(out);
}

/** x of full `shape` with its axes permuted: output axis k is input axis perm[k]. */
export function permuteRef(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = stridesOf(shape), outStrides = stridesOf(outShape);
  return Float64Array.from({ length: count(shape) }, (_, i) => {
    let source = 0;
    for (let k = 0; k < outShape.length; k++) source += (Math.floor(i / outStrides[k]!) % outShape[k]!) * inStrides[perm[k]!]!;
    return x[source]!;
  });
}
