// A float64 CPU twin of a compiled training step for any model (a chain or a graph), assembled
// from the kernel references: the executor's GPU step must agree with it.
import { ActivationLayer, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Softmax } from '../../src/layers/layers.ts';
import type { Layer } from '../../src/layers/layer.ts';
import type { Model, ModelNode } from '../../src/model/model.ts';
import { Concatenate, Elementwise, Permute, Reshape, Slice, Unary } from '../../src/layers/ops.ts';
import { Gather, Reduce, SoftmaxAxis } from '../../src/layers/axis-ops.ts';
import { MaskedFill, Where } from '../../src/layers/select-ops.ts';
import { MatMul } from '../../src/layers/matmul.ts';
import { axisShape, type AxisShape } from '../../src/kernels/reduce_axis.ts';
import { maxAxisBackwardRef, maxAxisRef, softmaxAxisBackwardRef, softmaxAxisRef, sumAxisBackwardRef, sumAxisRef } from './reduce_axis.ts';
import { maskedFillRef, whereBackwardRef, whereRef } from './select.ts';
import { gatherAxisBackwardRef, gatherAxisRef } from './gather_axis.ts';
import { matmulBackwardRef, matmulFullShapes, matmulRef } from './matmul.ts';
import { ClassToken, Embedding, PositionalEmbedding, TiedDense } from '../../src/layers/tokens.ts';
import { GELU, LayerNorm, ScaledDotProductAttention } from '../../src/layers/transformer.ts';
import { LoraDense } from '../../src/layers/lora.ts';
import { loraBackwardRef, loraForwardRef } from './lora.ts';
import { layerNormBackwardRef, layerNormForwardRef } from './layernorm.ts';
import { geluBackwardRef, geluForwardRef } from './gelu.ts';
import { embeddingBackwardRef, embeddingForwardRef } from './embedding.ts';
import { attentionBackwardRef, attentionForwardRef, causalMask } from './attention.ts';
import { binaryRef, concatRef, permuteRef, sliceRef, sumToShapeRef, unaryRef } from './elementwise.ts';
import type { Pool2dShape } from '../../src/kernels/pool.ts';
import { activationBackwardRef, activationForwardRef } from './activation.ts';
import { conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dForwardRef } from './conv.ts';
import { avgPool2dBackwardRef, avgPool2dForwardRef, maxPool2dBackwardRef, maxPool2dForwardRef } from './pool.ts';
import { batchNormBackwardRef, batchNormForwardTrainRef } from './batchnorm.ts';
import { dropoutRef } from './dropout.ts';
import { softmaxCrossEntropyRef } from './loss.ts';
import { adamStepReference, sgdStepReference } from './optimizer.ts';
import { parameterWeightDecay, type OptimizerConfig } from '../../src/optim/optim.ts';
import { convAlgorithm } from '../../src/kernels/conv.ts';
import { roundToF16 } from '../../src/data/f16.ts';
import type { LossScaleOptions } from '../../src/kernels/loss_scale.ts';
import { updateReference } from './loss_scale.ts';

type Params = Map<string, Float64Array>;
type Backward = (dy: Float64Array) => Float64Array;

function poolShape(layer: MaxPool2D | AvgPool2D, input: readonly number[], batch: number): Pool2dShape {
  return {
    batch, channels: input[0]!, height: input[1]!, width: input[2]!, windowH: layer.window[0], windowW: layer.window[1],
    strideH: layer.strides[0], strideW: layer.strides[1], padH: layer.pad, padW: layer.pad,
  };
}

/** Adds a gradient in, so a layer applied twice (shared weights) gets the sum of both. */
function addInto(grads: Params, name: string, g: ArrayLike<number>): void {
  const existing = grads.get(name);
  if (!existing) grads.set(name, Float64Array.from(g));
  else for (let i = 0; i < existing.length; i++) existing[i]! += g[i]!;
}

type NodeBackward = (dy: Float64Array) => Float64Array[];

