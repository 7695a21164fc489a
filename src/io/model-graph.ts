// A model as JSON, so a checkpoint can carry any drawn model and not only zoo names:
//
//   modelToGraph(model)      → ModelGraph: inputs (name, shape, dtype), each layer's config() once,
//                              the nodes in order (which layer, which tensors it reads, the tensor it
//                              writes) and the output tensors
//   modelFromGraph(graph)    → a Model with the same layer names and parameters in the same order,
//                              so the saved weights load; a layer applied twice is one layer again
//   layerFromConfig(config)  → the layer a config() describes
//
// Everything is read through the checkers of src/io/schema.ts, so a hostile file meets the same
// rules as the rest of the metadata: own properties only, no unknown or missing fields, every number
// in range, names that cannot be "__proto__" or "constructor". Counts and sizes are capped so a
// header cannot describe a model too large to build; a node may only read tensors defined before
// it, which is also why a cycle cannot be written down.
import { Layer, SymbolicTensor, input, type LayerConfig } from '../layers/layer.ts';
import { ActivationLayer, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Softmax, type Pool2DOptions } from '../layers/layers.ts';
import { LoraDense, MAX_LORA_RANK } from '../layers/lora.ts';
import { LSTM, SimpleRNN, type RecurrentOptions } from '../layers/recurrent.ts';
import { Concatenate, Elementwise, Permute, Reshape, Slice, Unary } from '../layers/ops.ts';
import { GELU, LayerNorm, ScaledDotProductAttention } from '../layers/transformer.ts';
import { Gather, Reduce, REDUCE_KINDS, SoftmaxAxis } from '../layers/axis-ops.ts';
import { MaskedFill, Where } from '../layers/select-ops.ts';
import { MatMul } from '../layers/matmul.ts';
import { ClassToken, Embedding, PositionalEmbedding, TiedDense } from '../layers/tokens.ts';
import { Model } from '../model/model.ts';
import { elementCount } from '../graph/graph.ts';
import { boolean, FieldError, integer, isPlainObject, list, object, oneOf, optional, real, required, show, text, type Check } from './schema.ts';

export interface GraphInput { name: string; shape: number[]; dtype: 'f32' | 'u32' }
export interface GraphNode { layer: string; inputs: string[]; output: string }

/** A model as plain JSON (see the top of this file). */
export interface ModelGraph {
  inputs: GraphInput[];
  layers: LayerConfig[];
  nodes: GraphNode[];
  outputs: string[];
}

/** Bounds on what a graph may describe: enough for any model webgrad trains, far below what would exhaust memory. */
export const GRAPH_LIMITS = {
  nodes: 1024,
  inputsPerNode: 64,
  modelInputs: 16,
  modelOutputs: 16,
  rank: 4,
  dimension: 65_536,
  /** Elements of any one tensor, per sample. */
  sampleElements: 1 << 24,
  parameters: 1 << 28,
  units: 65_536,
  window: 1024,
} as const;

const RESERVED_NAMES = ['__proto__', 'constructor', 'prototype'];

/** A layer or tensor name: it becomes part of state_dict names, so letters, digits and _ . : - only. */
const name: Check<string> = (value, field) => {
  const checked = text(100)(value, field);
  if (!/^[A-Za-z_][\w.:-]*$/.test(checked)) throw new FieldError(field, `is ${show(value)}; must start with a letter or _ and hold only letters, digits, _ . : -`);
  if (RESERVED_NAMES.includes(checked)) throw new FieldError(field, `is ${show(value)}, a name JavaScript reserves for objects`);
  return checked;
};

const positive = (max: number) => integer(1, max);
const pairOf = (check: Check<number>): Check<number[]> => list(check, { min: 2, max: 2 });
const window = pairOf(positive(GRAPH_LIMITS.window));
const activation = oneOf(['relu', 'sigmoid', 'tanh', 'none'] as const);
const axis = integer(-GRAPH_LIMITS.rank, GRAPH_LIMITS.rank - 1);

