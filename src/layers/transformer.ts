// Transformer layers on token sequences: LayerNorm over the last axis, GELU (GPT-2's tanh form) and
// fused scaled-dot-product attention over heads [heads, tokens, headDim] with an optional causal
// mask. Multi-head self-attention is drawn from these with Dense, reshape and permute
// (`multiHeadAttention`), so its weights carry nanoGPT's names when the caller names the layers, and
// so is the pre-norm block GPT-2 and ViT stack (`transformerBlock`).
import { attentionBackward, attentionForward, MAX_HEAD_DIM, type AttentionLayout, type AttentionShape } from '../kernels/attention.ts';
import { geluBackward, geluForward } from '../kernels/gelu.ts';
import { LAYER_NORM_EPS, layerNormBackward, layerNormForward } from '../kernels/layernorm.ts';
import { elementCount, formatShape, type GradContext } from '../graph/graph.ts';
import { checkBoolean, checkOptions, Layer, op, shapeError, type BuildContext, type LayerConfig, type ParamSpec, type Shape, type SymbolicTensor } from './layer.ts';
import { Dense } from './layers.ts';
import { add, permute, reshape, split } from './ops.ts';

/** Kernels that write several gradients at once send the ones nobody wants to a scratch tensor. */
function gradientOrScratch(g: GradContext, tensor: number, label: string): number {
  return g.wants(tensor) ? g.gradTarget(tensor) : g.graph.tensor(`unused(${label})`, g.graph.shape(tensor));
}

/** PyTorch's LayerNorm over the last axis: (x − mean)/√(var + eps)·weight + bias per row. */
export class LayerNorm extends Layer {
  readonly kind = 'ln';
  readonly eps: number;
  constructor(o: { eps?: number; name?: string } = {}) {
    super();
    checkOptions('LayerNorm', o, ['eps', 'name']);
    this.eps = o.eps ?? LAYER_NORM_EPS;
    if (!(this.eps > 0)) throw new Error(`LayerNorm: eps must be a positive number, got ${JSON.stringify(o.eps)}`);
    this.name = o.name ?? '';
  }

  override config(): LayerConfig { return { type: 'LayerNorm', name: this.name, eps: this.eps }; }

  outputShape(input: Shape): Shape { return input; }
  override describe(): string { return 'LayerNorm'; }

  override params(input: Shape): ParamSpec[] {
    const width = input.at(-1)!;
    return [{ name: 'weight', shape: [width], init: { kind: 'ones' } }, { name: 'bias', shape: [width], init: { kind: 'zeros' } }];
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph } = ctx;
    const shape = graph.shape(x);
    const s = { rows: elementCount(shape.slice(0, -1)), cols: shape.at(-1)! };
    const gamma = ctx.param(this, 'weight');
    const beta = ctx.param(this, 'bias');
    const y = graph.tensor(`${this.name}.out`, shape);
    const mean = graph.tensor(`${this.name}.mean`, [s.rows]);
    const rstd = graph.tensor(`${this.name}.rstd`, [s.rows]);
    const eps = this.eps;
    op(graph, `${this.name}.forward`, [x, gamma, beta], [y, mean, rstd], (gpu, b) => layerNormForward(gpu, s, { x: b(x), gamma: b(gamma), beta: b(beta), y: b(y), mean: b(mean), rstd: b(rstd), eps }));
    ctx.tape.record([x, gamma, beta], [y], (g) => {
      const dy = g.gradOf(y);
      const dx = gradientOrScratch(g, x, `${this.name}.dx`), dgamma = gradientOrScratch(g, gamma, `${this.name}.dgamma`), dbeta = gradientOrScratch(g, beta, `${this.name}.dbeta`);
      const scratch = graph.tensor(`${this.name}.backward.scratch`, [s.rows * s.cols]);
      op(graph, `${this.name}.backward`, [x, dy, gamma, mean, rstd], [dx, dgamma, dbeta, scratch], (gpu, b) => layerNormBackward(gpu, s, {
        x: b(x), dy: b(dy), gamma: b(gamma), mean: b(mean), rstd: b(rstd), dx: b(dx), dgamma: b(dgamma), dbeta: b(dbeta), scratch: b(scratch),
      }));
    });
    return y;
  }
}

/** GELU, tanh approximation (as GPT-2). */
export class GELU extends Layer {
  readonly kind = 'gelu';
  constructor(name = '') { super(); this.name = name; }
  outputShape(input: Shape): Shape { return input; }
  override describe(): string { return 'GELU'; }
  override config(): LayerConfig { return { type: 'GELU', name: this.name }; }