/** Forward one parameter-free op on the CPU; returns its output and each input's gradient closure. */
function opStep(node: ModelNode, xs: Float64Array[], batch: number): { y: Float64Array; backward: NodeBackward } | undefined {
  const layer = node.layer;
  const shapes = node.inputs.map((t) => [batch, ...t.shape]);
  const outShape = [batch, ...node.output.shape];
  if (layer instanceof Elementwise) {
    const rank = Math.max(node.inputs[0]!.shape.length, node.inputs[1]!.shape.length);
    const [aShape, bShape] = node.inputs.map((t) => [batch, ...Array<number>(rank - t.shape.length).fill(1), ...t.shape]) as [number[], number[]];
    const [a, b] = xs as [Float64Array, Float64Array];
    const y = binaryRef(layer.operation, a, aShape, b, bShape);
    const toA = (full: Float64Array) => sumToShapeRef(full, outShape, aShape);
    const toB = (full: Float64Array) => sumToShapeRef(full, outShape, bShape);
    return {
      y,
      backward: (dy) => {
        switch (layer.operation) {
          case 'add': return [toA(dy), toB(dy)];
          case 'sub': return [toA(dy), toB(dy.map((v) => -v))];
          case 'mul': return [toA(binaryRef('mul', dy, outShape, b, bShape)), toB(binaryRef('mul', dy, outShape, a, aShape))];
          default: return [toA(binaryRef('div', dy, outShape, b, bShape)), toB(binaryRef('div', binaryRef('mul', dy, outShape, y, outShape), outShape, b, bShape, -1))];
        }
      },
    };
  }
  if (layer instanceof Unary) {
    const x = xs[0]!;
    const { operation, scalar } = layer;
    const alpha = operation === 'scale' ? scalar : 1, beta = operation === 'shift' ? scalar : 0;
    const y = unaryRef(operation === 'scale' || operation === 'shift' ? 'affine' : operation, x, alpha, beta);
    const derivative = (i: number) => (operation === 'exp' ? y[i]! : operation === 'log' ? 1 / x[i]! : operation === 'sqrt' ? 0.5 / y[i]! : alpha);
    return { y, backward: (dy) => [dy.map((g, i) => g * derivative(i))] };
  }
  if (layer instanceof Concatenate) {
    const axis = (layer.axis < 0 ? node.output.shape.length + layer.axis : layer.axis) + 1;
    const y = concatRef(xs.map((data, i) => ({ data, shape: shapes[i]! })), axis);
    return {
      y,
      backward: (dy) => {
        let start = 0;
        return shapes.map((shape) => { const piece = sliceRef(dy, outShape, axis, start, start + shape[axis]!); start += shape[axis]!; return piece; });
      },
    };
  }
  if (layer instanceof Slice) {
    const inShape = shapes[0]!;
    const axis = (layer.axis < 0 ? inShape.length - 1 + layer.axis : layer.axis) + 1;
    const y = sliceRef(xs[0]!, inShape, axis, layer.start, layer.end);
    return {
      y,
      backward: (dy) => {
        const before = inShape.slice(0, axis), after = inShape.slice(axis + 1);
        const part = (n: number) => ({ data: new Float64Array([...before, n, ...after].reduce((p, d) => p * d, 1)), shape: [...before, n, ...after] });
        const pieces = [part(layer.start), { data: dy, shape: outShape }, part(inShape[axis]! - layer.end)].filter((q) => q.shape[axis]! > 0);
        return [concatRef(pieces, axis)];
      },
    };
  }
  if (layer instanceof Reshape) return { y: xs[0]!, backward: (dy) => [dy] };
  if (layer instanceof ScaledDotProductAttention && layer.heads !== undefined) {
    // Fused q, k, v rows [batch, T, 3, heads, D] ⇄ three [batch, heads, T, D] tensors; o by token.
    const [seq, fusedWidth] = node.inputs[0]!.shape as [number, number];
    const heads = layer.heads, headDim = fusedWidth / (3 * heads);
    const s = { batch, heads, seq, headDim };
    const options = layer.causal ? { mask: causalMask } : {};
    const n = batch * heads * seq * headDim;
    const split = permuteRef(xs[0]!, [batch, seq, 3, heads, headDim], [2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((part) => split.subarray(part * n, (part + 1) * n));
    const byToken = (x: Float64Array) => permuteRef(x, [batch, heads, seq, headDim], [0, 2, 1, 3]);
    return {
      y: byToken(attentionForwardRef(s, q!, k!, v!, options).o),
      backward: (dO) => {
        const g = attentionBackwardRef(s, q!, k!, v!, permuteRef(dO, [batch, seq, heads, headDim], [0, 2, 1, 3]), options);
        return [permuteRef(Float64Array.from([...g.dq, ...g.dk, ...g.dv]), [3, batch, heads, seq, headDim], [1, 3, 0, 2, 4])];
      },
    };
  }
  if (layer instanceof ScaledDotProductAttention) {
    const [heads, seq, headDim] = node.inputs[0]!.shape as [number, number, number];
    const s = { batch, heads, seq, headDim };
    const options = layer.causal ? { mask: causalMask } : {};
    const [q, k, v] = xs as [Float64Array, Float64Array, Float64Array];
    return {
      y: attentionForwardRef(s, q, k, v, options).o,
      backward: (dO) => { const g = attentionBackwardRef(s, q, k, v, dO, options); return [g.dq, g.dk, g.dv]; },
    };
  }
  const perSampleAxis = (axis: number, rank: number) => (axis < 0 ? rank + axis : axis) + 1;
  if (layer instanceof Reduce) {
    // One axis at a time, innermost first, as the layer runs it.
    const axes = layer.axes.map((a) => perSampleAxis(a, node.inputs[0]!.shape.length)).sort((p, q) => q - p);
    const stages: { s: AxisShape; argmax?: Uint32Array; alpha: number }[] = [];
    let data = xs[0]!;
    const shape = [...shapes[0]!];
    for (const axis of axes) {
      const s = axisShape(shape, axis);
      if (layer.operation === 'max') { const r = maxAxisRef(s, data); data = r.y; stages.push({ s, argmax: r.argmax, alpha: 1 }); }
      else { const alpha = layer.operation === 'mean' ? 1 / s.n : 1; data = sumAxisRef(s, data, alpha); stages.push({ s, alpha }); }
      shape[axis] = 1;
    }
    return {
      y: data,
      backward: (dy) => [stages.reduceRight((g, { s, argmax, alpha }) => (argmax ? maxAxisBackwardRef(s, g, argmax) : sumAxisBackwardRef(s, g, alpha)), dy)],
    };
  }
  if (layer instanceof SoftmaxAxis) {
    const s = axisShape(shapes[0]!, perSampleAxis(layer.axis, node.inputs[0]!.shape.length));
    const y = softmaxAxisRef(s, xs[0]!, layer.log);
    return { y, backward: (dy) => [softmaxAxisBackwardRef(s, y, dy, layer.log)] };
  }
  if (layer instanceof Where || layer instanceof MaskedFill) {
    const rank = Math.max(...node.inputs.map((t) => t.shape.length));
    const full = node.inputs.map((t) => [batch, ...Array<number>(rank - t.shape.length).fill(1), ...t.shape]);
    if (layer instanceof MaskedFill) {
      const [x, mask] = xs as [Float64Array, Float64Array];
      return { y: maskedFillRef(x, full[0]!, mask, full[1]!, layer.value), backward: (dy) => [whereBackwardRef(mask, full[1]!, dy, outShape, false), new Float64Array(mask.length)] };
    }
    const [cond, a, b] = xs as [Float64Array, Float64Array, Float64Array];
    const side = (dy: Float64Array, takeTrue: boolean, shape: number[]) => sumToShapeRef(whereBackwardRef(cond, full[0]!, dy, outShape, takeTrue), outShape, shape);
    return { y: whereRef(cond, full[0]!, a, full[1]!, b, full[2]!), backward: (dy) => [new Float64Array(cond.length), side(dy, true, full[1]!), side(dy, false, full[2]!)] };
  }
  if (layer instanceof Gather) {
    const axis = perSampleAxis(layer.axis, node.inputs[0]!.shape.length);
    const s = { ...axisShape(shapes[0]!, axis), k: shapes[1]![axis]! };
    const [x, ids] = xs as [Float64Array, Float64Array];
    return { y: gatherAxisRef(s, x, ids), backward: (dy) => [gatherAxisBackwardRef(s, ids, dy), new Float64Array(ids.length)] };
  }
  if (layer instanceof MatMul) {
    const [aShape, bShape] = matmulFullShapes(batch, node.inputs[0]!.shape, node.inputs[1]!.shape);
    const [a, b] = xs as [Float64Array, Float64Array];
    return { y: matmulRef(a, aShape, b, bShape), backward: (dy) => { const g = matmulBackwardRef(a, aShape, b, bShape, dy); return [g.da, g.db]; } };
  }
  if (layer instanceof Permute) {
    const perm = [0, ...layer.perm.map((p) => p + 1)];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return { y: permuteRef(xs[0]!, shapes[0]!, perm), backward: (dy) => [permuteRef(dy, outShape, inverse)] };
  }
  return undefined;
}

type NamedValue = { name: string; value: Float64Array };

const toF16 = (values: Float64Array): Float64Array => values.map(roundToF16);

/** act(x · wᵀ + b) over the last axis; its backward adds into the named parameters' gradients (a tied weight sums both uses). */
function linearStep(input: readonly number[], xIn: Float64Array, batch: number, weight: NamedValue, bias: NamedValue | undefined, activation: Dense['activation'], out: number, grads: Params, f16: boolean): { y: Float64Array; backward: Backward } {
  // A sequence [tokens, features] is projected token by token: every token is a row.
  const inF = input.at(-1)!, rows = batch * input.slice(0, -1).reduce((a, d) => a * d, 1);
  // Under mixed precision each of the three products reads f16 operands and writes f16 results.
  const round = f16 ? toF16 : (v: Float64Array) => v;
  const x = round(xIn), w = round(weight.value), b = bias?.value;
  const z = new Float64Array(rows * out);
  for (let n = 0; n < rows; n++) for (let o = 0; o < out; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < inF; i++) s += x[n * inF + i]! * w[o * inF + i]!;
    z[n * out + o] = s;
  }
  const y = activation === 'none' ? round(z) : activationForwardRef(activation, round(z));
  return {
    y,
    backward: (dy) => {
      const dzExact = activation === 'none' ? dy : activationBackwardRef(activation, y, dy);
      const dz = round(dzExact);
      const dw = new Float64Array(out * inF), dx = new Float64Array(rows * inF), db = new Float64Array(out);
      for (let n = 0; n < rows; n++) for (let o = 0; o < out; o++) {
        const g = dz[n * out + o]!;
        db[o]! += dzExact[n * out + o]!;
        for (let i = 0; i < inF; i++) { dw[o * inF + i]! += g * x[n * inF + i]!; dx[n * inF + i]! += g * w[o * inF + i]!; }
      }
      addInto(grads, weight.name, round(dw));
      if (bias) addInto(grads, bias.name, db);
      return round(dx);
    },
  };
}

/** Forward one layer on the CPU; returns its output and a closure for its backward (which fills `grads`). */
function layerStep(layer: Layer, input: readonly number[], x: Float64Array, batch: number, p: Params, grads: Params, seed: number, step: number, f16: boolean): { y: Float64Array; backward: Backward } {
  const param = (name: string) => p.get(`${layer.name}.${name}`)!;
  if (layer instanceof Dense) {
    const b = layer.useBias ? { name: `${layer.name}.bias`, value: param('bias') } : undefined;
    return linearStep(input, x, batch, { name: `${layer.name}.weight`, value: param('weight') }, b, layer.activation, layer.units, grads, f16);
  }
  if (layer instanceof TiedDense) {
    const weight = `${layer.tiedTo.name}.weight`;
    return linearStep(input, x, batch, { name: weight, value: p.get(weight)! }, undefined, 'none', layer.tiedTo.vocab, grads, f16);
  }
  if (f16 && layer instanceof LoraDense) throw new Error(`no f16 CPU reference for layer ${layer.name}`);
  if (layer instanceof LoraDense) {
    const s = { rows: batch * input.slice(0, -1).reduce((a, d) => a * d, 1), inFeatures: input.at(-1)!, units: layer.units, rank: layer.rank, scale: layer.scale };
    const weights = { w: param('weight'), ...(layer.useBias ? { bias: param('bias') } : {}), a: param('lora_A.weight'), b: param('lora_B.weight') };
    const dropped = layer.dropout > 0;
    const xa = dropped ? dropoutRef(x, layer.dropout, seed, step, layer.stream) : x;
    const { y, h } = loraForwardRef(s, x, weights, xa);
    return {
      y,
      backward: (dy) => {
        const g = loraBackwardRef(s, x, weights, h, dy, xa);
        const dxa = dropped ? dropoutRef(g.dxa, layer.dropout, seed, step, layer.stream) : g.dxa;
        addInto(grads, `${layer.name}.weight`, g.dw);
        if (layer.useBias) addInto(grads, `${layer.name}.bias`, g.dbias);
        addInto(grads, `${layer.name}.lora_A.weight`, g.da);
        addInto(grads, `${layer.name}.lora_B.weight`, g.db);
        return g.dx.map((v, i) => v + dxa[i]!);
      },
    };
  }
  if (layer instanceof Conv2D) {
    const s = layer.convShape(input, batch);
    // Under mixed precision only the passes that run as a column GEMM round to f16.
    const rounds = (pass: 'forward' | 'backwardInput' | 'backwardWeight') => f16 && convAlgorithm(s, pass) === 'columns';
    if (rounds('backwardInput')) throw new Error(`no f16 CPU reference for ${layer.name}'s column input gradient`);
    const forwardRounds = rounds('forward');
    const z = forwardRounds
      ? toF16(conv2dForwardRef(s, toF16(x), toF16(param('weight')), layer.useBias ? param('bias') : undefined))
      : conv2dForwardRef(s, x, param('weight'), layer.useBias ? param('bias') : undefined);
    const activation = layer.activation;
    const y = activation === 'none' ? z : activationForwardRef(activation, z);
    return {
      y,
      backward: (dy) => {
        const dz = activation === 'none' ? dy : activationBackwardRef(activation, y, dy);
        const { dweight: exactDweight, dbias } = conv2dBackwardWeightRef(s, x, dz);
        const dweight = rounds('backwardWeight') ? toF16(conv2dBackwardWeightRef(s, toF16(x), toF16(dz)).dweight) : exactDweight;
        addInto(grads, `${layer.name}.weight`, dweight);
        if (layer.useBias) addInto(grads, `${layer.name}.bias`, dbias);
        return conv2dBackwardInputRef(s, dz, param('weight'));
      },
    };
  }
  if (layer instanceof MaxPool2D) {
    const s = poolShape(layer, input, batch);
    const { y, argmax } = maxPool2dForwardRef(s, x);
    return { y, backward: (dy) => maxPool2dBackwardRef(s, dy, argmax) };
  }
  if (layer instanceof AvgPool2D) {
    const s = poolShape(layer, input, batch);
    return { y: avgPool2dForwardRef(s, x), backward: (dy) => avgPool2dBackwardRef(s, dy) };
  }
  if (layer instanceof Flatten || layer instanceof Softmax) return { y: x, backward: (dy) => dy };
  if (layer instanceof ActivationLayer) {
    const y = activationForwardRef(layer.activation, x);
    return { y, backward: (dy) => activationBackwardRef(layer.activation, y, dy) };
  }
  if (layer instanceof Dropout) {
    if (layer.rate === 0) return { y: x, backward: (dy) => dy };
    return { y: dropoutRef(x, layer.rate, seed, step, layer.stream), backward: (dy) => dropoutRef(dy, layer.rate, seed, step, layer.stream) };
  }
  if (layer instanceof BatchNorm) {
    const s = { batch, channels: input[0]!, spatial: input.slice(1).reduce((a, b) => a * b, 1) };
    const runningMean = `${layer.name}.running_mean`, runningVar = `${layer.name}.running_var`;
    const r = batchNormForwardTrainRef(s, x, param('weight'), param('bias'), { mean: p.get(runningMean)!, var: p.get(runningVar)! }, layer.momentum, layer.eps);
    p.set(runningMean, r.runningMean);
    p.set(runningVar, r.runningVar);
    return {
      y: r.y,
      backward: (dy) => {
        const g = batchNormBackwardRef(s, x, dy, param('weight'), r.mean, r.invStd);
        addInto(grads, `${layer.name}.weight`, g.dgamma);
        addInto(grads, `${layer.name}.bias`, g.dbeta);
        return g.dx;
      },
    };
  }
  if (layer instanceof LayerNorm) {
    const s = { rows: batch * input.slice(0, -1).reduce((a, d) => a * d, 1), cols: input.at(-1)! };
    const r = layerNormForwardRef(s, x, param('weight'), param('bias'), layer.eps);
    return {
      y: r.y,
      backward: (dy) => {
        const g = layerNormBackwardRef(s, x, dy, param('weight'), r.mean, r.rstd);
        addInto(grads, `${layer.name}.weight`, g.dgamma);
        addInto(grads, `${layer.name}.bias`, g.dbeta);
        return g.dx;
      },
    };
  }
  if (layer instanceof GELU) return { y: geluForwardRef(x), backward: (dy) => geluBackwardRef(x, dy) };
  if (layer instanceof Embedding) {
    const s = { tokens: x.length, vocab: layer.vocab, width: layer.width };
    return {
      y: embeddingForwardRef(s, x, param('weight')),
      backward: (dy) => {
        addInto(grads, `${layer.name}.weight`, embeddingBackwardRef(s, x, dy));
        return new Float64Array(x.length); // ids carry no gradient
      },
    };
  }
  if (layer instanceof PositionalEmbedding) {
    const table = param('weight');
    return {
      y: x.map((v, i) => v + table[i % table.length]!),
      backward: (dy) => {
        const dt = new Float64Array(table.length);
        dy.forEach((g, i) => { dt[i % table.length]! += g; });
        addInto(grads, `${layer.name}.weight`, dt);
        return Float64Array.from(dy);
      },
    };
  }
  if (layer instanceof ClassToken) {
    const token = param('weight');
    const rowIn = input[0]! * input[1]!, width = input[1]!;
    const y = new Float64Array(batch * (rowIn + width));
    for (let n = 0; n < batch; n++) {
      y.set(token, n * (rowIn + width));
      y.set(x.subarray(n * rowIn, (n + 1) * rowIn), n * (rowIn + width) + width);
    }
    return {
      y,
      backward: (dy) => {
        const dt = new Float64Array(width), dx = new Float64Array(batch * rowIn);
        for (let n = 0; n < batch; n++) {
          for (let e = 0; e < width; e++) dt[e]! += dy[n * (rowIn + width) + e]!;
          dx.set(dy.subarray(n * (rowIn + width) + width, (n + 1) * (rowIn + width)), n * rowIn);
        }
        addInto(grads, `${layer.name}.weight`, dt);
        return dx;
      },
    };
  }
  throw new Error(`no CPU reference for layer ${layer.name}`);
}

export interface CpuTrainer {
  params: Params;
  /**
   * One step on the batch (already normalized inputs, or token ids; integer labels, one per output
   * row: per sample for a classifier, per token for a [tokens, vocab] output); returns the mean loss.
   */
  step(x: Float64Array, labels: ArrayLike<number>): number;
  /**
   * One step on a batch of `batch` samples with one array per model input and any loss: `loss`
   * maps the output to its mean loss and that mean's gradient. Returns the loss.
   */
  stepWith(inputs: Float64Array[], batch: number, loss: (output: Float64Array) => { loss: number; grad: Float64Array }): number;
  /** Mixed precision only: GradScaler's state after the steps so far. */
  lossScale?: { scale: number; goodSteps: number; skippedSteps: number };
}

/**
 * `frozen`: parameter names that keep their values, as ProgramOptions.frozen (exact names here).
 * `mixed`: ProgramOptions.mixedPrecision's rule (all four knobs): the GEMM-based layers round to f16
 * where the GPU's products do, the loss gradient is scaled, the gradients unscaled and checked, and
 * a step with an Inf or NaN gradient is skipped (Adam's t counts applied steps).
 */
export function cpuTrainer(model: Model, initial: ReadonlyMap<string, Float32Array>, optimizer: OptimizerConfig, seed: number, frozen: readonly string[] = [], mixed?: Required<LossScaleOptions>): CpuTrainer {
  const params: Params = new Map([...initial].map(([k, v]) => [k, Float64Array.from(v)]));
  const moments = new Map<string, Float64Array>();
  const moment = (key: string, n: number) => {
    let m = moments.get(key);
    if (!m) { m = new Float64Array(n); moments.set(key, m); }
    return m;
  };
  let stepCount = 0;
  let appliedSteps = 0;
  const f16 = mixed !== undefined;
  const trainer: CpuTrainer = {
    params,
    ...(mixed ? { lossScale: { scale: mixed.initScale, goodSteps: 0, skippedSteps: 0 } } : {}),
    step(x, labels) {
      const classes = model.outputShape.at(-1)!;
      const rowsPerSample = model.outputShape.slice(0, -1).reduce((a, d) => a * d, 1);
      return trainer.stepWith([x], labels.length / rowsPerSample, (output) => {
        const loss = softmaxCrossEntropyRef(output, labels.length, classes, { labels });
        return { loss: loss.rowLoss.reduce((a, b) => a + b, 0) / labels.length, grad: loss.dlogits };
      });
    },
    stepWith(inputs, batch, lossOf) {
      const grads: Params = new Map();
      const values = new Map<unknown, Float64Array>(model.inputs.map((t, i) => [t, inputs[i]!]));
      const backwards: NodeBackward[] = [];
      for (const node of model.nodes) {
        const xs = node.inputs.map((t) => values.get(t)!);
        if (f16 && node.layer instanceof MatMul) throw new Error(`no f16 CPU reference for ${node.layer.name}`);
        const step = opStep(node, xs, batch) ?? (() => {
          const { y, backward } = layerStep(node.layer, node.inputs[0]!.shape, xs[0]!, batch, params, grads, seed, stepCount, f16);
          return { y, backward: (dy: Float64Array) => [backward(dy)] };
        })();
        values.set(node.output, step.y);
        backwards.push(step.backward);
      }
      const loss = lossOf(values.get(model.outputs[0])!);
      const scale = trainer.lossScale?.scale ?? 1;
      // Reverse order; a tensor read by several nodes gets the sum of their gradients.
      const gradients = new Map<unknown, Float64Array>([[model.outputs[0], loss.grad.map((g) => g * scale)]]);
      for (let i = model.nodes.length - 1; i >= 0; i--) {
        const node = model.nodes[i]!;
        const dy = gradients.get(node.output);
        if (!dy) continue;
        backwards[i]!(dy).forEach((g, k) => {
          const source = node.inputs[k]!;
          const existing = gradients.get(source);
          if (!existing) gradients.set(source, Float64Array.from(g));
          else for (let j = 0; j < existing.length; j++) existing[j]! += g[j]!;
        });
      }
      stepCount++;
      const trained = model.parameterSpecs().filter((spec) => !frozen.includes(spec.name));
      if (mixed) {
        const unscaled = trained.map((spec) => grads.get(spec.name)!.map((g) => g / scale));
        trained.forEach((spec, i) => grads.set(spec.name, unscaled[i]!));
        const foundNonFinite = unscaled.some((g) => g.some((v) => !Number.isFinite(v)));
        trainer.lossScale = updateReference({ ...trainer.lossScale!, foundNonFinite }, mixed);
        if (foundNonFinite) return loss.loss;
      }
      appliedSteps++;
      for (const spec of trained) {
        const g = grads.get(spec.name)!;
        const param = params.get(spec.name)!;
        const s = { lr: optimizer.lr, step: appliedSteps, clipScale: 1 };
        if (optimizer.kind === 'sgd') {
          const momentum = optimizer.momentum ?? 0;
          sgdStepReference({ momentum, nesterov: optimizer.nesterov ?? false, weightDecay: parameterWeightDecay(optimizer, spec.shape), l1: optimizer.l1 ?? 0 },
            { param, ...(momentum > 0 ? { velocity: moment(`${spec.name}.v`, param.length) } : {}) }, g, s);
        } else {
          adamStepReference({ beta1: optimizer.beta1 ?? 0.9, beta2: optimizer.beta2 ?? 0.999, eps: optimizer.eps ?? 1e-8, weightDecay: parameterWeightDecay(optimizer, spec.shape), decoupled: optimizer.kind === 'adamw', l1: optimizer.l1 ?? 0 },
            { param, m: moment(`${spec.name}.m`, param.length), v: moment(`${spec.name}.v`, param.length) }, g, s);
        }
      }
      return loss.loss;
    },
  };
  return trainer;
}