const padding: Check<'valid' | 'same' | number> = (value, field) => {
  if (typeof value === 'string') return oneOf(['valid', 'same'] as const)(value, field);
  return integer(0, GRAPH_LIMITS.window)(value, field);
};

interface LayerType {
  /** Fields other than type and name. */
  fields: Parameters<typeof object>[0];
  /** `earlier` finds a layer listed before this one, for a layer that reads another's parameter. */
  build: (options: Record<string, unknown>, name: string, earlier: (name: string) => Layer | undefined) => Layer;
}

const pool = (make: (o: Pool2DOptions) => Layer): LayerType => ({
  fields: { poolSize: required(window), strides: required(window), padding: required(integer(0, GRAPH_LIMITS.window)) },
  build: (o, layerName) => make({ poolSize: o.poolSize as [number, number], strides: o.strides as [number, number], padding: o.padding as number, name: layerName }),
});

const recurrent = (make: (o: RecurrentOptions) => Layer): LayerType => ({
  fields: { units: required(positive(GRAPH_LIMITS.units)), returnSequences: required(boolean) },
  build: (o, layerName) => make({ units: o.units as number, returnSequences: o.returnSequences as boolean, name: layerName }),
});

/** Layers without options take their name after construction. */
const named = (layer: Layer, layerName: string): Layer => { layer.name = layerName; return layer; };

