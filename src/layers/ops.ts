// Tensor ops as layers without parameters, so a drawn model can combine tensors: elementwise
// arithmetic with broadcasting (add, sub, mul, div), scalar ops, exp/log/sqrt, concatenation,
// slicing, reshaping and permuting axes. Each records its own reverse-mode gradient; broadcast
// operands get their gradient summed back to their shape. Axes count per sample (no batch axis);
// negative axes count from the end.
import { broadcastShape, binaryOp, fillBuffer, permuteAxes, sumToShape, unaryOp, type BinaryOp } from '../kernels/elementwise.ts';
import { copyBlocks } from '../kernels/layout.ts';
import { elementCount, formatShape, type GradContext } from '../graph/graph.ts';
import { Layer, op, SymbolicTensor, type BuildContext, type LayerConfig, type Shape } from './layer.ts';

/** Full (batched) shapes of broadcast operands: per-sample shapes right-aligned to one rank, batch first. */
export function batchedShapes(batch: number, shapes: readonly Shape[]): number[][] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return shapes.map((s) => [batch, ...Array<number>(rank - s.length).fill(1), ...s]);
}

/** The full (batched) shapes of two broadcast operands and of their result. */
function batchedOperands(batch: number, a: Shape, b: Shape): [number[], number[], number[]] {
  const [aShape, bShape] = batchedShapes(batch, [a, b]) as [number[], number[]];
  return [aShape, bShape, [batch, ...broadcastShape(a, b)]];
}

const BINARY_KINDS: Record<BinaryOp, string> = { add: 'add', sub: 'sub', mul: 'mul', div: 'div' };

/**
 * The gradient of an operand that was broadcast to outShape: `partial` writes it at outShape, and
 * it is summed back over the broadcast axes where the operand is smaller.
 */
export function broadcastGradient(g: GradContext, name: string, operand: number, shape: readonly number[], outShape: readonly number[], partial: (target: number) => void): void {
  if (!g.wants(operand)) return;
  const dx = g.gradTarget(operand);
  if (elementCount(shape) === elementCount(outShape)) { partial(dx); return; }
  const full = g.graph.tensor(`grad(${name}.broadcast)`, outShape);
  partial(full);
  op(g.graph, `${name}.backward.reduce`, [full], [dx], (gpu, buf) => sumToShape(gpu, { src: buf(full), dst: buf(dx), srcShape: outShape, dstShape: shape }));
}

/** a ∘ b elementwise, with NumPy broadcasting over the per-sample shapes. */
export class Elementwise extends Layer {
  readonly kind: string;
  constructor(readonly operation: BinaryOp, name = '') {
    super();
    if (!(operation in BINARY_KINDS)) throw new Error(`Elementwise: unknown operation ${JSON.stringify(operation)}; expected one of ${Object.keys(BINARY_KINDS).join(', ')}`);
    this.kind = BINARY_KINDS[operation];
    this.name = name;
  }

  override acceptsInputs(count: number): boolean { return count === 2; }
  override describe(): string { return `${this.kind[0]!.toUpperCase()}${this.kind.slice(1)}`; }
  override config(): LayerConfig { return { type: 'Elementwise', name: this.name, operation: this.operation }; }

  outputShape(a: Shape, b: Shape): Shape {
    const label = this.name ? `layer ${this.name} (${this.describe()})` : this.describe();
    return broadcastShape(a, b, label);
  }