  forward(ctx: BuildContext, x: number): number {
    const { graph } = ctx;
    const shape = graph.shape(x);
    const count = elementCount(shape);
    const y = graph.tensor(`${this.name}.out`, shape);
    op(graph, `${this.name}.forward`, [x], [y], (gpu, b) => geluForward(gpu, { x: b(x), y: b(y), count }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [x, dy], [dx], (gpu, b) => geluBackward(gpu, { x: b(x), dy: b(dy), dx: b(dx), count }));
    });
    return y;
  }
}

/**
 * softmax(q·kᵀ/√headDim + mask)·v, fused: the tokens×tokens scores are never stored. `causal` hides
 * later tokens from earlier ones. Without `heads`, q, k, v are three inputs of per-sample shape
 * [heads, tokens, headDim] and so is the output. With `heads`, the one input is a fused projection's
 * output [tokens, 3·width] (q, k, v side by side in each row, each [heads, headDim] by head) and the
 * output is [tokens, width], heads side by side: the kernels read and write those rows where they
 * lie, so no split and no permutes are drawn around attention.
 */
export class ScaledDotProductAttention extends Layer {
  readonly kind = 'sdpa';
  readonly causal: boolean;
  readonly heads: number | undefined;
  constructor(o: { causal?: boolean; heads?: number; name?: string } = {}) {
    super();
    checkOptions('ScaledDotProductAttention', o, ['causal', 'heads', 'name']);
    checkBoolean('ScaledDotProductAttention', 'causal', o.causal);
    if (o.heads !== undefined && !(Number.isInteger(o.heads) && o.heads >= 1)) throw new Error(`ScaledDotProductAttention: heads must be a positive integer, got ${JSON.stringify(o.heads)}`);
    this.causal = o.causal ?? false;
    this.heads = o.heads;
    this.name = o.name ?? '';
  }

  override acceptsInputs(count: number): boolean { return count === (this.heads === undefined ? 3 : 1); }
  override describe(): string { return `ScaledDotProductAttention(${this.causal ? 'causal' : 'full'}${this.heads === undefined ? '' : `, ${this.heads} heads on fused qkv rows`})`; }
  override config(): LayerConfig { return { type: 'ScaledDotProductAttention', name: this.name, causal: this.causal, ...(this.heads === undefined ? {} : { heads: this.heads }) }; }

  outputShape(q: Shape, k?: Shape, v?: Shape): Shape {
    if (this.heads !== undefined) return this.fusedShape(q);
    if (q.length !== 3) throw shapeError(this, 'q, k and v of shape [heads, tokens, headDim]', q);
    const same = (s: Shape | undefined) => s !== undefined && s.length === 3 && s.every((d, i) => d === q[i]);
    if (!same(k) || !same(v)) throw new Error(`${this.name || this.describe()}: q ${formatShape(q)}, k ${formatShape(k ?? [])} and v ${formatShape(v ?? [])} must have one shape [heads, tokens, headDim]`);
    if (q[2]! > MAX_HEAD_DIM) throw shapeError(this, `heads at most ${MAX_HEAD_DIM} wide`, q);
    return q;
  }

  /** [tokens, 3·width] → [tokens, width] for the fused form. */
  private fusedShape(qkv: Shape): Shape {
    const heads = this.heads!;
    if (qkv.length !== 2 || qkv[1]! % (3 * heads) !== 0) throw shapeError(this, `fused q, k, v rows [tokens, 3·width] with the width a multiple of ${heads} heads`, qkv);
    if (qkv[1]! / (3 * heads) > MAX_HEAD_DIM) throw shapeError(this, `heads at most ${MAX_HEAD_DIM} wide`, qkv);
    return [qkv[0]!, qkv[1]! / 3];
  }

  forward(ctx: BuildContext, q: number, k?: number, v?: number): number {
    const { graph, batch } = ctx;
    const fused = this.heads !== undefined;
    const inShape = graph.shape(q).slice(1);
    const s: AttentionShape = fused
      ? { batch, heads: this.heads!, seq: inShape[0]!, headDim: inShape[1]! / (3 * this.heads!), layout: 'tokens' }
      : { batch, heads: inShape[0]!, seq: inShape[1]!, headDim: inShape[2]! };
    // The fused form's one input stands for all three.
    k ??= q;
    v ??= q;
    const { heads, seq } = s;
    const causal = this.causal;
    const o = graph.tensor(`${this.name}.out`, fused ? [batch, ...this.fusedShape(inShape)] : graph.shape(q));
    const lse = graph.tensor(`${this.name}.lse`, [batch * heads * seq]);
    const inputs = fused ? [q] : [q, k, v];
    op(graph, `${this.name}.forward`, inputs, [o, lse], (gpu, b) => attentionForward(gpu, s, { q: b(q), k: b(k), v: b(v), o: b(o), lse: b(lse), causal }));
    ctx.tape.record(inputs, [o], (g) => {
      const dO = g.gradOf(o);
      const dq = gradientOrScratch(g, q, `${this.name}.dq`);
      const [dk, dv] = fused ? [dq, dq] : [gradientOrScratch(g, k, `${this.name}.dk`), gradientOrScratch(g, v, `${this.name}.dv`)];
      const delta = graph.tensor(`${this.name}.delta`, [batch * heads * seq]);
      op(graph, `${this.name}.backward`, [...inputs, o, lse, dO], fused ? [dq, delta] : [dq, dk, dv, delta], (gpu, b) => attentionBackward(gpu, s, {
        q: b(q), k: b(k), v: b(v), o: b(o), lse: b(lse), dO: b(dO), dq: b(dq), dk: b(dk), dv: b(dv), delta: b(delta), causal,
      }));
    });
    return o;
  }
}

