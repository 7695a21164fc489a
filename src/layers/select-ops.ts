// Choosing elements by a condition: where(cond, a, b) with NumPy broadcasting of all three, and
// maskedFill(x, mask, value). The condition is a tensor, f32 0/1 or u32 (a model input); it gets no
// gradient, which flows only to a and b (to x where the mask is false). Kernels in shaders/select.wgsl.
import { broadcastShape } from '../kernels/elementwise.ts';
import { selectMaskedFill, selectWhere, whereBackward } from '../kernels/select.ts';
import { formatShape, type DType } from '../graph/graph.ts';
import { Layer, layerLabel, op, type BuildContext, type LayerConfig, type Shape, type SymbolicTensor } from './layer.ts';
import { batchedShapes, broadcastGradient } from './ops.ts';

function refuseU32Values(layer: Layer, dtypes: readonly DType[], names: readonly string[]): void {
  dtypes.forEach((dtype, i) => {
    if (dtype !== 'f32') throw new Error(`${layerLabel(layer)}: ${names[i]} must be an f32 tensor, got ${dtype} (only the condition may be u32)`);
  });
}

/** cond ? a : b elementwise, all three broadcast together. */
export class Where extends Layer {
  readonly kind = 'where';
  constructor(name = '') { super(); this.name = name; }

  override acceptsInputs(count: number): boolean { return count === 3; }
  override describe(): string { return 'Where'; }
  override config(): LayerConfig { return { type: 'Where', name: this.name }; }
  override outputDType(_cond: DType, a: DType, b: DType): DType { refuseU32Values(this, [a, b], ['a', 'b']); return 'f32'; }

  outputShape(cond: Shape, a: Shape, b: Shape): Shape {
    const label = layerLabel(this);
    return broadcastShape(broadcastShape(cond, a, `${label} (cond and a)`), b, `${label} (cond·a and b)`);
  }

  forward(ctx: BuildContext, cond: number, a: number, b: number): number {
    const { graph, batch } = ctx;
    const [condShape, aShape, bShape] = batchedShapes(batch, [cond, a, b].map((t) => graph.shape(t).slice(1))) as [number[], number[], number[]];
    const outShape = [batch, ...this.outputShape(condShape.slice(1), aShape.slice(1), bShape.slice(1))];
    const condDType = graph.info(cond).dtype;
    const y = graph.tensor(`${this.name}.out`, outShape);
    op(graph, `${this.name}.forward`, [cond, a, b], [y], (gpu, buf) => selectWhere(gpu, { cond: buf(cond), a: buf(a), b: buf(b), out: buf(y), condShape, aShape, bShape, condDType }));
    ctx.tape.record([a, b], [y], (g) => {
      const dy = g.gradOf(y);
      const side = (takeTrue: boolean) => (target: number) => op(graph, `${this.name}.backward`, [cond, dy], [target], (gpu, buf) =>
        whereBackward(gpu, { cond: buf(cond), dy: buf(dy), out: buf(target), condShape, outShape, condDType, takeTrue }));
      broadcastGradient(g, this.name, a, aShape, outShape, side(true));
      broadcastGradient(g, this.name, b, bShape, outShape, side(false));
    });
    return y;
  }
}

/** x with `value` where the mask is true; the mask broadcasts to x's shape. */
export class MaskedFill extends Layer {
  readonly kind = 'maskedfill';
  constructor(readonly value: number, name = '') {
    super();
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`MaskedFill: value must be a finite number (a large negative one such as −1e9 masks logits before softmax), got ${String(value)}`);
    this.name = name;
  }

  override acceptsInputs(count: number): boolean { return count === 2; }
  override describe(): string { return `MaskedFill(${this.value})`; }
  override config(): LayerConfig { return { type: 'MaskedFill', name: this.name, value: this.value }; }
  override outputDType(x: DType): DType { refuseU32Values(this, [x], ['x']); return 'f32'; }

  outputShape(x: Shape, mask: Shape): Shape {
    const joint = broadcastShape(x, mask, layerLabel(this));
    if (joint.length !== x.length || joint.some((d, i) => d !== x[i])) throw new Error(`${layerLabel(this)}: the mask ${formatShape(mask)} must broadcast to x ${formatShape(x)} without growing it`);
    return x;
  }

  forward(ctx: BuildContext, x: number, mask: number): number {
    const { graph, batch } = ctx;
    const [shape, maskShape] = batchedShapes(batch, [graph.shape(x).slice(1), graph.shape(mask).slice(1)]) as [number[], number[]];
    const maskDType = graph.info(mask).dtype;
    const value = this.value;
    const y = graph.tensor(`${this.name}.out`, shape);
    op(graph, `${this.name}.forward`, [x, mask], [y], (gpu, buf) => selectMaskedFill(gpu, { x: buf(x), mask: buf(mask), out: buf(y), shape, maskShape, maskDType, value }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y), dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [mask, dy], [dx], (gpu, buf) => whereBackward(gpu, { cond: buf(mask), dy: buf(dy), out: buf(dx), condShape: maskShape, outShape: shape, condDType: maskDType, takeTrue: false }));
    });
    return y;
  }
}

/** cond ? a : b with broadcasting; cond is f32 (true unless 0) or u32. Gradients reach a and b only. */
export const where = (cond: SymbolicTensor, a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor => new Where().apply(cond, a, b);
/** x with `value` where mask is true (−1e9 masks logits before softmax); x's gradient is kept where the mask is false. */
export const maskedFill = (x: SymbolicTensor, mask: SymbolicTensor, value: number): SymbolicTensor => new MaskedFill(value).apply(x, mask);
