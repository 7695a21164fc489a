// Sequential models: layer naming (PyTorch state_dict style), shape inference with errors that name
// the layer, and seeded initial parameter values.
import { Dropout, Layer, Softmax, type ParamSpec, type Shape, type StateSpec } from '../layers/layers.ts';
import { initialize } from '../layers/init.ts';
import { elementCount, formatShape } from '../graph/graph.ts';

export interface NamedTensor { name: string; shape: Shape }

export interface LayerPlan {
  layer: Layer;
  input: Shape;
  output: Shape;
  params: (ParamSpec & { fullName: string })[];
  states: (StateSpec & { fullName: string })[];
}

export class Sequential {
  readonly layers: Layer[];
  readonly inputShape: Shape;
  readonly plan: LayerPlan[];
  readonly outputShape: Shape;

  constructor(inputShape: Shape, layers: Layer[]) {
    this.layers = layers;
    this.inputShape = inputShape;
    const counts = new Map<string, number>();
    const used = new Set<string>();
    let dropoutStream = 0;
    for (const layer of layers) {
      const n = (counts.get(layer.kind) ?? 0) + 1;
      counts.set(layer.kind, n);
      if (!layer.name) layer.name = `${layer.kind}${n}`;
      if (used.has(layer.name)) throw new Error(`two layers are named "${layer.name}"; layer names must be unique`);
      used.add(layer.name);
      if (layer instanceof Dropout) layer.stream = ++dropoutStream;
    }
    const softmaxAt = layers.findIndex((l) => l instanceof Softmax);
    if (softmaxAt >= 0 && softmaxAt !== layers.length - 1) throw new Error(`layer ${layers[softmaxAt]!.name}: Softmax is only supported as the last layer`);
    let shape = inputShape;
    this.plan = layers.map((layer) => {
      const input = shape;
      let output: Shape;
      try {
        output = layer.outputShape(input);
      } catch (error) {
        throw new Error(`shape mismatch: ${(error as Error).message}`);
      }
      shape = output;
      return {
        layer, input, output,
        params: layer.params(input).map((p) => ({ ...p, fullName: `${layer.name}.${p.name}` })),
        states: layer.states(input).map((s) => ({ ...s, fullName: `${layer.name}.${s.name}` })),
      };
    });
    this.outputShape = shape;
  }

  get endsWithSoftmax(): boolean {
    return this.layers.at(-1) instanceof Softmax;
  }

  parameterSpecs(): NamedTensor[] {
    return this.plan.flatMap((p) => p.params.map((s) => ({ name: s.fullName, shape: s.shape })));
  }

  stateSpecs(): NamedTensor[] {
    return this.plan.flatMap((p) => p.states.map((s) => ({ name: s.fullName, shape: s.shape })));
  }

  parameterCount(): number {
    return this.parameterSpecs().reduce((sum, p) => sum + elementCount(p.shape), 0);
  }

  /** Fresh values for every parameter and state tensor, in state_dict order, from `seed`. */
  initialValues(seed: number): Map<string, Float32Array> {
    const values = new Map<string, Float32Array>();
    let stream = 0;
    for (const layer of this.plan) {
      for (const p of layer.params) values.set(p.fullName, initialize(p.init, elementCount(p.shape), seed, ++stream));
      for (const s of layer.states) values.set(s.fullName, new Float32Array(elementCount(s.shape)).fill(s.value));
    }
    return values;
  }

  summary(): string {
    const rows = this.plan.map((p) => {
      const count = p.params.reduce((sum, s) => sum + elementCount(s.shape), 0);
      return `${p.layer.name.padEnd(12)} ${p.layer.describe().padEnd(24)} ${formatShape(p.output).padEnd(16)} ${count}`;
    });
    return [`${'layer'.padEnd(12)} ${'type'.padEnd(24)} ${'output'.padEnd(16)} params`, ...rows, `total parameters: ${this.parameterCount()}`].join('\n');
  }
}
