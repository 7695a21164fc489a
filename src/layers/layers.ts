// The classic layers: Dense, Conv2D, pooling, Flatten, activations, Softmax, Dropout, BatchNorm —
// shape inference, parameters, and how each emits its forward ops and records its backward.
import { gemm } from '../kernels/gemm.ts';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize, conv2dScratchBytes, samePadding, type Conv2dShape, type ConvPass } from '../kernels/conv.ts';
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward, pool2dOutputSize, type Pool2dShape } from '../kernels/pool.ts';
import { activationBackward, activationForward, type ActivationKind } from '../kernels/activation.ts';
import { biasGradient } from '../kernels/reduce.ts';
import { permuteAxes } from '../kernels/elementwise.ts';
import { dropoutBackward, dropoutForward } from '../kernels/dropout.ts';
import { batchNormBackward, batchNormForwardInference, batchNormForwardTrain } from '../kernels/batchnorm.ts';
import { elementCount, type GradContext } from '../graph/graph.ts';
import { checkBoolean, checkChoice, checkOptions, Layer, op, shapeError, type BuildContext, type LayerConfig, type ParamSpec, type Shape, type StateSpec } from './layer.ts';


/** Applies an activation's backward in front of a linear layer's own backward, when one is fused. */
function gradThroughActivation(ctx: GradContext, layerName: string, activation: ActivationKind | 'none', y: number): number {
  const dy = ctx.gradOf(y);
  if (activation === 'none') return dy;
  const graph = ctx.graph;
  const dz = graph.tensor(`grad(${layerName}.preact)`, graph.shape(y));
  const count = elementCount(graph.shape(y));
  op(graph, `${layerName}.${activation}.backward`, [y, dy], [dz], (gpu, b) => activationBackward(gpu, activation, { y: b(y), dy: b(dy), dx: b(dz), count }));
  return dz;
}

export type Activation = ActivationKind | 'none';
const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid', 'tanh', 'none'];
export type Init = 'he' | 'glorot';

export interface DenseOptions { units: number; activation?: Activation; useBias?: boolean; init?: Init; name?: string }

export class Dense extends Layer {
  readonly kind = 'fc';
  readonly units: number;
  readonly activation: Activation;
  readonly useBias: boolean;
  readonly init: Init;

  constructor(o: DenseOptions) {
    super();
    checkOptions('Dense', o, ['units', 'activation', 'useBias', 'init', 'name']);
    if (!Number.isInteger(o.units) || o.units < 1) throw new Error(`Dense: units must be a positive integer, got ${o.units}`);
    checkChoice('Dense', 'activation', o.activation, ACTIVATIONS, ' (for softmax, end the model with a Softmax layer or train on the logits: the loss applies it)');
    checkChoice('Dense', 'init', o.init, ['he', 'glorot']);
    checkBoolean('Dense', 'useBias', o.useBias);
    this.units = o.units;
    this.activation = o.activation ?? 'none';
    this.useBias = o.useBias ?? true;
    this.init = o.init ?? (this.activation === 'relu' ? 'he' : 'glorot');
    this.name = o.name ?? '';
  }

  override config(): LayerConfig {
    return { type: 'Dense', name: this.name, units: this.units, activation: this.activation, useBias: this.useBias, init: this.init };
  }

  override describe(): string { return `Dense(${this.units}${this.activation === 'none' ? '' : `, ${this.activation}`})`; }

  // [features], or a sequence [tokens, features] projected token by token (as PyTorch's Linear does
  // on its last axis). Images are refused with a hint: Dense over an image's last axis is rarely meant.
  outputShape(input: Shape): Shape {
    if (input.length !== 1 && input.length !== 2) throw shapeError(this, 'a flat input [features] or a sequence [tokens, features] (add Flatten before it)', input);
    return [...input.slice(0, -1), this.units];
  }

  override params(input: Shape): ParamSpec[] {
    const fanIn = input.at(-1)!;
    const specs: ParamSpec[] = [{ name: 'weight', shape: [this.units, fanIn], init: { kind: this.init, fanIn, fanOut: this.units } }];
    if (this.useBias) specs.push({ name: 'bias', shape: [this.units], init: { kind: 'zeros' } });
    return specs;
  }

  forward(ctx: BuildContext, x: number): number {
    // Weight first: parameters enter the program, and so the optimizer state, in state_dict order.
    const w = ctx.param(this, 'weight');
    return linear(ctx, this.name, x, w, this.useBias ? ctx.param(this, 'bias') : undefined, this.activation, this.units);
  }
}

