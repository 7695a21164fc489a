// Models: a graph of layers from symbolic inputs to outputs (Keras's functional Model), with layer
// naming in PyTorch state_dict style, shape checks that name the layer, and seeded initial values.
// Sequential is the same thing drawn as a chain.
import { Layer, SymbolicTensor, input, type BuildContext, type ParamSpec, type Shape, type StateSpec } from '../layers/layer.ts';
import { Dropout, Softmax } from '../layers/layers.ts';
import { LoraDense } from '../layers/lora.ts';
import { initialize } from '../layers/init.ts';
import { elementCount, formatShape } from '../graph/graph.ts';

export interface NamedTensor { name: string; shape: Shape }

/** One layer of the model with the shapes of its (first) application and its named parameters. */
export interface LayerPlan {
  layer: Layer;
  /** The shape of its first input. */
  input: Shape;
  inputs: Shape[];
  output: Shape;
  params: (ParamSpec & { fullName: string })[];
  states: (StateSpec & { fullName: string })[];
  /** Parameters it reads from another layer (weight tying): its own state_dict name and the owner's. */
  tied: TiedParameter[];
}

/** A state_dict name that holds another layer's parameter: `name` (e.g. lm_head.weight) is `source` (transformer.wte.weight). */
export interface TiedParameter { name: string; source: string }

/** One application of a layer: which symbolic tensors it reads and the one it produces. */
export interface ModelNode {
  layer: Layer;
  inputs: readonly SymbolicTensor[];
  output: SymbolicTensor;
}

/** Builds a node's output from its inputs' graph tensors; the int8 path substitutes some layers. */
export type NodeBuilder = (node: ModelNode, inputs: number[]) => number;

/** conv → conv1, conv2, …, counting every layer of a kind, named or not, in the order given. */
function nameLayers(layers: readonly Layer[]): void {
  const counts = new Map<string, number>();
  for (const layer of layers) {
    const n = (counts.get(layer.kind) ?? 0) + 1;
    counts.set(layer.kind, n);
    if (!layer.name) layer.name = `${layer.kind}${n}`;
  }
}

const asList = (t: SymbolicTensor | readonly SymbolicTensor[]): SymbolicTensor[] => (Array.isArray(t) ? [...t] : [t as SymbolicTensor]);

export interface ModelConfig {
  inputs: SymbolicTensor | readonly SymbolicTensor[];
  outputs: SymbolicTensor | readonly SymbolicTensor[];
}

export class Model {
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: readonly SymbolicTensor[];
  /** Layer applications in an order where every input comes before its use. */
  readonly nodes: readonly ModelNode[];
  /** Each layer once, in the order of its first application. */
  readonly layers: readonly Layer[];
  readonly plan: readonly LayerPlan[];

  constructor(config: ModelConfig) {
    this.inputs = asList(config.inputs);
    this.outputs = asList(config.outputs);
    if (this.inputs.length === 0 || this.outputs.length === 0) throw new Error('Model: needs at least one input and one output');
    for (const t of [...this.inputs, ...this.outputs]) {
      if (!(t instanceof SymbolicTensor)) throw new Error('Model: inputs and outputs must be symbolic tensors (from input() and layer.apply())');
    }
    for (const t of this.inputs) if (t.origin.kind !== 'input') throw new Error(`Model: input ${t.name || formatShape(t.shape)} is a layer's output, not an input()`);
    this.nameInputs();
    this.nodes = this.sortNodes();
    const layers: Layer[] = [];
    for (const node of this.nodes) if (!layers.includes(node.layer)) layers.push(node.layer);
    this.layers = layers;
    nameLayers(layers);
    const names = new Set<string>();
    let dropoutStream = 0;
    for (const layer of layers) {
      if (names.has(layer.name)) throw new Error(`two layers are named "${layer.name}"; layer names must be unique`);
      names.add(layer.name);
      if (layer instanceof Dropout || layer instanceof LoraDense) layer.stream = ++dropoutStream;
    }
    this.checkSoftmax();
    this.plan = layers.map((layer) => this.layerPlan(layer));
    this.checkTies();
  }

