// The static graph: tensors (shapes, roles) and ops (which tensors they read and write, and how to
// turn planned buffers into dispatches). Reverse-mode autodiff runs over a tape of forward records.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

export type DType = 'f32' | 'u32';
/**
 * param/state: persistent, owned by the model or optimizer. input: written by the host each step.
 * temp: planned — shares storage with other temps whose lifetimes do not overlap.
 */
export type TensorRole = 'param' | 'state' | 'input' | 'temp';

export interface TensorInfo {
  id: number;
  name: string;
  shape: readonly number[];
  dtype: DType;
  role: TensorRole;
  /** The tensor whose storage this one is a view of (itself for non-views). */
  root: number;
}

export interface Op {
  name: string;
  reads: number[];
  writes: number[];
  emit(gpu: Gpu, buffer: (tensor: number) => BufferRef): Dispatch[];
}

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export class Graph {
  readonly tensors: TensorInfo[] = [];
  readonly ops: Op[] = [];

  tensor(name: string, shape: readonly number[], role: TensorRole = 'temp', dtype: DType = 'f32'): number {
    const id = this.tensors.length;
    this.tensors.push({ id, name, shape: [...shape], dtype, role, root: id });
    return id;
  }

  /** A reshape that shares storage: flatten costs nothing. */
  view(source: number, shape: readonly number[], name = `${this.info(source).name}.view`): number {
    const base = this.info(source);
    if (elementCount(shape) !== elementCount(base.shape)) {
      throw new Error(`${name}: cannot view ${base.name} ${formatShape(base.shape)} as ${formatShape(shape)}`);
    }
    const id = this.tensors.length;
    this.tensors.push({ ...base, id, name, shape: [...shape], root: base.root });
    return id;
  }

  info(tensor: number): TensorInfo {
    const info = this.tensors[tensor];
    if (!info) throw new Error(`no tensor ${tensor}`);
    return info;
  }

  shape(tensor: number): readonly number[] {
    return this.info(tensor).shape;
  }

  add(op: Op): void {
    this.ops.push(op);
  }
}

/** What a layer's backward closure can ask for while the gradient graph is built. */
export interface GradContext {
  graph: Graph;
  /** The gradient flowing into a forward output. */
  gradOf(tensor: number): number;
  /** Whether a forward input needs a gradient (frozen parameters and data do not). */
  wants(tensor: number): boolean;
  /** A tensor to write the gradient of `tensor` into (overwriting); accumulation is handled for you. */
  gradTarget(tensor: number): number;
}

interface TapeEntry {
  outputs: number[];
  backward(ctx: GradContext): void;
}

/** Records forward ops and derives the backward graph from them (micrograd's idea, on a static graph). */
export class Tape {
  private readonly entries: TapeEntry[] = [];
  private readonly requires = new Set<number>();
  private readonly grads = new Map<number, number>();

  constructor(readonly graph: Graph) {}

  requireGrad(tensor: number): void {
    this.requires.add(tensor);
  }

  requiresGrad(tensor: number): boolean {
    return this.requires.has(tensor);
  }

  /** Forward ops are added by the caller; this records how to differentiate them. */
  record(inputs: number[], outputs: number[], backward: (ctx: GradContext) => void): void {
    if (!inputs.some((t) => this.requires.has(t))) return;
    for (const t of outputs) this.requires.add(t);
    this.entries.push({ outputs, backward });
  }

  /** A view's gradient is a view of its output's gradient: no op, no copy. */
  recordView(source: number, view: number): void {
    if (!this.requires.has(source)) return;
    this.requires.add(view);
    this.entries.push({
      outputs: [view],
      backward: (ctx) => {
        const g = ctx.gradOf(view);
        this.grads.set(source, this.graph.view(g, this.graph.shape(source), `grad(${this.graph.info(source).name})`));
      },
    });
  }

  /** Builds backward ops from `seed`, the gradient of `output` already produced by the loss. */
  backward(output: number, seed: number): ReadonlyMap<number, number> {
    const { graph, grads } = this;
    grads.set(output, seed);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (!entry.outputs.some((t) => grads.has(t))) continue;
      const pending: { target: number; partial: number }[] = [];
      entry.backward({
        graph,
        gradOf: (t) => {
          const g = grads.get(t);
          if (g === undefined) throw new Error(`internal: no gradient reached ${graph.info(t).name}`);
          return g;
        },
        wants: (t) => this.requires.has(t),
        gradTarget: (t) => {
          const info = graph.info(t);
          const fresh = graph.tensor(`grad(${info.name})`, info.shape);
          const existing = grads.get(t);
          if (existing === undefined) grads.set(t, fresh);
          else pending.push({ target: existing, partial: fresh });
          return fresh;
        },
      });
      for (const { target, partial } of pending) graph.add(accumulateOp(graph, partial, target));
    }
    return grads;
  }
}

/** Adds a second consumer's partial gradient into the first one's, in place. */
function accumulateOp(graph: Graph, partial: number, target: number): Op {
  const n = elementCount(graph.shape(target));
  return {
    name: `accumulate ${graph.info(target).name}`,
    reads: [partial, target],
    writes: [target],
    emit: (gpu, buffer) => [kernel(gpu, 'axpy').dispatch({ x: buffer(partial), y: buffer(target), params: { n, alpha: 1 } }, grid1d(gpu, n, 256))],
  };
}
