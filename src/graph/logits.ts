// Inference that returns the model's logits (a final Softmax layer is left out, as in training,
// so callers apply softmax themselves), for prediction and for comparing against other frameworks. The evaluation program
// keeps only argmax and loss totals; this one keeps the last layer's output and reads it back.
//
//   await predictLogits(gpu, model, state, data, indices, normalize) → Float32Array, indices.length × classes
import type { Gpu } from '../gpu/device.ts';
import { encodeDispatches } from '../gpu/kernel.ts';
import { readFloat32, storageBuffer, uploadBuffer } from '../gpu/buffers.ts';
import { gatherBatch } from '../kernels/gather.ts';
import { Graph, Tape, elementCount } from './graph.ts';
import { planMemory } from './memory.ts';
import type { BuildContext } from './layers.ts';
import type { Sequential } from './model.ts';
import type { ModelState } from './runtime.ts';
import type { GpuDataset, Normalization } from './program.ts';

/** One forward pass over `indices` (one batch of that size): dropout off, batch norm on running stats. */
export async function predictLogits(gpu: Gpu, model: Sequential, state: ModelState, data: GpuDataset, indices: Uint32Array,
  normalize: Normalization): Promise<Float32Array> {
  const batch = indices.length;
  const [channels, height, width] = model.inputShape;
  if (model.inputShape.length !== 3 || channels !== 1 || height !== data.height || width !== data.width) {
    throw new Error(`model input [${model.inputShape.join(', ')}] does not fit dataset ${data.name} (1×${data.height}×${data.width} images)`);
  }
  const graph = new Graph();
  const external = new Map<number, GPUBuffer>();
  const lookup = (role: 'param' | 'state') => (layer: { name: string }, name: string): number => {
    const full = `${layer.name}.${name}`;
    const spec = (role === 'param' ? model.parameterSpecs() : model.stateSpecs()).find((s) => s.name === full);
    if (!spec) throw new Error(`internal: no tensor ${full}`);
    const t = graph.tensor(full, spec.shape, role);
    external.set(t, state.buffers.get(full)!);
    return t;
  };
  const owned: GPUBuffer[] = [];
  const own = (buffer: GPUBuffer): GPUBuffer => (owned.push(buffer), buffer);
  const indicesTensor = graph.tensor('batch.indices', [batch], 'input', 'u32');
  external.set(indicesTensor, own(uploadBuffer(gpu, indices, 'batch.indices')));
  const seed = graph.tensor('step.seed', [2], 'input', 'u32');
  external.set(seed, own(storageBuffer(gpu, 8, 'step.seed')));
  const ctx: BuildContext = { graph, tape: new Tape(graph), training: false, batch, seed, param: lookup('param'), state: lookup('state') };

  const x = graph.tensor('batch.x', [batch, 1, height, width]);
  const labels = graph.tensor('batch.labels', [batch], 'temp', 'u32');
  graph.add({
    name: 'gather batch', reads: [indicesTensor], writes: [x, labels],
    emit: (g, b) => gatherBatch(g, { images: data.images, labels: data.labels, indices: b(indicesTensor), x: b(x), y: b(labels), batch, height, width, ...normalize }),
  });
  let output = x;
  for (const layer of model.layers) output = layer.forward(ctx, output);
  if (output === x) throw new Error('predictLogits: the model has no layers');
  try {
    const plan = planMemory(graph, graph.ops);
    const slots = plan.slotBytes.map((bytes, i) => own(storageBuffer(gpu, bytes, `activations.slot${i}`)));
    const bufferOf = (t: number): GPUBuffer => {
      const root = graph.info(t).root;
      const buffer = external.get(root) ?? slots[plan.slotOf.get(root)!];
      if (!buffer) throw new Error(`internal: tensor ${graph.info(t).name} has no storage`);
      return buffer;
    };
    const encoder = gpu.device.createCommandEncoder({ label: 'predict logits' });
    encodeDispatches(encoder, graph.ops.flatMap((op) => op.emit(gpu, bufferOf)), 'predict logits');
    gpu.device.queue.submit([encoder.finish()]);
    // The output is written by the last op and read by none, so no later op can reuse its slot.
    return await readFloat32(gpu, bufferOf(output), elementCount(graph.shape(output)));
  } finally {
    for (const buffer of owned) gpu.destroyBuffer(buffer);
  }
}