/**
 * y = act(x · wᵀ + bias) over the last axis of x, with w a [units, features] graph tensor, and its
 * backward. Dense reads its own weight; TiedDense reads another layer's (weight tying).
 */
export function linear(ctx: BuildContext, layerName: string, x: number, w: number, bias: number | undefined, activation: Activation, units: number): number {
  const { graph } = ctx;
  const shape = graph.shape(x);
  const inFeatures = shape.at(-1)!;
  // Every token of every sample is one row of the product.
  const batch = elementCount(shape.slice(0, -1));
  const y = graph.tensor(`${layerName}.out`, [...shape.slice(0, -1), units]);
  const reads = bias === undefined ? [x, w] : [x, w, bias];
  // Dense activations beyond relu are applied by a separate kernel after the GEMM.
  const fused = activation === 'relu' || activation === 'none';
  const z = fused ? y : graph.tensor(`${layerName}.preact`, graph.shape(y));
  // gemm's transposed-B path gathers each output column from its own row of the weight, which on
  // llvmpipe runs 2–3× slower than streaming B's rows (bench/gemm.ts, "dense forward, many rows").
  // Over many rows (token sequences) one pass that transposes the weight first pays for itself;
  // the CNNs' small-batch heads keep the direct product, where the two cost the same.
  const weightFirst = batch >= DENSE_TRANSPOSE_ROWS ? graph.tensor(`${layerName}.weightT`, [inFeatures, units]) : undefined;
  if (weightFirst !== undefined) {
    op(graph, `${layerName}.weightT`, [w], [weightFirst], (gpu, b) => permuteAxes(gpu, { x: b(w), y: b(weightFirst), shape: [units, inFeatures], perm: [1, 0] }));
  }
  const product = weightFirst ?? w;
  const precision = ctx.precision;
  op(graph, `${layerName}.forward`, bias === undefined ? [x, product] : [x, product, bias], [z], (gpu, b) => gemm(gpu, {
    a: b(x), b: b(product), c: b(z), m: batch, n: units, k: inFeatures, transB: weightFirst === undefined,
    ...(bias === undefined ? {} : { bias: b(bias), biasAxis: 'n' as const }),
    activation: activation === 'relu' ? 'relu' : 'none', precision, label: `${layerName}.forward`,
  }));
  if (!fused) {
    const count = batch * units;
    op(graph, `${layerName}.${activation}`, [z], [y], (gpu, b) => activationForward(gpu, activation as ActivationKind, { x: b(z), y: b(y), count }));
  }
  ctx.tape.record(reads, [y], (g) => {
    const dz = gradThroughActivation(g, layerName, activation, y);
    if (g.wants(x)) {
      const dx = g.gradTarget(x);
      op(graph, `${layerName}.backward.input`, [dz, w], [dx], (gpu, b) => gemm(gpu, { a: b(dz), b: b(w), c: b(dx), m: batch, n: inFeatures, k: units, precision }));
    }
    if (g.wants(w)) {
      const dw = g.gradTarget(w);
      op(graph, `${layerName}.backward.weight`, [dz, x], [dw], (gpu, b) => gemm(gpu, { a: b(dz), b: b(x), c: b(dw), m: units, n: inFeatures, k: batch, transA: true, precision }));
    }
    if (bias !== undefined && g.wants(bias)) {
      const db = g.gradTarget(bias);
      op(graph, `${layerName}.backward.bias`, [dz], [db], (gpu, b) => biasGradient(gpu, { dy: b(dz), dbias: b(db), batch, channels: units, spatial: 1 }));
    }
  });
  return y;
}

/** Rows of a Dense product from which its forward transposes the weight first (see linear()). */
export const DENSE_TRANSPOSE_ROWS = 256;