/** Every built-in layer type: the fields its config() writes, each with its checker, and how it is rebuilt. */
const LAYER_TYPES: Record<string, LayerType> = {
  Dense: {
    fields: { units: required(positive(GRAPH_LIMITS.units)), activation: required(activation), useBias: required(boolean), init: required(oneOf(['he', 'glorot'] as const)) },
    build: (o, layerName) => new Dense({ units: o.units as number, activation: o.activation as 'none', useBias: o.useBias as boolean, init: o.init as 'he', name: layerName }),
  },
  Conv2D: {
    fields: {
      filters: required(positive(GRAPH_LIMITS.units)), kernelSize: required(window), strides: required(window), padding: required(padding),
      activation: required(activation), useBias: required(boolean),
    },
    build: (o, layerName) => new Conv2D({
      filters: o.filters as number, kernelSize: o.kernelSize as [number, number], strides: o.strides as [number, number],
      padding: o.padding as number, activation: o.activation as 'none', useBias: o.useBias as boolean, name: layerName,
    }),
  },
  MaxPool2D: pool((o) => new MaxPool2D(o)),
  AvgPool2D: pool((o) => new AvgPool2D(o)),
  Flatten: { fields: {}, build: (_, layerName) => named(new Flatten(), layerName) },
  Activation: {
    fields: { activation: required(oneOf(['relu', 'sigmoid', 'tanh'] as const)) },
    build: (o, layerName) => new ActivationLayer(o.activation as 'relu', layerName),
  },
  Softmax: { fields: {}, build: (_, layerName) => named(new Softmax(), layerName) },
  Dropout: { fields: { rate: required(real({ min: 0, below: 1 })) }, build: (o, layerName) => new Dropout(o.rate as number, layerName) },
  BatchNorm: {
    fields: { momentum: required(real({ min: 0, max: 1 })), eps: required(real({ above: 0, max: 1 })) },
    build: (o, layerName) => new BatchNorm({ momentum: o.momentum as number, eps: o.eps as number, name: layerName }),
  },
  SimpleRNN: recurrent((o) => new SimpleRNN(o)),
  LSTM: recurrent((o) => new LSTM(o)),
  Elementwise: {
    fields: { operation: required(oneOf(['add', 'sub', 'mul', 'div'] as const)) },
    build: (o, layerName) => new Elementwise(o.operation as 'add', layerName),
  },
  Unary: {
    fields: { operation: required(oneOf(['exp', 'log', 'sqrt', 'scale', 'shift'] as const)), scalar: required(real({ min: -1e30, max: 1e30 })) },
    build: (o, layerName) => new Unary(o.operation as 'exp', o.scalar as number, layerName),
  },
  Concatenate: { fields: { axis: required(axis) }, build: (o, layerName) => new Concatenate(o.axis as number, layerName) },
  Slice: {
    fields: { axis: required(axis), start: required(integer(0, GRAPH_LIMITS.dimension)), end: required(integer(1, GRAPH_LIMITS.dimension)) },
    build: (o, layerName) => new Slice(o.axis as number, o.start as number, o.end as number, layerName),
  },
  Reshape: {
    fields: { shape: required(list(integer(-1, GRAPH_LIMITS.dimension), { min: 1, max: GRAPH_LIMITS.rank })) },
    build: (o, layerName) => new Reshape(o.shape as number[], layerName),
  },
  Permute: {
    fields: { perm: required(list(integer(0, GRAPH_LIMITS.rank - 1), { min: 1, max: GRAPH_LIMITS.rank })) },
    build: (o, layerName) => new Permute(o.perm as number[], layerName),
  },
  LayerNorm: { fields: { eps: required(real({ above: 0, max: 1 })) }, build: (o, layerName) => new LayerNorm({ eps: o.eps as number, name: layerName }) },
  GELU: { fields: {}, build: (_, layerName) => new GELU(layerName) },
  ScaledDotProductAttention: {
    fields: { causal: required(boolean), heads: optional(positive(GRAPH_LIMITS.dimension)) },
    build: (o, layerName) => new ScaledDotProductAttention({ causal: o.causal as boolean, ...(o.heads === undefined ? {} : { heads: o.heads as number }), name: layerName }),
  },
  PositionalEmbedding: { fields: {}, build: (_, layerName) => new PositionalEmbedding({ name: layerName }) },
  Embedding: {
    fields: { vocab: required(positive(GRAPH_LIMITS.dimension)), width: required(positive(GRAPH_LIMITS.dimension)) },
    build: (o, layerName) => new Embedding({ vocab: o.vocab as number, width: o.width as number, name: layerName }),
  },
  ClassToken: { fields: {}, build: (_, layerName) => new ClassToken({ name: layerName }) },
  Reduce: {
    fields: { operation: required(oneOf(REDUCE_KINDS)), axes: required(list(axis, { min: 1, max: GRAPH_LIMITS.rank })), keepDims: required(boolean) },
    build: (o, layerName) => new Reduce(o.operation as 'sum', o.axes as number[], { keepDims: o.keepDims as boolean, name: layerName }),
  },
  SoftmaxAxis: { fields: { axis: required(axis), log: required(boolean) }, build: (o, layerName) => new SoftmaxAxis(o.axis as number, o.log as boolean, layerName) },
  Where: { fields: {}, build: (_, layerName) => new Where(layerName) },
  MaskedFill: { fields: { value: required(real({ min: -1e30, max: 1e30 })) }, build: (o, layerName) => new MaskedFill(o.value as number, layerName) },
  Gather: { fields: { axis: required(axis) }, build: (o, layerName) => new Gather(o.axis as number, layerName) },
  MatMul: { fields: {}, build: (_, layerName) => new MatMul(layerName) },
  TiedDense: {
    fields: { tiedTo: required(name) },
    build: (o, layerName, earlier) => {
      const source = earlier(o.tiedTo as string);
      if (!(source instanceof Embedding)) throw new Error(`tiedTo ${show(o.tiedTo)} ${source ? `is a ${source.describe()}, not an Embedding` : 'names no layer listed before it'}`);
      return new TiedDense({ tiedTo: source, name: layerName });
    },
  },
  LoraDense: {
    fields: {
      units: required(positive(GRAPH_LIMITS.units)), rank: required(positive(MAX_LORA_RANK)), alpha: required(real({ above: 0, max: 1e6 })), dropout: required(real({ min: 0, below: 1 })),
      useBias: required(boolean), init: required(oneOf(['he', 'glorot'] as const)),
    },
    build: (o, layerName) => new LoraDense({ units: o.units as number, rank: o.rank as number, alpha: o.alpha as number, dropout: o.dropout as number, useBias: o.useBias as boolean, init: o.init as 'he', name: layerName }),
  },
};