  forward(ctx: BuildContext, a: number, b: number): number {
    const { graph, batch } = ctx;
    const [aShape, bShape, outShape] = batchedOperands(batch, graph.shape(a).slice(1), graph.shape(b).slice(1));
    const y = graph.tensor(`${this.name}.out`, outShape);
    const operation = this.operation;
    op(graph, `${this.name}.forward`, [a, b], [y], (gpu, buf) => binaryOp(gpu, { op: operation, a: buf(a), b: buf(b), out: buf(y), aShape, bShape, outShape }));
    ctx.tape.record([a, b], [y], (g) => {
      const dy = g.gradOf(y);
      const gradient = (operand: number, shape: number[], partial: (out: number) => void) => broadcastGradient(g, this.name, operand, shape, outShape, partial);
      const copy = (target: number, alpha: number) => op(graph, `${this.name}.backward`, [dy], [target], (gpu, buf) => unaryOp(gpu, { op: 'affine', x: buf(dy), y: buf(target), count: elementCount(outShape), alpha }));
      const times = (other: number, otherShape: number[], kind: BinaryOp, alpha = 1) => (target: number) =>
        op(graph, `${this.name}.backward`, [dy, other], [target], (gpu, buf) => binaryOp(gpu, { op: kind, a: buf(dy), b: buf(other), out: buf(target), aShape: outShape, bShape: otherShape, outShape, alpha }));
      switch (operation) {
        case 'add': gradient(a, aShape, (t) => copy(t, 1)); gradient(b, bShape, (t) => copy(t, 1)); break;
        case 'sub': gradient(a, aShape, (t) => copy(t, 1)); gradient(b, bShape, (t) => copy(t, -1)); break;
        case 'mul': gradient(a, aShape, times(b, bShape, 'mul')); gradient(b, bShape, times(a, aShape, 'mul')); break;
        case 'div': {
          gradient(a, aShape, times(b, bShape, 'div'));
          // d(a/b)/db = −(a/b)/b: the output times dy, divided by b.
          gradient(b, bShape, (target) => {
            const dyTimesY = graph.tensor(`grad(${this.name}.dy·y)`, outShape);
            op(graph, `${this.name}.backward.dy·y`, [dy, y], [dyTimesY], (gpu, buf) => binaryOp(gpu, { op: 'mul', a: buf(dy), b: buf(y), out: buf(dyTimesY), aShape: outShape, bShape: outShape }));
            op(graph, `${this.name}.backward`, [dyTimesY, b], [target], (gpu, buf) => binaryOp(gpu, { op: 'div', a: buf(dyTimesY), b: buf(b), out: buf(target), aShape: outShape, bShape, outShape, alpha: -1 }));
          });
          break;
        }
      }
    });
    return y;
  }
}

/** Checks a per-sample axis and makes it non-negative. */
export function resolveAxis(axis: number, rank: number, what: string): number {
  const resolved = axis < 0 ? rank + axis : axis;
  if (!Number.isInteger(axis) || resolved < 0 || resolved >= rank) throw new Error(`${what}: axis ${axis} is out of range for a per-sample rank of ${rank} (axes count per sample; the batch axis always stays)`);
  return resolved;
}

export type UnaryKind = 'exp' | 'log' | 'sqrt' | 'scale' | 'shift';

/** exp, log, sqrt, or x·s / x + s for a scalar s. */
export class Unary extends Layer {
  readonly kind: string;
  constructor(readonly operation: UnaryKind, readonly scalar = 0, name = '') {
    super();
    if (!['exp', 'log', 'sqrt', 'scale', 'shift'].includes(operation)) throw new Error(`Unary: unknown operation ${JSON.stringify(operation)}`);
    if (!Number.isFinite(scalar)) throw new Error(`Unary ${operation}: the scalar must be a finite number, got ${scalar}`);
    this.kind = operation;
    this.name = name;
  }

  override config(): LayerConfig { return { type: 'Unary', name: this.name, operation: this.operation, scalar: this.scalar }; }
  override describe(): string { return this.operation === 'scale' || this.operation === 'shift' ? `${this.operation}(${this.scalar})` : this.operation; }
  outputShape(input: Shape): Shape { return input; }