  /** A tied layer must read a parameter that a layer of this model owns. */
  private checkTies(): void {
    for (const plan of this.plan) {
      for (const tie of plan.layer.tiedParams()) {
        const owner = this.plan.find((p) => p.layer === tie.layer);
        const label = `layer ${plan.layer.name} (${plan.layer.describe()})`;
        if (!owner) throw new Error(`${label} ties its ${tie.name} to layer ${tie.layer.name || tie.layer.describe()}, which the model does not apply; apply that layer in the same model`);
        if (!owner.params.some((p) => p.name === tie.param)) throw new Error(`${label} ties its ${tie.name} to ${tie.layer.name}.${tie.param}, which that layer does not have`);
      }
    }
  }

  private nameInputs(): void {
    const unnamed = this.inputs.filter((t) => !t.name);
    unnamed.forEach((t, i) => { t.name = unnamed.length === 1 && !this.inputs.some((o) => o.name === 'input') ? 'input' : `input${i + 1}`; });
    const seen = new Set<string>();
    for (const t of this.inputs) {
      if (seen.has(t.name)) throw new Error(`Model: two inputs are named "${t.name}"`);
      seen.add(t.name);
    }
  }

  /** Depth-first from the outputs, so a chain keeps its order and every node follows its inputs. */
  private sortNodes(): ModelNode[] {
    const order: ModelNode[] = [];
    const done = new Set<SymbolicTensor>();
    const active = new Set<SymbolicTensor>();
    const visit = (t: SymbolicTensor): void => {
      if (done.has(t)) return;
      if (t.origin.kind === 'input') {
        if (!this.inputs.includes(t)) throw new Error(`Model: an output depends on input ${t.name || formatShape(t.shape)}, which is not among the model's inputs`);
        done.add(t);
        return;
      }
      if (active.has(t)) throw new Error('Model: the graph has a cycle');
      active.add(t);
      for (const source of t.origin.inputs) visit(source);
      active.delete(t);
      done.add(t);
      order.push({ layer: t.origin.layer, inputs: t.origin.inputs, output: t });
    };
    for (const t of this.outputs) visit(t);
    return order;
  }

  private checkSoftmax(): void {
    for (const node of this.nodes) {
      if (!(node.layer instanceof Softmax)) continue;
      const feedsAnother = this.nodes.some((other) => other.inputs.includes(node.output));
      if (feedsAnother || !this.outputs.includes(node.output)) throw new Error(`layer ${node.layer.name}: Softmax is only supported as the last layer`);
    }
  }

  private layerPlan(layer: Layer): LayerPlan {
    const applications = this.nodes.filter((n) => n.layer === layer);
    const first = applications[0]!;
    const inputs = first.inputs.map((t) => t.shape);
    if (applications.length > 1) {
      if (!layer.reusable) throw new Error(`layer ${layer.name} (${layer.describe()}) is applied ${applications.length} times; it keeps per-application state and cannot be shared`);
      const key = (shapes: Shape[]) => JSON.stringify(layer.params(...shapes).map((p) => p.shape));
      for (const other of applications.slice(1)) {
        if (key(other.inputs.map((t) => t.shape)) !== key(inputs)) throw new Error(`layer ${layer.name} (${layer.describe()}) is applied to inputs of other shapes (${other.inputs.map((t) => formatShape(t.shape)).join(', ')} vs ${inputs.map(formatShape).join(', ')}), which would need other weights`);
      }
    }
    return {
      layer, input: inputs[0]!, inputs, output: first.output.shape,
      params: layer.params(...inputs).map((p) => ({ ...p, fullName: `${layer.name}.${p.name}` })),
      states: layer.states(...inputs).map((s) => ({ ...s, fullName: `${layer.name}.${s.name}` })),
      tied: layer.tiedParams().map((t) => ({ name: `${layer.name}.${t.name}`, source: `${t.layer.name}.${t.param}` })),
    };
  }

  /** The per-sample shape of the only input. */
  get inputShape(): Shape {
    if (this.inputs.length !== 1) throw new Error(`this model has ${this.inputs.length} inputs (${this.inputs.map(String).join(', ')}); name the one you mean`);
    return this.inputs[0]!.shape;
  }

  /** The per-sample shape of the only output. */
  get outputShape(): Shape {
    if (this.outputs.length !== 1) throw new Error(`this model has ${this.outputs.length} outputs; name the one you mean`);
    return this.outputs[0]!.shape;
  }

  get endsWithSoftmax(): boolean {
    return this.outputs.length === 1 && this.nodes.at(-1)?.layer instanceof Softmax;
  }

