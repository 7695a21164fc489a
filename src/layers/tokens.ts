// Layers that shape token sequences [tokens, width] for transformers: a learned positional
// embedding added to every sample, and a learned class token put in front of the sequence (ViT).
// Both own one parameter and fold its gradient over the batch without atomics.
import { binaryOp, sumToShape, unaryOp } from '../kernels/elementwise.ts';
import { copyBlocks } from '../kernels/layout.ts';
import { elementCount } from '../graph/graph.ts';
import { checkOptions, Layer, op, shapeError, type BuildContext, type ParamSpec, type Shape } from './layer.ts';

/** Small uniform values with the spread (std 0.02) GPT-2 and ViT give these tables. */
const TOKEN_INIT = { kind: 'uniform' as const, limit: 0.02 * Math.sqrt(3) };

function sequenceShape(layer: Layer, input: Shape): [number, number] {
  if (input.length !== 2) throw shapeError(layer, 'a sequence [tokens, width]', input);
  return [input[0]!, input[1]!];
}

/** y = x + P for a learned P of the sequence's shape [tokens, width], the same for every sample. */
export class PositionalEmbedding extends Layer {
  readonly kind = 'pos';
  constructor(o: { name?: string } = {}) {
    super();
    checkOptions('PositionalEmbedding', o, ['name']);
    this.name = o.name ?? '';
  }

  override describe(): string { return 'PositionalEmbedding'; }
  outputShape(input: Shape): Shape { sequenceShape(this, input); return input; }
  override params(input: Shape): ParamSpec[] { return [{ name: 'weight', shape: [...sequenceShape(this, input)], init: TOKEN_INIT }]; }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const sample = graph.shape(x).slice(1);
    const full = [batch, ...sample];
    const table = ctx.param(this, 'weight');
    const y = graph.tensor(`${this.name}.out`, full);
    op(graph, `${this.name}.forward`, [x, table], [y], (gpu, b) => binaryOp(gpu, { op: 'add', a: b(x), b: b(table), out: b(y), aShape: full, bShape: [1, ...sample] }));
    ctx.tape.record([x, table], [y], (g) => {
      const dy = g.gradOf(y);
      if (g.wants(x)) {
        const dx = g.gradTarget(x);
        op(graph, `${this.name}.backward.input`, [dy], [dx], (gpu, b) => unaryOp(gpu, { op: 'affine', x: b(dy), y: b(dx), count: elementCount(full) }));
      }
      if (g.wants(table)) {
        const dt = g.gradTarget(table);
        op(graph, `${this.name}.backward.weight`, [dy], [dt], (gpu, b) => sumToShape(gpu, { src: b(dy), dst: b(dt), srcShape: full, dstShape: [1, ...sample] }));
      }
    });
    return y;
  }
}

/** A learned token [width] put before every sample's sequence: [tokens, width] → [tokens + 1, width]. */
export class ClassToken extends Layer {
  readonly kind = 'cls';
  constructor(o: { name?: string } = {}) {
    super();
    checkOptions('ClassToken', o, ['name']);
    this.name = o.name ?? '';
  }

  override describe(): string { return 'ClassToken'; }
  outputShape(input: Shape): Shape { const [tokens, width] = sequenceShape(this, input); return [tokens + 1, width]; }
  override params(input: Shape): ParamSpec[] { return [{ name: 'weight', shape: [1, sequenceShape(this, input)[1]], init: TOKEN_INIT }]; }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const [tokens, width] = graph.shape(x).slice(1) as [number, number];
    const token = ctx.param(this, 'weight');
    const y = graph.tensor(`${this.name}.out`, [batch, tokens + 1, width]);
    const rowOut = (tokens + 1) * width, rowIn = tokens * width;
    op(graph, `${this.name}.forward`, [x, token], [y], (gpu, b) => [
      // The same token into every sample (a source stride of 0), then each sample's sequence after it.
      ...copyBlocks(gpu, { src: b(token), dst: b(y), outer: batch, width, srcStride: 0, srcOffset: 0, dstStride: rowOut, dstOffset: 0 }),
      ...copyBlocks(gpu, { src: b(x), dst: b(y), outer: batch, width: rowIn, srcStride: rowIn, srcOffset: 0, dstStride: rowOut, dstOffset: width }),
    ]);
    ctx.tape.record([x, token], [y], (g) => {
      const dy = g.gradOf(y);
      if (g.wants(x)) {
        const dx = g.gradTarget(x);
        op(graph, `${this.name}.backward.input`, [dy], [dx], (gpu, b) => copyBlocks(gpu, { src: b(dy), dst: b(dx), outer: batch, width: rowIn, srcStride: rowOut, srcOffset: width, dstStride: rowIn, dstOffset: 0 }));
      }
      if (g.wants(token)) {
        const dt = g.gradTarget(token);
        const first = graph.tensor(`grad(${this.name}.first)`, [batch, 1, width]);
        op(graph, `${this.name}.backward.weight`, [dy], [dt, first], (gpu, b) => [
          ...copyBlocks(gpu, { src: b(dy), dst: b(first), outer: batch, width, srcStride: rowOut, srcOffset: 0, dstStride: width, dstOffset: 0 }),
          ...sumToShape(gpu, { src: b(first), dst: b(dt), srcShape: [batch, 1, width], dstShape: [1, 1, width] }),
        ]);
      }
    });
    return y;
  }
}
