// Tensor ops along per-sample axes: sum, mean and max over one or several axes (keepDims optional),
// softmax / log-softmax along any axis, and gather by u32 index along an axis (torch.gather). Axes
// count per sample; the batch axis always stays. Kernels in shaders/reduce_axis.wgsl and
// shaders/gather_axis.wgsl. A reduction over several axes runs one axis at a time, innermost first,
// so max's gradient goes to the first maximum in row-major order over the reduced axes (ties
// resolved the same way every run).
import { axisShape, maxAxis, maxAxisBackward, softmaxAxis, softmaxAxisBackward, sumAxis, sumAxisBackward } from '../kernels/reduce_axis.ts';
import { gatherAxis, gatherAxisBackward, gatherAxisScratchWords } from '../kernels/gather_axis.ts';
import { formatShape, type DType } from '../graph/graph.ts';
import { checkBoolean, checkOptions, Layer, layerLabel, op, type BuildContext, type LayerConfig, type Shape, type SymbolicTensor } from './layer.ts';
import { resolveAxis } from './ops.ts';

export const REDUCE_KINDS = ['sum', 'mean', 'max'] as const;
export type ReduceKind = (typeof REDUCE_KINDS)[number];

export interface ReduceOptions { keepDims?: boolean; name?: string }

/** The sum, mean or maximum over per-sample axes. */
export class Reduce extends Layer {
  readonly kind: string;
  readonly axes: readonly number[];
  readonly keepDims: boolean;

  constructor(readonly operation: ReduceKind, axes: number | readonly number[], options: ReduceOptions = {}) {
    super();
    if (!REDUCE_KINDS.includes(operation)) throw new Error(`Reduce: unknown operation ${JSON.stringify(operation)}; expected one of ${REDUCE_KINDS.join(', ')}`);
    const list = typeof axes === 'number' ? [axes] : axes;
    if (!Array.isArray(list) || list.length === 0 || !list.every(Number.isInteger)) throw new Error(`Reduce ${operation}: axes must be an integer or a non-empty list of integers, got ${JSON.stringify(axes)}`);
    checkOptions(`Reduce ${operation}`, options, ['keepDims', 'name']);
    checkBoolean(`Reduce ${operation}`, 'keepDims', options.keepDims);
    this.kind = operation;
    this.axes = [...list];
    this.keepDims = options.keepDims ?? false;
    this.name = options.name ?? '';
  }

  override describe(): string { return `${this.operation}(axes ${this.axes.join(', ')}${this.keepDims ? ', keepDims' : ''})`; }
  override config(): LayerConfig { return { type: 'Reduce', name: this.name, operation: this.operation, axes: [...this.axes], keepDims: this.keepDims }; }

  /** The reduced axes, non-negative, innermost first; each at most once. */
  private resolvedAxes(rank: number): number[] {
    const resolved = this.axes.map((a) => resolveAxis(a, rank, layerLabel(this)));
    if (new Set(resolved).size !== resolved.length) throw new Error(`${layerLabel(this)}: axes ${JSON.stringify(this.axes)} name the same axis twice`);
    return resolved.sort((p, q) => q - p);
  }

  /** Reducing every per-sample axis without keepDims leaves [1]: a sample is never a bare scalar. */
  outputShape(input: Shape): Shape {
    const axes = this.resolvedAxes(input.length);
    if (this.keepDims) return input.map((d, i) => (axes.includes(i) ? 1 : d));
    const kept = input.filter((_, i) => !axes.includes(i));
    return kept.length ? kept : [1];
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch, tape } = ctx;
    const sample = graph.shape(x).slice(1);
    let current = x;
    let shape = [batch, ...sample];
    for (const axis of this.resolvedAxes(sample.length)) {
      const s = axisShape(shape, axis + 1);
      const source = current;
      const reducedShape = shape.map((d, i) => (i === axis + 1 ? 1 : d));
      const y = graph.tensor(`${this.name}.axis${axis}`, reducedShape);
      if (this.operation === 'max') {
        const argmax = graph.tensor(`${this.name}.argmax${axis}`, reducedShape, 'temp', 'u32');
        op(graph, `${this.name}.forward`, [source], [y, argmax], (gpu, buf) => maxAxis(gpu, s, { x: buf(source), y: buf(y), argmax: buf(argmax) }));
        tape.record([source], [y], (g) => {
          if (!g.wants(source)) return;
          const dy = g.gradOf(y), dx = g.gradTarget(source);
          op(graph, `${this.name}.backward`, [dy, argmax], [dx], (gpu, buf) => maxAxisBackward(gpu, s, { dy: buf(dy), argmax: buf(argmax), dx: buf(dx) }));
        });
      } else {
        const alpha = this.operation === 'mean' ? 1 / s.n : 1;
        op(graph, `${this.name}.forward`, [source], [y], (gpu, buf) => sumAxis(gpu, s, { x: buf(source), y: buf(y), alpha }));
        tape.record([source], [y], (g) => {
          if (!g.wants(source)) return;
          const dy = g.gradOf(y), dx = g.gradTarget(source);
          op(graph, `${this.name}.backward`, [dy], [dx], (gpu, buf) => sumAxisBackward(gpu, s, { dy: buf(dy), dx: buf(dx), alpha }));
        });
      }
      current = y;
      shape = reducedShape;
    }
    if (this.keepDims) return current;
    const out = graph.view(current, [batch, ...this.outputShape(sample)], `${this.name}.out`);
    tape.recordView(current, out);
    return out;
  }
}

