// Runs a model's layers as graph ops outside a training program: given input, parameters and an
// output gradient, returns the output, the input gradient and every parameter gradient, so a layer
// can be checked against its CPU reference end to end (ops, tape, memory plan). A u32 model input
// (token ids) takes a Uint32Array and gets no gradient.
import type { Gpu } from '../../src/gpu/device.ts';
import type { BufferRef } from '../../src/gpu/kernel.ts';
import { readFloat32, runDispatches, storageBuffer, uploadBuffer } from '../../src/gpu/buffers.ts';
import { elementCount, Graph, Tape } from '../../src/graph/graph.ts';
import { planMemory, tensorBytes } from '../../src/compiler/memory.ts';
import type { BuildContext, Layer } from '../../src/layers/layer.ts';
import type { Model } from '../../src/model/model.ts';

export interface ModelGradients {
  y: Float32Array;
  /** The gradient of the first input; dxs holds every input's (empty for a u32 input). */
  dx: Float32Array;
  dxs: Float32Array[];
  /** By parameter name (e.g. lstm1.weight_ih). */
  grads: Map<string, Float32Array>;
}

export async function modelGradients(gpu: Gpu, model: Model, batch: number, x: Float32Array | Uint32Array | readonly (Float32Array | Uint32Array)[], dy: Float32Array,
  params: ReadonlyMap<string, Float32Array>): Promise<ModelGradients> {
  const graph = new Graph();
  const tape = new Tape(graph);
  const owned: GPUBuffer[] = [];
  const external = new Map<number, GPUBuffer>();
  const upload = (tensor: number, data: Float32Array | Uint32Array): number => {
    const buffer = uploadBuffer(gpu, data, graph.info(tensor).name);
    owned.push(buffer);
    external.set(tensor, buffer);
    return tensor;
  };
  const xs = x instanceof Float32Array || x instanceof Uint32Array ? [x] : x;
  const inputs = model.inputs.map((t, i) => {
    const data = xs[i]!;
    if ((t.dtype === 'u32') !== (data instanceof Uint32Array)) throw new Error(`modelGradients: input ${i} is ${t.dtype}; pass a ${t.dtype === 'u32' ? 'Uint32Array' : 'Float32Array'}`);
    return upload(graph.tensor(t.name, [batch, ...t.shape], 'input', t.dtype), data);
  });
  const differentiable = inputs.filter((_, i) => model.inputs[i]!.dtype === 'f32');
  for (const t of differentiable) tape.requireGrad(t);
  const paramTensors = new Map<string, number>();
  const param = (layer: Layer, name: string): number => {
    const full = `${layer.name}.${name}`;
    const known = paramTensors.get(full);
    if (known !== undefined) return known;
    const spec = model.parameterSpecs().find((s) => s.name === full);
    const value = params.get(full);
    if (!spec || !value) throw new Error(`modelGradients: no parameter ${full}`);
    const t = upload(graph.tensor(full, spec.shape, 'param'), value);
    tape.requireGrad(t);
    paramTensors.set(full, t);
    return t;
  };
  const ctx: BuildContext = {
    graph, tape, training: true, batch, param,
    state: () => { throw new Error('modelGradients: layers with persistent state are not supported'); },
    seed: upload(graph.tensor('seed', [2], 'input', 'u32'), new Uint32Array(2)),
  };
  const [y] = model.forward(ctx, inputs) as [number];
  const seed = upload(graph.tensor('dy', graph.shape(y), 'input'), dy);
  const grads = tape.backward(y, seed);
  const dxs = differentiable.map((t) => {
    const g = grads.get(t);
    if (g === undefined) throw new Error(`modelGradients: no gradient reached input ${graph.info(t).name}`);
    return g;
  });
  const results = [y, ...dxs, ...[...paramTensors.values()].map((t) => grads.get(t)!)];
  // Keeps every result alive to the end of the schedule so the planner cannot reuse its storage.
  graph.add({ name: 'keep results', reads: results, writes: [], emit: () => [] });

  const plan = planMemory(graph, graph.ops);
  const slots = plan.slotBytes.map((bytes, i) => storageBuffer(gpu, bytes, `slot${i}`));
  owned.push(...slots);
  const bufferOf = (t: number): GPUBufferBinding => {
    const root = graph.info(t).root;
    const ext = external.get(root);
    if (ext) return { buffer: ext, offset: 0, size: ext.size };
    return { buffer: slots[plan.slotOf.get(root)!]!, offset: 0, size: Math.ceil(tensorBytes(graph, t) / 4) * 4 };
  };
  await runDispatches(gpu, graph.ops.flatMap((op) => op.emit(gpu, bufferOf as (t: number) => BufferRef)));
  const read = (t: number) => readFloat32(gpu, bufferOf(t).buffer, elementCount(graph.shape(t)));
  try {
    const inputGrads: Float32Array[] = [];
    for (const t of inputs) {
      const g = dxs[differentiable.indexOf(t)];
      inputGrads.push(g === undefined ? new Float32Array(0) : await read(g));
    }
    const out: ModelGradients = { y: await read(y), dx: inputGrads[0]!, dxs: inputGrads, grads: new Map() };
    for (const [name, t] of paramTensors) out.grads.set(name, await read(grads.get(t)!));
    return out;
  } finally {
    for (const buffer of owned) gpu.destroyBuffer(buffer);
  }
}