export interface MultiHeadAttentionOptions {
  heads: number;
  causal?: boolean;
  /**
   * 'tokens': attention reads the c_attn rows in place (ScaledDotProductAttention with `heads`), no
   * split or permutes. 'heads' (the default, what gpt draws, and what graphs saved before carry):
   * q, k, v split off and permuted to [heads, tokens, headDim].
   */
  layout?: AttentionLayout;
  /** Prefix for the two projections' names: `${name}.c_attn` and `${name}.c_proj` (nanoGPT's). */
  name?: string;
}

/**
 * Multi-head self-attention on a sequence [tokens, width], drawn as GPT-2 does it: one projection
 * to q, k and v (c_attn), heads split out, fused attention, heads joined, an output projection (c_proj).
 */
export function multiHeadAttention(x: SymbolicTensor, o: MultiHeadAttentionOptions): SymbolicTensor {
  if (x.shape.length !== 2) throw new Error(`multiHeadAttention: expects a sequence [tokens, width], got ${formatShape(x.shape)}`);
  const [tokens, width] = x.shape as [number, number];
  if (!Number.isInteger(o.heads) || o.heads < 1 || width % o.heads !== 0) throw new Error(`multiHeadAttention: heads must be a positive integer dividing the width ${width}, got ${o.heads}`);
  const headDim = width / o.heads;
  const named = (suffix: string) => (o.name ? { name: `${o.name}.${suffix}` } : {});
  const qkv = new Dense({ units: 3 * width, ...named('c_attn') }).apply(x);
  if (o.layout === 'tokens') return new Dense({ units: width, ...named('c_proj') }).apply(new ScaledDotProductAttention({ causal: o.causal ?? false, heads: o.heads }).apply(qkv));
  // [tokens, 3·width] → three [heads, tokens, headDim]: the layout the attention kernel streams over.
  const [q, k, v] = split(qkv, [width, width, width], 1).map((part) => permute(reshape(part, [tokens, o.heads, headDim]), [1, 0, 2])) as [SymbolicTensor, SymbolicTensor, SymbolicTensor];
  const attended = new ScaledDotProductAttention({ causal: o.causal ?? false }).apply(q, k, v);
  const joined = reshape(permute(attended, [1, 0, 2]), [tokens, width]);
  return new Dense({ units: width, ...named('c_proj') }).apply(joined);
}

export interface TransformerBlockOptions {
  heads: number;
  causal?: boolean;
  /** The attention's layout (MultiHeadAttentionOptions.layout). */
  layout?: AttentionLayout;
  /** Prefix for the parts' names, nanoGPT's: `${name}.ln_1`, `.attn.c_attn`, `.attn.c_proj`, `.ln_2`, `.mlp.c_fc`, `.mlp.c_proj`. */
  name?: string;
}

/** A pre-norm transformer block on [tokens, width]: x + attention(LN(x)), then + MLP(LN(·)) with a 4× GELU hidden layer. */
export function transformerBlock(x: SymbolicTensor, o: TransformerBlockOptions): SymbolicTensor {
  const width = x.shape[1]!;
  const named = (suffix: string) => (o.name ? { name: `${o.name}.${suffix}` } : {});
  const attention = multiHeadAttention(new LayerNorm(named('ln_1')).apply(x), { heads: o.heads, causal: o.causal ?? false, ...(o.layout ? { layout: o.layout } : {}), ...named('attn') });
  const attended = add(x, attention);
  const hidden = new GELU().apply(new Dense({ units: 4 * width, ...named('mlp.c_fc') }).apply(new LayerNorm(named('ln_2')).apply(attended)));
  return add(attended, new Dense({ units: width, ...named('mlp.c_proj') }).apply(hidden));
}
