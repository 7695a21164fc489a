// What every layer is: shape inference over per-sample shapes, its parameters and persistent state,
// how it emits forward ops and records backward ones, and how it is applied to symbolic tensors to
// draw a model (Keras's functional style). Shapes here have no batch axis; graph tensors carry the
// batch as their first axis.
import type { Gpu } from '../gpu/device.ts';
import type { BufferRef, Dispatch } from '../gpu/kernel.ts';
import type { GemmPrecision } from '../kernels/gemm.ts';
import { formatShape, type DType, type Graph, type Op, type Tape } from '../graph/graph.ts';
import type { Initializer } from './init.ts';

export type Shape = readonly number[];

export interface ParamSpec { name: string; shape: Shape; init: Initializer }
export interface StateSpec { name: string; shape: Shape; value: number }
/**
 * A parameter a layer reads from another layer of the same model instead of owning one (weight
 * tying): its state_dict name is `<this layer>.<name>`, and it holds `layer`'s parameter `param`.
 */
export interface TiedParamSpec { name: string; layer: Layer; param: string }

/** What a layer sees while the step is being built. */
export interface BuildContext {
  graph: Graph;
  tape: Tape;
  training: boolean;
  batch: number;
  /** Graph tensor of this layer's parameter or persistent state `name`. */
  param(layer: Layer, name: string): number;
  state(layer: Layer, name: string): number;
  /** u32[2] = [seed, step], rewritten each step; drives dropout and augmentation. */
  seed: number;
  /**
   * 'f16' under mixed precision: the GEMM-based layers (Dense, Conv2D's column passes, matmul)
   * multiply f16-rounded operands into f16-rounded results with f32 sums, as autocast does.
   */
  precision?: GemmPrecision;
}

/** Where a symbolic tensor comes from: a model input, or a layer applied to other symbolic tensors. */
export type Origin = { kind: 'input' } | { kind: 'layer'; layer: Layer; inputs: readonly SymbolicTensor[] };

/**
 * A tensor of a model being drawn: a per-sample shape and where it comes from. It holds no data;
 * `new Model({ inputs, outputs })` turns the drawing into a graph that the compiler can build.
 */
export class SymbolicTensor {
  constructor(readonly shape: Shape, readonly dtype: DType, readonly origin: Origin, public name: string) {}

  toString(): string { return `${this.name} ${formatShape(this.shape)}`; }
}

export interface InputOptions { name?: string; dtype?: DType }

/** A model input of per-sample `shape` (no batch axis): images are channels-first [C, H, W]. */
export function input(shape: Shape, options: InputOptions = {}): SymbolicTensor {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`input${options.name ? ` ${options.name}` : ''}: shape must be a non-empty list of positive integers, got ${JSON.stringify(shape)}`);
  }
  const dtype = options.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'u32') throw new Error(`input${options.name ? ` ${options.name}` : ''}: dtype must be 'f32' or 'u32', got ${JSON.stringify(dtype)}`);
  return new SymbolicTensor([...shape], dtype, { kind: 'input' }, options.name ?? '');
}

/**
 * A layer as plain JSON: its type (the class that rebuilds it), its name, and every constructor
 * option with its value; src/io/model-graph.ts reads it back through a checked registry.
 */
export interface LayerConfig {
  type: string;
  name: string;
  [option: string]: unknown;
}

export abstract class Layer {
  name = '';
  /** Prefix for automatic names: conv → conv1, conv2, … (PyTorch state_dict style). */
  abstract readonly kind: string;
  abstract outputShape(...inputs: Shape[]): Shape;
  params(..._inputs: Shape[]): ParamSpec[] { return []; }
  states(..._inputs: Shape[]): StateSpec[] { return []; }
  /** Parameters this layer shares with another layer; the model stores each once, under its owner's name. */
  tiedParams(): TiedParamSpec[] { return []; }
  abstract forward(ctx: BuildContext, ...inputs: number[]): number;
  describe(): string { return this.kind; }

  /** This layer as JSON (type, name, options); built-in layers override it, a custom subclass cannot be saved as a graph. */
  config(): LayerConfig {
    throw new Error(`layer ${this.name || this.kind} (${this.describe()}) has no JSON description: only webgrad's built-in layers can be saved as a graph`);
  }

  /** How many input tensors the layer takes; most take one. */
  acceptsInputs(count: number): boolean { return count === 1; }

  /** Whether applying the layer a second time (sharing its weights) is meaningful. */
  get reusable(): boolean { return true; }

  /** The dtype of the output, given the inputs' (f32 unless the layer says otherwise). */
  outputDType(..._inputs: DType[]): DType { return 'f32'; }

  /** Applies the layer to symbolic tensors: checks the shapes now and returns the output to draw on. */
  apply(...inputs: SymbolicTensor[]): SymbolicTensor {
    const label = this.name ? `layer ${this.name} (${this.describe()})` : this.describe();
    if (!inputs.every((t) => t instanceof SymbolicTensor)) throw new Error(`${label}: apply() takes symbolic tensors (from input() or another layer's apply())`);
    if (!this.acceptsInputs(inputs.length)) throw new Error(`${label}: cannot take ${inputs.length} input${inputs.length === 1 ? '' : 's'}`);
    const shape = this.outputShape(...inputs.map((t) => t.shape));
    return new SymbolicTensor(shape, this.outputDType(...inputs.map((t) => t.dtype)), { kind: 'layer', layer: this, inputs }, '');
  }
}

/** How errors name a layer: "layer add1 (Add)", or just "Add" before the model has named it. */
export function layerLabel(layer: Layer): string {
  return layer.name ? `layer ${layer.name} (${layer.describe()})` : layer.describe();
}

/** The error a layer throws when an input shape does not fit it, naming the layer and the shape. */
export function shapeError(layer: Layer, expected: string, input: Shape): Error {
  const label = layer.name ? `layer ${layer.name} (${layer.describe()})` : layer.describe();
  const hint = input.length === 3 && input[2]! <= 4 && input[0]! > 4 ? ' (webgrad images are channels-first [C, H, W]; this looks channels-last)' : '';
  return new Error(`${label} expects ${expected}, got input shape ${formatShape(input)}${hint}`);
}

export type Emit = (gpu: Gpu, buffer: (t: number) => BufferRef) => Dispatch[];

/** Adds one op to the graph: what it reads, what it writes, and how it becomes dispatches. */
export function op(graph: Graph, name: string, reads: number[], writes: number[], emit: Emit): void {
  graph.add({ name, reads, writes, emit } satisfies Op);
}

// Option checks for layer constructors: plain-JavaScript callers get no type checking, so a wrong
// option must fail here, naming the layer, the field and what it accepts.

/** Refuses options the layer does not know (a misspelt one would otherwise be silently ignored). */
export function checkOptions(layer: string, options: object, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null) throw new Error(`${layer}: options must be an object, got ${JSON.stringify(options)}`);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`${layer}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; it takes ${known.join(', ')}`);
}

export function checkChoice(layer: string, field: string, value: unknown, choices: readonly string[], hint = ''): void {
  if (value !== undefined && !choices.includes(value as string)) throw new Error(`${layer}: ${field} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}${hint}`);
}

export function checkBoolean(layer: string, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') throw new Error(`${layer}: ${field} must be true or false, got ${JSON.stringify(value)}`);
}