export const LAYER_TYPE_NAMES = Object.keys(LAYER_TYPES);

/** Checks one layer config at `field` and builds it; every fault is a FieldError naming the path. */
function checkedLayer(value: unknown, field: string, earlier: (name: string) => Layer | undefined = () => undefined): Layer {
  if (!isPlainObject(value)) throw new FieldError(field, `is ${show(value)}; must be an object`);
  const type = oneOf(LAYER_TYPE_NAMES)(Object.hasOwn(value, 'type') ? value.type : undefined, `${field}.type`);
  const entry = LAYER_TYPES[type]!;
  const { type: _, name: layerName, ...options } = object({ type: required(oneOf([type])), name: required(name), ...entry.fields })(value, field) as Record<string, unknown>;
  try {
    return entry.build(options, layerName as string, earlier);
  } catch (error) {
    throw new FieldError(field, `does not build (${(error as Error).message})`);
  }
}

const INPUT = object({
  name: required(name),
  shape: required(list(positive(GRAPH_LIMITS.dimension), { min: 1, max: GRAPH_LIMITS.rank })),
  dtype: required(oneOf(['f32', 'u32'] as const)),
});
const NODE = object({ layer: required(name), inputs: required(list(name, { min: 1, max: GRAPH_LIMITS.inputsPerNode })), output: required(name) });
const GRAPH = object({
  inputs: required(list(INPUT, { min: 1, max: GRAPH_LIMITS.modelInputs })),
  // Layers are checked one by one below, after the count.
  layers: required(list((value) => value, { min: 1, max: GRAPH_LIMITS.nodes })),
  nodes: required(list(NODE, { min: 1, max: GRAPH_LIMITS.nodes })),
  outputs: required(list(name, { min: 1, max: GRAPH_LIMITS.modelOutputs })),
});

function checkSampleSize(shape: readonly number[], field: string): void {
  const count = elementCount(shape);
  if (count > GRAPH_LIMITS.sampleElements) throw new FieldError(field, `describes a tensor of ${count} elements per sample; at most ${GRAPH_LIMITS.sampleElements} are allowed`);
}

