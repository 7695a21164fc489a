// A float64 CPU twin of a compiled training step for a Sequential model, assembled from the kernel
// references: the executor's GPU step must agree with it.
import { ActivationLayer, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Softmax } from '../../src/layers/layers.ts';
import type { Layer } from '../../src/layers/layer.ts';
import type { Sequential } from '../../src/model/model.ts';
import { samePadding, type Conv2dShape } from '../../src/kernels/conv.ts';
import type { Pool2dShape } from '../../src/kernels/pool.ts';
import { activationBackwardRef, activationForwardRef } from './activation.ts';
import { conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dForwardRef } from './conv.ts';
import { avgPool2dBackwardRef, avgPool2dForwardRef, maxPool2dBackwardRef, maxPool2dForwardRef } from './pool.ts';
import { batchNormBackwardRef, batchNormForwardTrainRef } from './batchnorm.ts';
import { dropoutRef } from './dropout.ts';
import { softmaxCrossEntropyRef } from './loss.ts';
import { adamStepReference, sgdStepReference } from './optimizer.ts';
import type { OptimizerConfig } from '../../src/optim/optim.ts';

type Params = Map<string, Float64Array>;
type Backward = (dy: Float64Array) => Float64Array;

function convShape(layer: Conv2D, input: readonly number[], batch: number): Conv2dShape {
  const pad = (k: number) => (layer.padding === 'valid' ? 0 : layer.padding === 'same' ? samePadding(k) : layer.padding);
  return {
    batch, inChannels: input[0]!, height: input[1]!, width: input[2]!, outChannels: layer.filters, kernelH: layer.kernel[0], kernelW: layer.kernel[1],
    strideH: layer.strides[0], strideW: layer.strides[1], padH: pad(layer.kernel[0]), padW: pad(layer.kernel[1]),
  };
}

function poolShape(layer: MaxPool2D | AvgPool2D, input: readonly number[], batch: number): Pool2dShape {
  return {
    batch, channels: input[0]!, height: input[1]!, width: input[2]!, windowH: layer.window[0], windowW: layer.window[1],
    strideH: layer.strides[0], strideW: layer.strides[1], padH: layer.pad, padW: layer.pad,
  };
}

function addInto(grads: Params, name: string, g: ArrayLike<number>): void {
  grads.set(name, Float64Array.from(g));
}

/** Forward one layer on the CPU; returns its output and a closure for its backward (which fills `grads`). */
function layerStep(layer: Layer, input: readonly number[], x: Float64Array, batch: number, p: Params, grads: Params, seed: number, step: number): { y: Float64Array; backward: Backward } {
  const param = (name: string) => p.get(`${layer.name}.${name}`)!;
  if (layer instanceof Dense) {
    const inF = input[0]!, out = layer.units;
    const w = param('weight'), b = layer.useBias ? param('bias') : undefined;
    const z = new Float64Array(batch * out);
    for (let n = 0; n < batch; n++) for (let o = 0; o < out; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[n * inF + i]! * w[o * inF + i]!;
      z[n * out + o] = s;
    }
    const y = layer.activation === 'none' ? z : activationForwardRef(layer.activation, z);
    return {
      y,
      backward: (dy) => {
        const dz = layer.activation === 'none' ? dy : activationBackwardRef(layer.activation, y, dy);
        const dw = new Float64Array(out * inF), dx = new Float64Array(batch * inF), db = new Float64Array(out);
        for (let n = 0; n < batch; n++) for (let o = 0; o < out; o++) {
          const g = dz[n * out + o]!;
          db[o]! += g;
          for (let i = 0; i < inF; i++) { dw[o * inF + i]! += g * x[n * inF + i]!; dx[n * inF + i]! += g * w[o * inF + i]!; }
        }
        addInto(grads, `${layer.name}.weight`, dw);
        if (b) addInto(grads, `${layer.name}.bias`, db);
        return dx;
      },
    };
  }
  if (layer instanceof Conv2D) {
    const s = convShape(layer, input, batch);
    const y = conv2dForwardRef(s, x, param('weight'), layer.useBias ? param('bias') : undefined, layer.activation);
    return {
      y,
      backward: (dy) => {
        const dz = layer.activation === 'none' ? dy : activationBackwardRef('relu', y, dy);
        const { dweight, dbias } = conv2dBackwardWeightRef(s, x, dz);
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
  throw new Error(`no CPU reference for layer ${layer.name}`);
}

export interface CpuTrainer {
  params: Params;
  /** One step on the batch (already normalized inputs, integer labels); returns the mean loss. */
  step(x: Float64Array, labels: ArrayLike<number>): number;
}

export function cpuTrainer(model: Sequential, initial: ReadonlyMap<string, Float32Array>, optimizer: OptimizerConfig, seed: number): CpuTrainer {
  const params: Params = new Map([...initial].map(([k, v]) => [k, Float64Array.from(v)]));
  const moments = new Map<string, Float64Array>();
  const moment = (key: string, n: number) => {
    let m = moments.get(key);
    if (!m) { m = new Float64Array(n); moments.set(key, m); }
    return m;
  };
  let stepCount = 0;
  return {
    params,
    step(x, labels) {
      const batch = labels.length;
      const grads: Params = new Map();
      const backwards: Backward[] = [];
      let activations = x;
      for (const plan of model.plan) {
        const { y, backward } = layerStep(plan.layer, plan.input, activations, batch, params, grads, seed, stepCount);
        backwards.push(backward);
        activations = y;
      }
      const classes = model.outputShape[0]!;
      const loss = softmaxCrossEntropyRef(activations, batch, classes, { labels });
      let grad = loss.dlogits;
      for (let i = backwards.length - 1; i >= 0; i--) grad = backwards[i]!(grad);
      stepCount++;
      for (const spec of model.parameterSpecs()) {
        const g = grads.get(spec.name)!;
        const param = params.get(spec.name)!;
        const s = { lr: optimizer.lr, step: stepCount, clipScale: 1 };
        if (optimizer.kind === 'sgd') {
          const momentum = optimizer.momentum ?? 0;
          sgdStepReference({ momentum, nesterov: optimizer.nesterov ?? false, weightDecay: optimizer.weightDecay ?? 0, l1: optimizer.l1 ?? 0 },
            { param, ...(momentum > 0 ? { velocity: moment(`${spec.name}.v`, param.length) } : {}) }, g, s);
        } else {
          adamStepReference({ beta1: optimizer.beta1 ?? 0.9, beta2: optimizer.beta2 ?? 0.999, eps: optimizer.eps ?? 1e-8, weightDecay: optimizer.weightDecay ?? (optimizer.kind === 'adamw' ? 0.01 : 0), decoupled: optimizer.kind === 'adamw', l1: optimizer.l1 ?? 0 },
            { param, m: moment(`${spec.name}.m`, param.length), v: moment(`${spec.name}.v`, param.length) }, g, s);
        }
      }
      return loss.rowLoss.reduce((a, b) => a + b, 0) / batch;
    },
  };
}