  forward(ctx: BuildContext, x: number): number {
    const { graph } = ctx;
    const shape = graph.shape(x);
    const count = elementCount(shape);
    const y = graph.tensor(`${this.name}.out`, shape);
    const { operation, scalar } = this;
    const affine = operation === 'scale' ? { alpha: scalar, beta: 0 } : operation === 'shift' ? { alpha: 1, beta: scalar } : { alpha: 1, beta: 0 };
    const kernelOp = operation === 'scale' || operation === 'shift' ? 'affine' : operation;
    op(graph, `${this.name}.forward`, [x], [y], (gpu, buf) => unaryOp(gpu, { op: kernelOp, x: buf(x), y: buf(y), count, ...affine }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      const full = [...shape];
      const emitBinary = (kind: BinaryOp, other: number, alpha: number) => op(graph, `${this.name}.backward`, [dy, other], [dx], (gpu, buf) => binaryOp(gpu, { op: kind, a: buf(dy), b: buf(other), out: buf(dx), aShape: full, bShape: full, alpha }));
      if (operation === 'exp') emitBinary('mul', y, 1);
      else if (operation === 'log') emitBinary('div', x, 1);
      else if (operation === 'sqrt') emitBinary('div', y, 0.5);
      else op(graph, `${this.name}.backward`, [dy], [dx], (gpu, buf) => unaryOp(gpu, { op: 'affine', x: buf(dy), y: buf(dx), count, alpha: affine.alpha }));
    });
    return y;
  }
}

/** Joins tensors along a per-sample axis; every other size must agree. */
export class Concatenate extends Layer {
  readonly kind = 'concat';
  constructor(readonly axis = 0, name = '') {
    super();
    if (!Number.isInteger(axis)) throw new Error(`Concatenate: axis must be an integer, got ${axis}`);
    this.name = name;
  }

  override acceptsInputs(count: number): boolean { return count >= 2; }
  override describe(): string { return `Concatenate(axis ${this.axis})`; }
  override config(): LayerConfig { return { type: 'Concatenate', name: this.name, axis: this.axis }; }

  outputShape(...inputs: Shape[]): Shape {
    const label = this.name ? `layer ${this.name} (${this.describe()})` : this.describe();
    const first = inputs[0]!;
    const axis = resolveAxis(this.axis, first.length, label);
    for (const s of inputs.slice(1)) {
      if (s.length !== first.length || s.some((d, i) => i !== axis && d !== first[i])) {
        throw new Error(`${label}: cannot join ${formatShape(first)} and ${formatShape(s)} along axis ${this.axis}: the other sizes must match`);
      }
    }
    const out = [...first];
    out[axis] = inputs.reduce((sum, s) => sum + s[axis]!, 0);
    return out;
  }

  forward(ctx: BuildContext, ...xs: number[]): number {
    const { graph, batch } = ctx;
    const shapes = xs.map((x) => graph.shape(x).slice(1));
    const outShape = this.outputShape(...shapes);
    const axis = resolveAxis(this.axis, outShape.length, this.name) + 1;
    const full = [batch, ...outShape];
    const outer = elementCount(full.slice(0, axis));
    const inner = elementCount(full.slice(axis + 1));
    const y = graph.tensor(`${this.name}.out`, full);
    const offsets: number[] = [];
    let offset = 0;
    for (const s of shapes) { offsets.push(offset); offset += s[axis - 1]!; }
    const dstStride = full[axis]! * inner;
    op(graph, `${this.name}.forward`, xs, [y], (gpu, buf) => xs.flatMap((x, i) => copyBlocks(gpu, {
      src: buf(x), dst: buf(y), outer, width: shapes[i]![axis - 1]! * inner, srcStride: shapes[i]![axis - 1]! * inner, srcOffset: 0, dstStride, dstOffset: offsets[i]! * inner,
    }, `${this.name}.forward.${i}`)));
    ctx.tape.record(xs, [y], (g) => {
      const dy = g.gradOf(y);
      xs.forEach((x, i) => {
        if (!g.wants(x)) return;
        const dx = g.gradTarget(x);
        const width = shapes[i]![axis - 1]! * inner;
        op(graph, `${this.name}.backward.${i}`, [dy], [dx], (gpu, buf) => copyBlocks(gpu, { src: buf(dy), dst: buf(dx), outer, width, srcStride: dstStride, srcOffset: offsets[i]! * inner, dstStride: width, dstOffset: 0 }));
      });
    });
    return y;
  }
}