/** Builds the model a graph describes; every fault is a FieldError naming the path under `field`. */
export function checkedModelFromGraph(value: unknown, field: string): Model {
  const graph = GRAPH(value, field);
  const layers = new Map<string, Layer>();
  graph.layers.forEach((config, i) => {
    const layer = checkedLayer(config, `${field}.layers[${i}]`, (layerName) => layers.get(layerName));
    if (layers.has(layer.name)) throw new FieldError(`${field}.layers[${i}].name`, `is ${show(layer.name)}, which an earlier layer already has`);
    layers.set(layer.name, layer);
  });
  const tensors = new Map<string, SymbolicTensor>();
  const inputs = graph.inputs.map((spec, i) => {
    if (tensors.has(spec.name)) throw new FieldError(`${field}.inputs[${i}].name`, `is ${show(spec.name)}, which an earlier input already has`);
    checkSampleSize(spec.shape, `${field}.inputs[${i}].shape`);
    const tensor = input(spec.shape, { name: spec.name, dtype: spec.dtype });
    tensors.set(spec.name, tensor);
    return tensor;
  });
  const applied = new Set<string>();
  const produced = new Set(graph.nodes.map((n) => n.output));
  graph.nodes.forEach((node, i) => {
    const at = `${field}.nodes[${i}]`;
    const layer = layers.get(node.layer);
    if (!layer) throw new FieldError(`${at}.layer`, `is ${show(node.layer)}; no layer has that name`);
    const sources = node.inputs.map((tensorName, j) => {
      const tensor = tensors.get(tensorName);
      if (tensor) return tensor;
      const why = produced.has(tensorName) ? 'a later node writes it (nodes must come in order, so a cycle cannot be described)' : 'no input or node writes it';
      throw new FieldError(`${at}.inputs[${j}]`, `is ${show(tensorName)}; ${why}`);
    });
    if (tensors.has(node.output)) throw new FieldError(`${at}.output`, `is ${show(node.output)}, which names a tensor already defined`);
    let output: SymbolicTensor;
    try {
      output = layer.apply(...sources);
    } catch (error) {
      throw new FieldError(at, `does not apply (${(error as Error).message})`);
    }
    checkSampleSize(output.shape, at);
    tensors.set(node.output, output);
    applied.add(layer.name);
  });
  const unused = [...layers.keys()].findIndex((layerName) => !applied.has(layerName));
  if (unused >= 0) throw new FieldError(`${field}.layers[${unused}]`, `(${show([...layers.keys()][unused])}) is applied by no node`);
  const outputs = graph.outputs.map((tensorName, i) => {
    const tensor = tensors.get(tensorName);
    if (!tensor) throw new FieldError(`${field}.outputs[${i}]`, `is ${show(tensorName)}; no input or node writes it`);
    return tensor;
  });
  let model: Model;
  try {
    model = new Model({ inputs, outputs });
  } catch (error) {
    throw new FieldError(field, `does not build (${(error as Error).message})`);
  }
  if (model.nodes.length !== graph.nodes.length) {
    const dead = graph.nodes.findIndex((node) => !model.nodes.some((n) => n.output === tensors.get(node.output)));
    throw new FieldError(`${field}.nodes[${dead}]`, 'leads to no output');
  }
  const parameters = model.parameterCount();
  if (parameters > GRAPH_LIMITS.parameters) throw new FieldError(field, `describes ${parameters} parameters; at most ${GRAPH_LIMITS.parameters} are allowed`);
  return model;
}

/** Plain Errors "<label>.<path> <what is wrong>" for callers outside a checkpoint. */
function labelled<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof FieldError) throw new Error(`${error.field} ${error.message}`);
    throw error;
  }
}

/** The layer a config() describes, checked field by field. */
export function layerFromConfig(config: unknown): Layer {
  return labelled(() => checkedLayer(config, 'layer'));
}

/** The model a graph describes (from modelToGraph, or JSON written by hand), checked field by field. */
export function modelFromGraph(graph: unknown): Model {
  return labelled(() => checkedModelFromGraph(graph, 'graph'));
}

/** The model as JSON: node outputs are named after their layer, a layer's later applications name:2, name:3, … */
export function modelToGraph(model: Model): ModelGraph {
  const names = new Map<SymbolicTensor, string>(model.inputs.map((t) => [t, t.name]));
  const taken = new Set(names.values());
  const applications = new Map<Layer, number>();
  for (const node of model.nodes) {
    const count = (applications.get(node.layer) ?? 0) + 1;
    applications.set(node.layer, count);
    let tensorName = count === 1 ? node.layer.name : `${node.layer.name}:${count}`;
    for (let k = count + 1; taken.has(tensorName); k++) tensorName = `${node.layer.name}:${k}`;
    taken.add(tensorName);
    names.set(node.output, tensorName);
  }
  return {
    inputs: model.inputs.map((t) => ({ name: t.name, shape: [...t.shape], dtype: t.dtype as 'f32' | 'u32' })),
    // A layer that reads another's parameter is listed after every owner, so reading finds its source.
    layers: [...model.layers.filter((l) => !l.tiedParams().length), ...model.layers.filter((l) => l.tiedParams().length)].map((layer) => layer.config()),
    nodes: model.nodes.map((node) => ({ layer: node.layer.name, inputs: node.inputs.map((t) => names.get(t)!), output: names.get(node.output)! })),
    outputs: model.outputs.map((t) => names.get(t)!),
  };
}