  /** Whether the model is a plain chain, each layer feeding the next (as Sequential draws it). */
  get isChain(): boolean {
    return this.inputs.length === 1 && this.outputs.length === 1 && this.nodes.every((n, i) => n.inputs.length === 1 && n.inputs[0] === (i === 0 ? this.inputs[0] : this.nodes[i - 1]!.output));
  }

  /** Emits every node's ops in order; returns the graph tensors of the outputs. */
  forward(ctx: BuildContext, inputs: readonly number[], build: NodeBuilder = (node, xs) => node.layer.forward(ctx, ...xs)): number[] {
    if (inputs.length !== this.inputs.length) throw new Error(`internal: the model has ${this.inputs.length} inputs, got ${inputs.length} tensors`);
    const tensors = new Map<SymbolicTensor, number>(this.inputs.map((t, i) => [t, inputs[i]!]));
    for (const node of this.nodes) tensors.set(node.output, build(node, node.inputs.map((t) => tensors.get(t)!)));
    return this.outputs.map((t) => tensors.get(t)!);
  }

  parameterSpecs(): NamedTensor[] {
    return this.plan.flatMap((p) => p.params.map((s) => ({ name: s.fullName, shape: s.shape })));
  }

  stateSpecs(): NamedTensor[] {
    return this.plan.flatMap((p) => p.states.map((s) => ({ name: s.fullName, shape: s.shape })));
  }

  /** State_dict names that hold another layer's parameter; checkpoints write them too, with the owner's values. */
  tiedParameters(): TiedParameter[] {
    return this.plan.flatMap((p) => p.tied);
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
    const chain = this.isChain;
    const sourceName = (t: SymbolicTensor) => (t.origin.kind === 'input' ? t.name : t.origin.layer.name);
    const counted = new Set<Layer>();
    const rows = this.nodes.map((node) => {
      const plan = this.plan.find((p) => p.layer === node.layer)!;
      const count = counted.has(node.layer) ? 0 : plan.params.reduce((sum, s) => sum + elementCount(s.shape), 0);
      counted.add(node.layer);
      const row = `${node.layer.name.padEnd(12)} ${node.layer.describe().padEnd(24)} ${formatShape(node.output.shape).padEnd(16)} ${String(count).padEnd(8)}`;
      return chain ? row.trimEnd() : `${row} ${node.inputs.map(sourceName).join(', ')}`;
    });
    const header = `${'layer'.padEnd(12)} ${'type'.padEnd(24)} ${'output'.padEnd(16)} ${'params'.padEnd(8)}${chain ? '' : ' inputs'}`;
    const inputs = chain ? [] : this.inputs.map((t) => `${t.name.padEnd(12)} ${'Input'.padEnd(24)} ${formatShape(t.shape)}`);
    return [header.trimEnd(), ...inputs, ...rows, `total parameters: ${this.parameterCount()}`].join('\n');
  }
}

export interface ImageClassifierShape { channels: number; height: number; width: number; classes: number }

/** The image size and class count of a model that maps one image to class scores; any other model is refused, saying why. */
export function imageClassifierShape(model: Model): ImageClassifierShape {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(`the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; an image classifier has one of each`);
  }
  const [x] = model.inputs;
  if (x!.shape.length !== 3 || x!.dtype !== 'f32') throw new Error(`the model's input is ${x!.dtype} ${formatShape(x!.shape)}; an image classifier takes f32 images [channels, height, width]`);
  if (model.outputShape.length !== 1) throw new Error(`the model's output is ${formatShape(model.outputShape)}; an image classifier ends in [classes]`);
  const [channels, height, width] = x!.shape as [number, number, number];
  return { channels, height, width, classes: model.outputShape[0]! };
}

/** A chain of layers, each feeding the next: sugar over Model. */
export class Sequential extends Model {
  constructor(inputShape: Shape, layers: Layer[]) {
    nameLayers(layers);
    const x = input(inputShape);
    let y = x;
    for (const layer of layers) {
      if (layers.indexOf(layer) !== layers.lastIndexOf(layer)) throw new Error(`Sequential: layer ${layer.name} appears twice; use a Model to share a layer`);
      try {
        y = layer.apply(y);
      } catch (error) {
        throw new Error(`shape mismatch: ${(error as Error).message}`);
      }
    }
    super({ inputs: x, outputs: y });
  }
}