/** Elements [start, end) of a per-sample axis. */
export class Slice extends Layer {
  readonly kind = 'slice';
  constructor(readonly axis: number, readonly start: number, readonly end: number, name = '') {
    super();
    if (![axis, start, end].every(Number.isInteger)) throw new Error(`Slice: axis, start and end must be integers, got ${axis}, ${start}, ${end}`);
    this.name = name;
  }

  override config(): LayerConfig { return { type: 'Slice', name: this.name, axis: this.axis, start: this.start, end: this.end }; }
  override describe(): string { return `Slice(axis ${this.axis}, ${this.start}:${this.end})`; }

  outputShape(input: Shape): Shape {
    const label = this.name ? `layer ${this.name} (${this.describe()})` : this.describe();
    const axis = resolveAxis(this.axis, input.length, label);
    if (this.start < 0 || this.end > input[axis]! || this.start >= this.end) throw new Error(`${label}: ${this.start}:${this.end} is not a non-empty range of axis ${this.axis} of ${formatShape(input)}`);
    const out = [...input];
    out[axis] = this.end - this.start;
    return out;
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const inShape = [batch, ...graph.shape(x).slice(1)];
    const axis = resolveAxis(this.axis, inShape.length - 1, this.name) + 1;
    const outShape = [batch, ...this.outputShape(inShape.slice(1))];
    const outer = elementCount(inShape.slice(0, axis));
    const inner = elementCount(inShape.slice(axis + 1));
    const width = (this.end - this.start) * inner;
    const srcStride = inShape[axis]! * inner;
    const srcOffset = this.start * inner;
    const y = graph.tensor(`${this.name}.out`, outShape);
    op(graph, `${this.name}.forward`, [x], [y], (gpu, buf) => copyBlocks(gpu, { src: buf(x), dst: buf(y), outer, width, srcStride, srcOffset, dstStride: width, dstOffset: 0 }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [dy], [dx], (gpu, buf) => [
        ...fillBuffer(gpu, { out: buf(dx), count: elementCount(inShape), value: 0 }),
        ...copyBlocks(gpu, { src: buf(dy), dst: buf(dx), outer, width, srcStride: width, srcOffset: 0, dstStride: srcStride, dstOffset: srcOffset }),
      ]);
    });
    return y;
  }
}

/** The per-sample axes reordered: output axis k is input axis perm[k] (a transpose for two axes). */
export class Permute extends Layer {
  readonly kind = 'permute';
  constructor(readonly perm: readonly number[], name = '') {
    super();
    if (!Array.isArray(perm) || perm.length === 0 || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new Error(`Permute: ${JSON.stringify(perm)} is not a permutation of 0…n−1`);
    }
    this.name = name;
  }

  override describe(): string { return `Permute(${this.perm.join(', ')})`; }
  override config(): LayerConfig { return { type: 'Permute', name: this.name, perm: [...this.perm] }; }

  outputShape(input: Shape): Shape {
    if (input.length !== this.perm.length) throw new Error(`${this.name ? `layer ${this.name} (${this.describe()})` : this.describe()}: needs a per-sample rank of ${this.perm.length}, got ${formatShape(input)}`);
    return this.perm.map((p) => input[p]!);
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const inShape = [batch, ...graph.shape(x).slice(1)];
    const full = [0, ...this.perm.map((p) => p + 1)];
    const outShape = full.map((p) => inShape[p]!);
    const y = graph.tensor(`${this.name}.out`, outShape);
    op(graph, `${this.name}.forward`, [x], [y], (gpu, buf) => permuteAxes(gpu, { x: buf(x), y: buf(y), shape: inShape, perm: full }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      const inverse = full.map((_, i) => full.indexOf(i));
      op(graph, `${this.name}.backward`, [dy], [dx], (gpu, buf) => permuteAxes(gpu, { x: buf(dy), y: buf(dx), shape: outShape, perm: inverse }));
    });
    return y;
  }
}