/** Softmax, or log-softmax, along one per-sample axis (numerically stable: shifted by the maximum). */
export class SoftmaxAxis extends Layer {
  readonly kind: string;
  constructor(readonly axis = -1, readonly log = false, name = '') {
    super();
    if (!Number.isInteger(axis)) throw new Error(`SoftmaxAxis: axis must be an integer, got ${axis}`);
    if (typeof log !== 'boolean') throw new Error(`SoftmaxAxis: log must be true or false, got ${JSON.stringify(log)}`);
    this.kind = log ? 'logsoftmax' : 'softmax';
    this.name = name;
  }

  override describe(): string { return `${this.log ? 'logSoftmax' : 'softmax'}(axis ${this.axis})`; }
  override config(): LayerConfig { return { type: 'SoftmaxAxis', name: this.name, axis: this.axis, log: this.log }; }

  outputShape(input: Shape): Shape {
    resolveAxis(this.axis, input.length, layerLabel(this));
    return input;
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph } = ctx;
    const shape = graph.shape(x);
    const s = axisShape(shape, resolveAxis(this.axis, shape.length - 1, layerLabel(this)) + 1);
    const y = graph.tensor(`${this.name}.out`, shape);
    const log = this.log;
    op(graph, `${this.name}.forward`, [x], [y], (gpu, buf) => softmaxAxis(gpu, s, { x: buf(x), y: buf(y), log }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y), dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [y, dy], [dx], (gpu, buf) => softmaxAxisBackward(gpu, s, { y: buf(y), dy: buf(dy), dx: buf(dx), log }));
    });
    return y;
  }
}

/**
 * torch.gather along a per-sample axis: out[…, j, …] = x[…, indices[…, j, …], …]. The indices are
 * a u32 tensor (a model input) of x's rank and sizes except along the axis, and the output has their
 * shape. An index past the axis gives 0 and no gradient; x's gradient sums every pick in index order.
 */
export class Gather extends Layer {
  readonly kind = 'gather';
  constructor(readonly axis: number, name = '') {
    super();
    if (!Number.isInteger(axis)) throw new Error(`Gather: axis must be an integer, got ${axis}`);
    this.name = name;
  }

  override acceptsInputs(count: number): boolean { return count === 2; }
  override describe(): string { return `Gather(axis ${this.axis})`; }
  override config(): LayerConfig { return { type: 'Gather', name: this.name, axis: this.axis }; }
  override outputDType(x: DType, indices: DType): DType {
    if (x !== 'f32') throw new Error(`${layerLabel(this)}: x must be an f32 tensor, got ${x}`);
    if (indices !== 'u32') throw new Error(`${layerLabel(this)}: the indices must be a u32 tensor (draw them as input(shape, { dtype: 'u32' })), got ${indices}`);
    return 'f32';
  }

  outputShape(x: Shape, indices: Shape): Shape {
    const axis = resolveAxis(this.axis, x.length, layerLabel(this));
    if (indices.length !== x.length || indices.some((d, i) => i !== axis && d !== x[i])) {
      throw new Error(`${layerLabel(this)}: indices ${formatShape(indices)} must have the rank and sizes of x ${formatShape(x)} except along axis ${this.axis}`);
    }
    return indices;
  }

  forward(ctx: BuildContext, x: number, indices: number): number {
    const { graph } = ctx;
    const xShape = graph.shape(x), outShape = graph.shape(indices);
    const axis = resolveAxis(this.axis, xShape.length - 1, layerLabel(this)) + 1;
    const s = { ...axisShape(xShape, axis), k: outShape[axis]! };
    const y = graph.tensor(`${this.name}.out`, outShape);
    op(graph, `${this.name}.forward`, [x, indices], [y], (gpu, buf) => gatherAxis(gpu, s, { x: buf(x), indices: buf(indices), out: buf(y) }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y), dx = g.gradTarget(x);
      const scratch = graph.tensor(`${this.name}.backward.buckets`, [gatherAxisScratchWords(s)], 'temp', 'u32');
      op(graph, `${this.name}.backward`, [indices, dy], [dx, scratch], (gpu, buf) => gatherAxisBackward(gpu, s, { indices: buf(indices), dy: buf(dy), dx: buf(dx), scratch: buf(scratch) }));
    });
    return y;
  }
}

const reduction = (operation: ReduceKind) => (x: SymbolicTensor, axes: number | readonly number[], options: ReduceOptions = {}): SymbolicTensor => new Reduce(operation, axes, options).apply(x);

/** The sum over per-sample axes (the batch axis stays). */
export const sum = reduction('sum');
/** The mean over per-sample axes (the batch axis stays). */
export const mean = reduction('mean');
/** The maximum over per-sample axes; its gradient goes to the first maximum in row-major order. */
export const max = reduction('max');
/** Softmax along a per-sample axis (the last by default). */
export const softmax = (x: SymbolicTensor, axis = -1): SymbolicTensor => new SoftmaxAxis(axis, false).apply(x);
/** Log-softmax along a per-sample axis (the last by default). */
export const logSoftmax = (x: SymbolicTensor, axis = -1): SymbolicTensor => new SoftmaxAxis(axis, true).apply(x);
/** torch.gather along a per-sample axis with u32 indices of x's shape except along that axis. */
export const gather = (x: SymbolicTensor, indices: SymbolicTensor, axis: number): SymbolicTensor => new Gather(axis).apply(x, indices);
