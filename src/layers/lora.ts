// A Dense layer with a low-rank adapter beside its weight (LoRA, Hu et al. 2021):
//   y = x·Wᵀ + b + (alpha/rank)·(x·Aᵀ)·Bᵀ,  A [rank, in], B [out, rank]
// built from GEMMs only: the adapter's product accumulates into the base output (beta = 1), so no
// add kernel and no second output tensor. A starts as peft does (Kaiming-uniform with a = √5, that
// is uniform(±1/√in)) and B at zero, so a fresh adapter leaves the layer's output bit for bit as it was.
// With `dropout`, the adapter reads dropout(x) while training, as peft's lora_dropout does.
import { dropoutBackward, dropoutForward } from '../kernels/dropout.ts';
import { gemm } from '../kernels/gemm.ts';
import { biasGradient } from '../kernels/reduce.ts';
import { elementCount } from '../graph/graph.ts';
import { checkBoolean, checkChoice, checkOptions, Layer, op, type BuildContext, type LayerConfig, type ParamSpec, type Shape } from './layer.ts';
import { Dense, type Init } from './layers.ts';

export interface LoraDenseOptions {
  units: number;
  rank: number;
  alpha: number;
  /** Dropout rate on the adapter's input while training (peft's lora_dropout); default 0. */
  dropout?: number;
  useBias?: boolean;
  init?: Init;
  name?: string;
}

/** Largest adapter rank a layer (or an adapters file) may ask for. */
export const MAX_LORA_RANK = 4096;

/** The two adapter tensors of layer `layer`, under the names peft gives them less its `.default` adapter name. */
export const loraTensorNames = (layer: string): { a: string; b: string } => ({ a: `${layer}.lora_A.weight`, b: `${layer}.lora_B.weight` });

export const isLoraTensor = (name: string): boolean => name.endsWith('.lora_A.weight') || name.endsWith('.lora_B.weight');

export class LoraDense extends Layer {
  readonly kind = 'lora';
  readonly units: number;
  readonly rank: number;
  readonly alpha: number;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly init: Init;
  /** Distinct per layer with dropout (Model assigns it), so no two layers share a mask. */
  stream = 0;

  constructor(o: LoraDenseOptions) {
    super();
    checkOptions('LoraDense', o, ['units', 'rank', 'alpha', 'dropout', 'useBias', 'init', 'name']);
    if (!Number.isInteger(o.units) || o.units < 1) throw new Error(`LoraDense: units must be a positive integer, got ${JSON.stringify(o.units)}`);
    if (!Number.isInteger(o.rank) || o.rank < 1 || o.rank > MAX_LORA_RANK) throw new Error(`LoraDense: rank must be a whole number in [1, ${MAX_LORA_RANK}], got ${JSON.stringify(o.rank)}`);
    if (typeof o.alpha !== 'number' || !Number.isFinite(o.alpha) || o.alpha <= 0) throw new Error(`LoraDense: alpha must be a positive finite number, got ${JSON.stringify(o.alpha)}`);
    if (o.dropout !== undefined && !(typeof o.dropout === 'number' && o.dropout >= 0 && o.dropout < 1)) throw new Error(`LoraDense: dropout must be in [0, 1), got ${JSON.stringify(o.dropout)}`);
    checkChoice('LoraDense', 'init', o.init, ['he', 'glorot']);
    checkBoolean('LoraDense', 'useBias', o.useBias);
    this.units = o.units;
    this.rank = o.rank;
    this.alpha = o.alpha;
    this.dropout = o.dropout ?? 0;
    this.useBias = o.useBias ?? true;
    this.init = o.init ?? 'glorot';
    this.name = o.name ?? '';
  }

  /** An adapter around `dense` (same name, so its weight and bias keep their names); only linear Dense layers take one. */
  static around(dense: Dense, rank: number, alpha: number, dropout = 0): LoraDense {
    if (dense.activation !== 'none') throw new Error(`LoRA: layer ${dense.name} (${dense.describe()}) has a ${dense.activation} activation; adapters go on linear projections only`);
    return new LoraDense({ units: dense.units, rank, alpha, dropout, useBias: dense.useBias, init: dense.init, name: dense.name });
  }

  /** The plain Dense this layer adapts, under the same name: what a merged model holds. */
  toDense(): Dense {
    return new Dense({ units: this.units, useBias: this.useBias, init: this.init, name: this.name });
  }

  /** alpha/rank, the factor on the adapter's product. */
  get scale(): number { return this.alpha / this.rank; }

  override describe(): string { return `LoraDense(${this.units}, rank ${this.rank}, alpha ${this.alpha}${this.dropout ? `, dropout ${this.dropout}` : ''})`; }

  // A second application would reuse the first one's dropout mask.
  override get reusable(): boolean { return this.dropout === 0; }

  override config(): LayerConfig {
    return { type: 'LoraDense', name: this.name, units: this.units, rank: this.rank, alpha: this.alpha, dropout: this.dropout, useBias: this.useBias, init: this.init };
  }

  // The base projection's shapes and initial weights, under this layer's name.
  outputShape(input: Shape): Shape { return this.toDense().outputShape(input); }