/** A new per-sample shape with the same elements (one size may be −1: inferred). Shares storage. */
export class Reshape extends Layer {
  readonly kind = 'reshape';
  constructor(readonly shape: Shape, name = '') {
    super();
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && (d > 0 || d === -1)) || shape.filter((d) => d === -1).length > 1) {
      throw new Error(`Reshape: shape must be positive integers with at most one −1, got ${JSON.stringify(shape)}`);
    }
    this.name = name;
  }

  override config(): LayerConfig { return { type: 'Reshape', name: this.name, shape: [...this.shape] }; }
  override describe(): string { return `Reshape(${formatShape(this.shape)})`; }

  outputShape(input: Shape): Shape {
    const label = this.name ? `layer ${this.name} (${this.describe()})` : this.describe();
    const count = elementCount(input);
    const known = elementCount(this.shape.filter((d) => d !== -1));
    const out = this.shape.map((d) => (d === -1 ? count / known : d));
    if (!out.every(Number.isInteger) || elementCount(out) !== count) throw new Error(`${label}: cannot reshape ${formatShape(input)} (${count} elements) to ${formatShape(this.shape)}`);
    return out;
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const y = graph.view(x, [batch, ...this.outputShape(graph.shape(x).slice(1))], `${this.name}.out`);
    ctx.tape.recordView(x, y);
    return y;
  }
}

const binary = (operation: BinaryOp) => (a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor => new Elementwise(operation).apply(a, b);

/** a + b with broadcasting. */
export const add = binary('add');
/** a − b with broadcasting. */
export const sub = binary('sub');
/** a · b with broadcasting. */
export const mul = binary('mul');
/** a / b with broadcasting. */
export const div = binary('div');
export const exp = (x: SymbolicTensor): SymbolicTensor => new Unary('exp').apply(x);
export const log = (x: SymbolicTensor): SymbolicTensor => new Unary('log').apply(x);
export const sqrt = (x: SymbolicTensor): SymbolicTensor => new Unary('sqrt').apply(x);
/** x · s for a number s. */
export const scale = (x: SymbolicTensor, s: number): SymbolicTensor => new Unary('scale', s).apply(x);
/** x + s for a number s. */
export const shift = (x: SymbolicTensor, s: number): SymbolicTensor => new Unary('shift', s).apply(x);
export const concat = (xs: readonly SymbolicTensor[], axis = 0): SymbolicTensor => new Concatenate(axis).apply(...xs);
export const slice = (x: SymbolicTensor, axis: number, start: number, end: number): SymbolicTensor => new Slice(axis, start, end).apply(x);
export const reshape = (x: SymbolicTensor, shape: Shape): SymbolicTensor => new Reshape(shape).apply(x);
export const permute = (x: SymbolicTensor, perm: readonly number[]): SymbolicTensor => new Permute(perm).apply(x);
/** Swaps the last two per-sample axes. */
export function transpose(x: SymbolicTensor): SymbolicTensor {
  const n = x.shape.length;
  if (n < 2) throw new Error(`transpose: needs at least two per-sample axes, got ${formatShape(x.shape)}`);
  const perm = [...Array(n).keys()];
  [perm[n - 2], perm[n - 1]] = [n - 1, n - 2];
  return permute(x, perm);
}

/** Splits a per-sample axis into consecutive pieces of the given sizes. */
export function split(x: SymbolicTensor, sizes: readonly number[], axis = 0): SymbolicTensor[] {
  let start = 0;
  return sizes.map((size) => { const piece = slice(x, axis, start, start + size); start += size; return piece; });
}
