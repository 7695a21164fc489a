// Layers that shape token sequences [tokens, width] for transformers: a token embedding (u32 ids →
// rows of a learned table), a learned positional embedding added to every sample, and a learned class
// token put in front of the sequence (ViT). Each owns one parameter and folds its gradient over the
// batch without atomics. TiedDense owns none: it projects onto an Embedding's table (weight tying).
import { binaryOp, sumToShape, unaryOp } from '../kernels/elementwise.ts';
import { embeddingBackward, embeddingForward, embeddingScratchWords, type EmbeddingShape } from '../kernels/embedding.ts';
import { copyBlocks } from '../kernels/layout.ts';
import { elementCount, formatShape, type DType } from '../graph/graph.ts';
import { checkOptions, Layer, op, shapeError, type BuildContext, type LayerConfig, type ParamSpec, type Shape, type TiedParamSpec } from './layer.ts';
import { linear } from './layers.ts';

/** Small uniform values with the spread (std 0.02) GPT-2 and ViT give these tables. */
const TOKEN_INIT = { kind: 'uniform' as const, limit: 0.02 * Math.sqrt(3) };

function sequenceShape(layer: Layer, input: Shape): [number, number] {
  if (input.length !== 2) throw shapeError(layer, 'a sequence [tokens, width]', input);
  return [input[0]!, input[1]!];
}

/** u32 token ids [tokens] → their rows of a learned table `weight` [vocab, width]: [tokens, width]. */
export class Embedding extends Layer {
  readonly kind = 'embedding';
  readonly vocab: number;
  readonly width: number;
  constructor(o: { vocab: number; width: number; name?: string }) {
    super();
    checkOptions('Embedding', o, ['vocab', 'width', 'name']);
    for (const field of ['vocab', 'width'] as const) {
      if (!Number.isInteger(o[field]) || o[field] < 1) throw new Error(`Embedding: ${field} must be a positive integer, got ${JSON.stringify(o[field])}`);
    }
    this.vocab = o.vocab;
    this.width = o.width;
    this.name = o.name ?? '';
  }

  override describe(): string { return `Embedding(${this.vocab}, ${this.width})`; }
  override config(): LayerConfig { return { type: 'Embedding', name: this.name, vocab: this.vocab, width: this.width }; }

  outputShape(input: Shape): Shape {
    if (input.length !== 1) throw shapeError(this, 'token ids [tokens]', input);
    return [input[0]!, this.width];
  }

  override outputDType(input: DType): DType {
    if (input !== 'u32') throw new Error(`${this.name ? `layer ${this.name} (${this.describe()})` : this.describe()} takes u32 token ids, got a ${input} input (draw it as input([tokens], { dtype: 'u32' }))`);
    return 'f32';
  }

  override params(): ParamSpec[] { return [{ name: 'weight', shape: [this.vocab, this.width], init: TOKEN_INIT }]; }

  forward(ctx: BuildContext, ids: number): number {
    const { graph } = ctx;
    const shape = graph.shape(ids);
    if (graph.info(ids).dtype !== 'u32') throw new Error(`${this.name}: token ids ${formatShape(shape)} must be u32`);
    const s: EmbeddingShape = { tokens: elementCount(shape), vocab: this.vocab, width: this.width };
    const table = ctx.param(this, 'weight');
    const y = graph.tensor(`${this.name}.out`, [...shape, this.width]);
    op(graph, `${this.name}.forward`, [ids, table], [y], (gpu, b) => embeddingForward(gpu, s, { ids: b(ids), table: b(table), out: b(y) }));
    // Ids carry no gradient; only the table learns.
    ctx.tape.record([table], [y], (g) => {
      if (!g.wants(table)) return;
      const dy = g.gradOf(y);
      const dt = g.gradTarget(table);
      const scratch = graph.tensor(`${this.name}.backward.buckets`, [embeddingScratchWords(s)], 'temp', 'u32');
      op(graph, `${this.name}.backward.weight`, [ids, dy], [dt, scratch], (gpu, b) => embeddingBackward(gpu, s, { ids: b(ids), dOut: b(dy), dTable: b(dt), scratch: b(scratch) }));
    });
    return y;
  }
}

/**
 * Logits over an Embedding's vocabulary with that embedding's table as the weight, no bias:
 * [..., width] → [..., vocab], y = x · tableᵀ. GPT-2 ties its output head to the token embedding
 * this way; the table gets the sum of both layers' gradients, and the state_dict lists it under
 * both names (`<this>.weight` too), as PyTorch does for a shared parameter.
 */
export class TiedDense extends Layer {
  readonly kind = 'tied';
  readonly tiedTo: Embedding;
  constructor(o: { tiedTo: Embedding; name?: string }) {
    super();
    checkOptions('TiedDense', o, ['tiedTo', 'name']);
    if (!(o.tiedTo instanceof Embedding)) throw new Error(`TiedDense: tiedTo must be an Embedding layer, got ${o.tiedTo === null || typeof o.tiedTo !== 'object' ? JSON.stringify(o.tiedTo) : (o.tiedTo as Layer).constructor.name}`);
    this.tiedTo = o.tiedTo;
    this.name = o.name ?? '';
  }

  override describe(): string { return `TiedDense(${this.tiedTo.name || 'embedding'}, ${this.tiedTo.vocab})`; }
  override config(): LayerConfig { return { type: 'TiedDense', name: this.name, tiedTo: this.tiedTo.name }; }
  override tiedParams(): TiedParamSpec[] { return [{ name: 'weight', layer: this.tiedTo, param: 'weight' }]; }

  outputShape(input: Shape): Shape {
    if ((input.length !== 1 && input.length !== 2) || input.at(-1) !== this.tiedTo.width) {
      throw shapeError(this, `[features] or [tokens, features] with ${this.tiedTo.width} features (the width of ${this.tiedTo.name || 'its embedding'})`, input);
    }
    return [...input.slice(0, -1), this.tiedTo.vocab];
  }

  forward(ctx: BuildContext, x: number): number {
    return linear(ctx, this.name, x, ctx.param(this.tiedTo, 'weight'), undefined, 'none', this.tiedTo.vocab);
  }
}

/** y = x + P for a learned P of the sequence's shape [tokens, width], the same for every sample. */
export class PositionalEmbedding extends Layer {
  readonly kind = 'pos';
  constructor(o: { name?: string } = {}) {
    super();
    checkOptions('PositionalEmbedding', o, ['name']);
    this.name = o.name ?? '';
  }

  override config(): LayerConfig { return { type: 'PositionalEmbedding', name: this.name }; }

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

  override config(): LayerConfig { return { type: 'ClassToken', name: this.name }; }

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