  override params(input: Shape): ParamSpec[] {
    const fanIn = input.at(-1)!;
    return [
      ...this.toDense().params(input),
      { name: 'lora_A.weight', shape: [this.rank, fanIn], init: { kind: 'uniform', limit: 1 / Math.sqrt(fanIn) } },
      { name: 'lora_B.weight', shape: [this.units, this.rank], init: { kind: 'zeros' } },
    ];
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph } = ctx;
    const shape = graph.shape(x);
    const inFeatures = shape.at(-1)!;
    const rows = elementCount(shape.slice(0, -1));
    const { units, rank, scale } = this;
    const w = ctx.param(this, 'weight');
    const bias = this.useBias ? ctx.param(this, 'bias') : undefined;
    const a = ctx.param(this, 'lora_A.weight');
    const bUp = ctx.param(this, 'lora_B.weight');
    const y = graph.tensor(`${this.name}.out`, [...shape.slice(0, -1), units]);
    // h = x·Aᵀ is kept for B's gradient.
    const h = graph.tensor(`${this.name}.lora_hidden`, [...shape.slice(0, -1), rank]);
    const baseReads = bias === undefined ? [x, w] : [x, w, bias];
    op(graph, `${this.name}.forward`, baseReads, [y], (gpu, b) => gemm(gpu, {
      a: b(x), b: b(w), c: b(y), m: rows, n: units, k: inFeatures, transB: true,
      ...(bias === undefined ? {} : { bias: b(bias), biasAxis: 'n' as const }), label: `${this.name}.forward`,
    }));
    const rate = ctx.training ? this.dropout : 0;
    const { stream } = this;
    const seed = ctx.seed;
    // The adapter's input: x, or its dropout while training.
    const xa = rate > 0 ? graph.tensor(`${this.name}.lora_dropout`, shape) : x;
    const count = rows * inFeatures;
    if (rate > 0) op(graph, `${this.name}.lora_dropout.forward`, [x, seed], [xa], (gpu, b) => dropoutForward(gpu, { x: b(x), y: b(xa), count, rate, seed: b(seed), stream }));
    op(graph, `${this.name}.lora_A.forward`, [xa, a], [h], (gpu, b) => gemm(gpu, { a: b(xa), b: b(a), c: b(h), m: rows, n: rank, k: inFeatures, transB: true }));
    op(graph, `${this.name}.lora_B.forward`, [h, bUp, y], [y], (gpu, b) => gemm(gpu, { a: b(h), b: b(bUp), c: b(y), m: rows, n: units, k: rank, transB: true, alpha: scale, beta: 1 }));
    ctx.tape.record([...baseReads, a, bUp], [y], (g) => {
      const dy = g.gradOf(y);
      const wantsX = g.wants(x);
      // dh = scale·dy·B feeds both A's gradient and the adapter's share of x's.
      const dh = wantsX || g.wants(a) ? graph.tensor(`grad(${this.name}.lora_hidden)`, graph.shape(h)) : undefined;
      if (dh !== undefined) op(graph, `${this.name}.lora_B.backward.input`, [dy, bUp], [dh], (gpu, b) => gemm(gpu, { a: b(dy), b: b(bUp), c: b(dh), m: rows, n: rank, k: units, alpha: scale }));
      if (wantsX) {
        const dx = g.gradTarget(x);
        // The adapter's share goes in first (through the dropout mask when there is one), the base's adds onto it.
        if (rate > 0) {
          const dxa = graph.tensor(`grad(${this.name}.lora_dropout)`, shape);
          op(graph, `${this.name}.lora_A.backward.input`, [dh!, a], [dxa], (gpu, b) => gemm(gpu, { a: b(dh!), b: b(a), c: b(dxa), m: rows, n: inFeatures, k: rank }));
          op(graph, `${this.name}.lora_dropout.backward`, [dxa, seed], [dx], (gpu, b) => dropoutBackward(gpu, { dy: b(dxa), dx: b(dx), count, rate, seed: b(seed), stream }));
        } else {
          op(graph, `${this.name}.lora_A.backward.input`, [dh!, a], [dx], (gpu, b) => gemm(gpu, { a: b(dh!), b: b(a), c: b(dx), m: rows, n: inFeatures, k: rank }));
        }
        op(graph, `${this.name}.backward.input`, [dy, w, dx], [dx], (gpu, b) => gemm(gpu, { a: b(dy), b: b(w), c: b(dx), m: rows, n: inFeatures, k: units, beta: 1 }));
      }
      if (g.wants(a)) {
        const da = g.gradTarget(a);
        op(graph, `${this.name}.lora_A.backward.weight`, [dh!, xa], [da], (gpu, b) => gemm(gpu, { a: b(dh!), b: b(xa), c: b(da), m: rank, n: inFeatures, k: rows, transA: true }));
      }
      if (g.wants(bUp)) {
        const db = g.gradTarget(bUp);
        op(graph, `${this.name}.lora_B.backward.weight`, [dy, h], [db], (gpu, b) => gemm(gpu, { a: b(dy), b: b(h), c: b(db), m: units, n: rank, k: rows, transA: true, alpha: scale }));
      }
      if (g.wants(w)) {
        const dw = g.gradTarget(w);
        op(graph, `${this.name}.backward.weight`, [dy, x], [dw], (gpu, b) => gemm(gpu, { a: b(dy), b: b(x), c: b(dw), m: units, n: inFeatures, k: rows, transA: true }));
      }
      if (bias !== undefined && g.wants(bias)) {
        const dbias = g.gradTarget(bias);
        op(graph, `${this.name}.backward.bias`, [dy], [dbias], (gpu, b) => biasGradient(gpu, { dy: b(dy), dbias: b(dbias), batch: rows, channels: units, spatial: 1 }));
      }
    });
    return y;
  }
}