export interface Conv2DOptions {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same' | number;
  activation?: Activation;
  useBias?: boolean;
  name?: string;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

function checkPositivePair(layer: string, field: string, v: unknown): void {
  if (v === undefined || (Number.isInteger(v) && (v as number) > 0) || (Array.isArray(v) && v.length === 2 && v.every((d) => Number.isInteger(d) && d > 0))) return;
  throw new Error(`${layer}: ${field} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
}

export class Conv2D extends Layer {
  readonly kind = 'conv';
  readonly filters: number;
  readonly kernel: [number, number];
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same' | number;
  readonly activation: Activation;
  readonly useBias: boolean;

  constructor(o: Conv2DOptions) {
    super();
    checkOptions('Conv2D', o, ['filters', 'kernelSize', 'strides', 'padding', 'activation', 'useBias', 'name']);
    if (o.kernelSize === undefined) throw new Error('Conv2D: kernelSize is required');
    checkPositivePair('Conv2D', 'kernelSize', o.kernelSize);
    checkPositivePair('Conv2D', 'strides', o.strides);
    if (o.padding !== undefined && o.padding !== 'valid' && o.padding !== 'same' && !(Number.isInteger(o.padding) && (o.padding as number) >= 0)) {
      throw new Error(`Conv2D: padding must be 'valid', 'same' or a whole number ≥ 0, got ${JSON.stringify(o.padding)}`);
    }
    checkChoice('Conv2D', 'activation', o.activation, ACTIVATIONS);
    checkBoolean('Conv2D', 'useBias', o.useBias);
    this.filters = o.filters;
    this.kernel = pair(o.kernelSize);
    this.strides = pair(o.strides ?? 1);
    this.padding = o.padding ?? 'valid';
    this.activation = o.activation ?? 'none';
    this.useBias = o.useBias ?? true;
    this.name = o.name ?? '';
    if (!Number.isInteger(this.filters) || this.filters < 1) throw new Error(`Conv2D: filters must be a positive integer, got ${o.filters}`);
    if (this.padding === 'same' && (this.strides[0] !== 1 || this.strides[1] !== 1)) throw new Error(`Conv2D ${this.name}: padding 'same' needs stride 1`);
  }

  override config(): LayerConfig {
    return {
      type: 'Conv2D', name: this.name, filters: this.filters, kernelSize: [...this.kernel], strides: [...this.strides],
      padding: this.padding, activation: this.activation, useBias: this.useBias,
    };
  }

  override describe(): string { return `Conv2D(${this.filters}, ${this.kernel.join('×')}${this.activation === 'none' ? '' : `, ${this.activation}`})`; }

  /** The kernels' geometry for this layer on a per-sample input shape: the one place it is computed. */
  convShape(input: Shape, batch: number): Conv2dShape {
    const [kh, kw] = this.kernel;
    const pad = (k: number) => (this.padding === 'valid' ? 0 : this.padding === 'same' ? samePadding(k) : this.padding);
    return {
      batch, inChannels: input[0]!, height: input[1]!, width: input[2]!, outChannels: this.filters,
      kernelH: kh, kernelW: kw, strideH: this.strides[0], strideW: this.strides[1], padH: pad(kh), padW: pad(kw),
    };
  }

  outputShape(input: Shape): Shape {
    if (input.length !== 3) throw shapeError(this, 'an image input [channels, height, width]', input);
    const { outH, outW } = conv2dOutputSize(this.convShape(input, 1));
    if (outH < 1 || outW < 1) throw shapeError(this, `an image of at least ${this.kernel.join('×')} after padding`, input);
    return [this.filters, outH, outW];
  }

  override params(input: Shape): ParamSpec[] {
    const fanIn = input[0]! * this.kernel[0] * this.kernel[1];
    const fanOut = this.filters * this.kernel[0] * this.kernel[1];
    const specs: ParamSpec[] = [{ name: 'weight', shape: [this.filters, input[0]!, ...this.kernel], init: { kind: this.activation === 'relu' ? 'he' : 'glorot', fanIn, fanOut } }];
    if (this.useBias) specs.push({ name: 'bias', shape: [this.filters], init: { kind: 'zeros' } });
    return specs;
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const input = graph.shape(x).slice(1);
    const s = this.convShape(input, batch);
    const out = this.outputShape(input);
    const w = ctx.param(this, 'weight');
    const bias = this.useBias ? ctx.param(this, 'bias') : undefined;
    const y = graph.tensor(`${this.name}.out`, [batch, ...out]);
    // Each pass gets its own scratch tensors, sized for the algorithm it runs.
    const scratch = (pass: ConvPass) => conv2dScratchBytes(s, { pass }).map((bytes, i) => graph.tensor(`${this.name}.${pass}.scratch${i}`, [bytes / 4]));
    const fwdScratch = scratch('forward');
    const reads = bias === undefined ? [x, w] : [x, w, bias];
    const activation = this.activation;
    const precision = ctx.precision;
    // ReLU rides in the convolution's epilogue; sigmoid and tanh follow as their own kernel.
    const fused = activation === 'relu' || activation === 'none';
    const z = fused ? y : graph.tensor(`${this.name}.preact`, [batch, ...out]);
    op(graph, `${this.name}.forward`, reads, [z, ...fwdScratch], (gpu, b) => conv2dForward(gpu, s, {
      x: b(x), weight: b(w), y: b(z), scratch: fwdScratch.map(b), activation: activation === 'relu' ? 'relu' : 'none', precision,
      ...(bias === undefined ? {} : { bias: b(bias) }),
    }));
    if (!fused) {
      const count = batch * elementCount(out);
      op(graph, `${this.name}.${activation}`, [z], [y], (gpu, b) => activationForward(gpu, activation, { x: b(z), y: b(y), count }));
    }
    ctx.tape.record(reads, [y], (g) => {
      const dz = gradThroughActivation(g, this.name, activation, y);
      const wantsBias = bias !== undefined && g.wants(bias);
      if (g.wants(w)) {
        const dw = g.gradTarget(w);
        const db = wantsBias ? g.gradTarget(bias) : undefined;
        const sc = scratch('backwardWeight');
        op(graph, `${this.name}.backward.weight`, [x, dz], db === undefined ? [dw, ...sc] : [dw, db, ...sc], (gpu, b) => conv2dBackwardWeight(gpu, s, {
          x: b(x), dy: b(dz), dweight: b(dw), scratch: sc.map(b), precision, ...(db === undefined ? {} : { dbias: b(db) }),
        }));
      } else if (wantsBias) {
        const db = g.gradTarget(bias);
        op(graph, `${this.name}.backward.bias`, [dz], [db], (gpu, b) => biasGradient(gpu, { dy: b(dz), dbias: b(db), batch, channels: s.outChannels, spatial: out[1]! * out[2]! }));
      }
      if (g.wants(x)) {
        const dx = g.gradTarget(x);
        const sc = scratch('backwardInput');
        op(graph, `${this.name}.backward.input`, [dz, w], [dx, ...sc], (gpu, b) => conv2dBackwardInput(gpu, s, { dy: b(dz), weight: b(w), dx: b(dx), scratch: sc.map(b), precision }));
      }
    });
    return y;
  }
}

export interface Pool2DOptions { poolSize?: number | [number, number]; strides?: number | [number, number]; padding?: number; name?: string }

abstract class Pool2D extends Layer {
  readonly window: [number, number];
  readonly strides: [number, number];
  readonly pad: number;

  constructor(o: Pool2DOptions, layer: string) {
    super();
    checkOptions(layer, o, ['poolSize', 'strides', 'padding', 'name']);
    checkPositivePair(layer, 'poolSize', o.poolSize);
    checkPositivePair(layer, 'strides', o.strides);
    if (o.padding !== undefined && !(Number.isInteger(o.padding) && o.padding >= 0)) throw new Error(`${layer}: padding must be a whole number ≥ 0, got ${JSON.stringify(o.padding)}`);
    this.window = pair(o.poolSize ?? 2);
    this.strides = pair(o.strides ?? this.window);
    this.pad = o.padding ?? 0;
    this.name = o.name ?? '';
  }

  protected abstract readonly type: string;

  override config(): LayerConfig {
    return { type: this.type, name: this.name, poolSize: [...this.window], strides: [...this.strides], padding: this.pad };
  }

  protected poolShape(input: Shape, batch: number): Pool2dShape {
    return {
      batch, channels: input[0]!, height: input[1]!, width: input[2]!, windowH: this.window[0], windowW: this.window[1],
      strideH: this.strides[0], strideW: this.strides[1], padH: this.pad, padW: this.pad,
    };
  }

  outputShape(input: Shape): Shape {
    if (input.length !== 3) throw shapeError(this, 'an image input [channels, height, width]', input);
    const { outH, outW } = pool2dOutputSize(this.poolShape(input, 1));
    if (outH < 1 || outW < 1) throw shapeError(this, `an image of at least ${this.window.join('×')}`, input);
    return [input[0]!, outH, outW];
  }
}

export class MaxPool2D extends Pool2D {
  readonly kind = 'maxpool';
  protected readonly type = 'MaxPool2D';
  constructor(o: Pool2DOptions = {}) { super(o, 'MaxPool2D'); }
  override describe(): string { return `MaxPool2D(${this.window.join('×')})`; }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const input = graph.shape(x).slice(1);
    const s = this.poolShape(input, batch);
    const out = [batch, ...this.outputShape(input)];
    const y = graph.tensor(`${this.name}.out`, out);
    const argmax = graph.tensor(`${this.name}.argmax`, out, 'temp', 'u32');
    op(graph, `${this.name}.forward`, [x], [y, argmax], (gpu, b) => maxPool2dForward(gpu, s, { x: b(x), y: b(y), argmax: b(argmax) }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [dy, argmax], [dx], (gpu, b) => maxPool2dBackward(gpu, s, { dy: b(dy), argmax: b(argmax), dx: b(dx) }));
    });
    return y;
  }
}

export class AvgPool2D extends Pool2D {
  readonly kind = 'avgpool';
  protected readonly type = 'AvgPool2D';
  constructor(o: Pool2DOptions = {}) { super(o, 'AvgPool2D'); }
  override describe(): string { return `AvgPool2D(${this.window.join('×')})`; }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const input = graph.shape(x).slice(1);
    const s = this.poolShape(input, batch);
    const y = graph.tensor(`${this.name}.out`, [batch, ...this.outputShape(input)]);
    op(graph, `${this.name}.forward`, [x], [y], (gpu, b) => avgPool2dForward(gpu, s, { x: b(x), y: b(y) }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [dy], [dx], (gpu, b) => avgPool2dBackward(gpu, s, { dy: b(dy), dx: b(dx) }));
    });
    return y;
  }
}

export class Flatten extends Layer {
  readonly kind = 'flatten';
  override config(): LayerConfig { return { type: 'Flatten', name: this.name }; }
  outputShape(input: Shape): Shape { return [elementCount(input)]; }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const y = graph.view(x, [batch, elementCount(graph.shape(x).slice(1))], `${this.name}.out`);
    ctx.tape.recordView(x, y);
    return y;
  }
}

export class ActivationLayer extends Layer {
  readonly kind: string;
  constructor(readonly activation: ActivationKind, name = '') {
    super();
    this.kind = activation;
    this.name = name;
  }

  override describe(): string { return this.activation; }
  override config(): LayerConfig { return { type: 'Activation', name: this.name, activation: this.activation }; }
  outputShape(input: Shape): Shape { return input; }

  forward(ctx: BuildContext, x: number): number {
    const { graph } = ctx;
    const shape = graph.shape(x);
    const count = elementCount(shape);
    const y = graph.tensor(`${this.name}.out`, shape);
    const kind = this.activation;
    op(graph, `${this.name}.forward`, [x], [y], (gpu, b) => activationForward(gpu, kind, { x: b(x), y: b(y), count }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [y, dy], [dx], (gpu, b) => activationBackward(gpu, kind, { y: b(y), dy: b(dy), dx: b(dx), count }));
    });
    return y;
  }
}

export const ReLU = (name?: string) => new ActivationLayer('relu', name);
export const Sigmoid = (name?: string) => new ActivationLayer('sigmoid', name);
export const Tanh = (name?: string) => new ActivationLayer('tanh', name);

/**
 * Softmax as the last layer: training with cross-entropy uses the logits before it (the loss is
 * fused and stable); inference and predict() apply it.
 */
export class Softmax extends Layer {
  readonly kind = 'softmax';
  override config(): LayerConfig { return { type: 'Softmax', name: this.name }; }
  outputShape(input: Shape): Shape {
    if (input.length !== 1) throw shapeError(this, 'a flat input [classes]', input);
    return input;
  }

  forward(_ctx: BuildContext, x: number): number {
    return x;
  }
}

export class Dropout extends Layer {
  readonly kind = 'dropout';
  /** Distinct per dropout layer so two layers never share a mask. */
  stream = 0;

  constructor(readonly rate: number, name = '') {
    super();
    if (!(rate >= 0 && rate < 1)) throw new Error(`Dropout: rate must be in [0, 1), got ${rate}`);
    this.name = name;
  }

  override describe(): string { return `Dropout(${this.rate})`; }
  override config(): LayerConfig { return { type: 'Dropout', name: this.name, rate: this.rate }; }
  // A second application would reuse the first one's mask stream.
  override get reusable(): boolean { return false; }
  outputShape(input: Shape): Shape { return input; }

  forward(ctx: BuildContext, x: number): number {
    if (!ctx.training || this.rate === 0) return x;
    const { graph } = ctx;
    const shape = graph.shape(x);
    const count = elementCount(shape);
    const y = graph.tensor(`${this.name}.out`, shape);
    const { rate, stream } = this;
    const seed = ctx.seed;
    op(graph, `${this.name}.forward`, [x, seed], [y], (gpu, b) => dropoutForward(gpu, { x: b(x), y: b(y), count, rate, seed: b(seed), stream }));
    ctx.tape.record([x], [y], (g) => {
      if (!g.wants(x)) return;
      const dy = g.gradOf(y);
      const dx = g.gradTarget(x);
      op(graph, `${this.name}.backward`, [dy, seed], [dx], (gpu, b) => dropoutBackward(gpu, { dy: b(dy), dx: b(dx), count, rate, seed: b(seed), stream }));
    });
    return y;
  }
}

export interface BatchNormOptions { momentum?: number; eps?: number; name?: string }

/** Batch normalization over the channel axis (NCHW) or the features of a flat input. */
export class BatchNorm extends Layer {
  readonly kind = 'bn';
  readonly momentum: number;
  readonly eps: number;

  constructor(o: BatchNormOptions = {}) {
    super();
    checkOptions('BatchNorm', o, ['momentum', 'eps', 'name']);
    this.momentum = o.momentum ?? 0.1;
    this.eps = o.eps ?? 1e-5;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`BatchNorm: momentum must be in [0, 1], got ${JSON.stringify(o.momentum)}`);
    if (!(this.eps > 0)) throw new Error(`BatchNorm: eps must be a positive number, got ${JSON.stringify(o.eps)}`);
    this.name = o.name ?? '';
  }

  override config(): LayerConfig { return { type: 'BatchNorm', name: this.name, momentum: this.momentum, eps: this.eps }; }

  // Two applications would each update the same running statistics.
  override get reusable(): boolean { return false; }

  outputShape(input: Shape): Shape {
    if (input.length !== 1 && input.length !== 3) throw shapeError(this, '[features] or [channels, height, width]', input);
    return input;
  }

  override params(input: Shape): ParamSpec[] {
    return [
      { name: 'weight', shape: [input[0]!], init: { kind: 'ones' } },
      { name: 'bias', shape: [input[0]!], init: { kind: 'zeros' } },
    ];
  }

  override states(input: Shape): StateSpec[] {
    return [
      { name: 'running_mean', shape: [input[0]!], value: 0 },
      { name: 'running_var', shape: [input[0]!], value: 1 },
    ];
  }

  forward(ctx: BuildContext, x: number): number {
    const { graph, batch } = ctx;
    const shape = graph.shape(x);
    const s = { batch, channels: shape[1]!, spatial: elementCount(shape.slice(2)) };
    const gamma = ctx.param(this, 'weight');
    const beta = ctx.param(this, 'bias');
    const runningMean = ctx.state(this, 'running_mean');
    const runningVar = ctx.state(this, 'running_var');
    const y = graph.tensor(`${this.name}.out`, shape);
    const { eps, momentum } = this;
    if (!ctx.training) {
      op(graph, `${this.name}.forward`, [x, gamma, beta, runningMean, runningVar], [y], (gpu, b) => batchNormForwardInference(gpu, s, {
        x: b(x), gamma: b(gamma), beta: b(beta), runningMean: b(runningMean), runningVar: b(runningVar), y: b(y), eps,
      }));
      return y;
    }
    const mean = graph.tensor(`${this.name}.mean`, [s.channels]);
    const invStd = graph.tensor(`${this.name}.inv_std`, [s.channels]);
    op(graph, `${this.name}.forward`, [x, gamma, beta], [y, mean, invStd, runningMean, runningVar], (gpu, b) => batchNormForwardTrain(gpu, s, {
      x: b(x), gamma: b(gamma), beta: b(beta), y: b(y), mean: b(mean), invStd: b(invStd),
      runningMean: b(runningMean), runningVar: b(runningVar), momentum, eps,
    }));
    ctx.tape.record([x, gamma, beta], [y], (g) => {
      const dy = g.gradOf(y);
      // The fused kernel produces all three gradients; unneeded ones land in scratch tensors.
      const target = (t: number, label: string) => (g.wants(t) ? g.gradTarget(t) : graph.tensor(`${this.name}.unused_${label}`, graph.shape(t)));
      const dx = target(x, 'dx');
      const dgamma = target(gamma, 'dgamma');
      const dbeta = target(beta, 'dbeta');
      op(graph, `${this.name}.backward`, [x, dy, gamma, mean, invStd], [dx, dgamma, dbeta], (gpu, b) => batchNormBackward(gpu, s, {
        x: b(x), dy: b(dy), gamma: b(gamma), mean: b(mean), invStd: b(invStd), dx: b(dx), dgamma: b(dgamma), dbeta: b(dbeta),
      }));
    });
    return y;
  }
}
