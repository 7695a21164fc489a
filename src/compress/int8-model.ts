// Inference for a quantized Sequential: Dense and Conv2D run as int8 GEMMs on int8 weights with
// per-output-channel scales; every other layer (pools, activations, Flatten, batch norm in inference
// form, Dropout as identity) runs its ordinary f32 forward ops. Activations stay f32 between layers
// and each int8 layer quantizes its input on the fly, one scale per row (per sample for Dense, per
// output pixel's im2col column for Conv2D): no calibration pass is needed, an outlier only coarsens
// its own row, and the pools/ReLU between layers need no int8 versions.
import type { Gpu } from '../gpu/device.ts';
import type { BufferRef, Dispatch } from '../gpu/kernel.ts';
import { encodeDispatches } from '../gpu/kernel.ts';
import { readUint32, storageBuffer, uploadBuffer, writeBuffer } from '../gpu/buffers.ts';
import { gatherBatch } from '../kernels/gather.ts';
import { argmaxRows } from '../kernels/reduce.ts';
import { activationForward, type ActivationKind } from '../kernels/activation.ts';
import { int8Conv2d, int8Conv2dScratchBytes, int8Dense, int8DenseScratchBytes, type Int8Options } from '../kernels/int8.ts';
import { Graph, Tape, elementCount } from '../graph/graph.ts';
import { planMemory, tensorBytes } from '../compiler/memory.ts';
import { Conv2D, Dense } from '../layers/layers.ts';
import type { BuildContext, Layer } from '../layers/layer.ts';
import type { Model } from '../model/model.ts';
import type { GpuDataset, Normalization } from '../compiler/program.ts';
import type { QuantizedModel, QuantizedTensor } from './quantize.ts';

interface Int8Program {
  dispatches: Dispatch[];
  indices: GPUBuffer;
  predictions: GPUBuffer;
  owned: GPUBuffer[];
}

/** Predictions of a quantized model over a GPU-resident dataset, one compiled program per batch size. */
export class Int8Evaluator {
  private readonly weights = new Map<string, GPUBuffer>();
  private readonly int8 = new Map<string, { packed: GPUBuffer; scales: GPUBuffer; tensor: QuantizedTensor }>();
  private readonly programs = new Map<number, Int8Program>();

  constructor(readonly gpu: Gpu, readonly model: Model, quantized: QuantizedModel, readonly data: GpuDataset,
    readonly batchSize: number, readonly normalize: Normalization, readonly options: Int8Options = {}) {
    for (const [name, values] of quantized.f32) this.weights.set(name, uploadBuffer(gpu, values, name));
    for (const [name, tensor] of quantized.int8) {
      this.int8.set(name, { tensor, packed: uploadBuffer(gpu, tensor.packed, `${name}.int8`), scales: uploadBuffer(gpu, tensor.scales, `${name}.scale`) });
    }
  }

  private compile(batch: number): Int8Program {
    const { gpu, model, data } = this;
    const graph = new Graph();
    const external = new Map<number, BufferRef>();
    const owned: GPUBuffer[] = [];
    const own = (tensor: number, buffer: GPUBuffer): number => {
      owned.push(buffer);
      external.set(tensor, buffer);
      return tensor;
    };
    const bind = (tensor: number, buffer: GPUBuffer): number => { external.set(tensor, buffer); return tensor; };
    const indices = own(graph.tensor('batch.indices', [batch], 'input', 'u32'), storageBuffer(gpu, batch * 4, 'int8.indices'));
    const seed = own(graph.tensor('step.seed', [2], 'input', 'u32'), storageBuffer(gpu, 8, 'int8.seed'));
    const f32Tensor = (layer: Layer, name: string, role: 'param' | 'state'): number => {
      const full = `${layer.name}.${name}`;
      const buffer = this.weights.get(full);
      const spec = [...model.parameterSpecs(), ...model.stateSpecs()].find((s) => s.name === full);
      if (!buffer || !spec) throw new Error(`int8 model: no f32 tensor ${full}`);
      return bind(graph.tensor(full, spec.shape, role), buffer);
    };
    const ctx: BuildContext = {
      graph, tape: new Tape(graph), training: false, batch, seed,
      param: (layer, name) => f32Tensor(layer, name, 'param'),
      state: (layer, name) => f32Tensor(layer, name, 'state'),
    };
    const [, height, width] = model.inputShape;
    const input = graph.tensor('batch.x', [batch, ...model.inputShape]);
    const labels = graph.tensor('batch.labels', [batch], 'temp', 'u32');
    const { mean, std } = this.normalize;
    graph.add({
      name: 'gather batch', reads: [indices], writes: [input, labels],
      emit: (g, b) => gatherBatch(g, { images: data.images, labels: data.labels, indices: b(indices), x: b(input), y: b(labels), batch, channels: data.channels, height: height!, width: width!, mean, std }),
    });
    const [x] = model.forward(ctx, [input], (node, xs) => (node.layer instanceof Dense || node.layer instanceof Conv2D
      ? this.int8Layer(graph, node.layer, node.inputs[0]!.shape, node.output.shape, xs[0]!, batch, bind, ctx)
      : node.layer.forward(ctx, ...xs)));

    const classes = model.outputShape[0]!;
    const predictionsTensor = own(graph.tensor('batch.predictions', [batch], 'state', 'u32'), storageBuffer(gpu, batch * 4, 'int8.predictions'));
    const predictions = external.get(predictionsTensor) as GPUBuffer;
    const logits = x!;
    graph.add({ name: 'predictions', reads: [logits], writes: [predictionsTensor], emit: (g, b) => argmaxRows(g, { x: b(logits), indices: predictions, rows: batch, cols: classes }) });

    const plan = planMemory(graph, graph.ops);
    const slots = plan.slotBytes.map((bytes, i) => storageBuffer(gpu, bytes, `int8.slot${i}`));
    owned.push(...slots);
    const bufferOf = (t: number): BufferRef => {
      const root = graph.info(t).root;
      const ext = external.get(root);
      if (ext) return ext;
      return { buffer: slots[plan.slotOf.get(root)!]!, offset: 0, size: Math.ceil(tensorBytes(graph, t) / 4) * 4 };
    };
    return { dispatches: graph.ops.flatMap((o) => o.emit(gpu, bufferOf)), indices: external.get(indices) as GPUBuffer, predictions, owned };
  }

  private int8Layer(graph: Graph, layer: Dense | Conv2D, input: readonly number[], output: readonly number[], x: number, batch: number,
    bind: (tensor: number, buffer: GPUBuffer) => number, ctx: BuildContext): number {
    const q = this.int8.get(`${layer.name}.weight`);
    if (!q) throw new Error(`int8 model: layer ${layer.name} has no quantized weight`);
    if (layer instanceof Dense && input.length !== 1) throw new Error(`int8 model: layer ${layer.name} is a Dense over a sequence ${JSON.stringify(input)}; the int8 path takes flat Dense inputs only`);
    const weight = bind(graph.tensor(`${layer.name}.weight.int8`, [q.packed.size / 4], 'param', 'u32'), q.packed);
    const scale = bind(graph.tensor(`${layer.name}.weight.scale`, [q.tensor.rows], 'param'), q.scales);
    const bias = layer.useBias ? ctx.param(layer, 'bias') : undefined;
    const reads = bias === undefined ? [x, weight, scale] : [x, weight, scale, bias];
    const fused = layer.activation === 'relu' || layer.activation === 'none';
    const activation = layer.activation === 'relu' ? 'relu' as const : 'none' as const;
    const z = graph.tensor(`${layer.name}.${fused ? 'out' : 'preact'}`, [batch, ...output]);
    const options = this.options;
    if (layer instanceof Dense) {
      const inFeatures = input[0]!;
      const scratch = graph.tensor(`${layer.name}.scratch`, [Math.ceil(int8DenseScratchBytes(batch, inFeatures) / 4)]);
      graph.add({
        name: `${layer.name}.int8`, reads, writes: [z, scratch],
        emit: (g, b) => int8Dense(g, {
          ...options, x: b(x), weight: b(weight), weightScale: b(scale), y: b(z), scratch: b(scratch),
          batch, inFeatures, outFeatures: layer.units, activation, ...(bias === undefined ? {} : { bias: b(bias) }),
        }),
      });
    } else {
      const s = layer.convShape(input, batch);
      const scratch = graph.tensor(`${layer.name}.scratch`, [Math.ceil(int8Conv2dScratchBytes(s) / 4)]);
      graph.add({
        name: `${layer.name}.int8`, reads, writes: [z, scratch],
        emit: (g, b) => int8Conv2d(g, s, {
          ...options, x: b(x), weight: b(weight), weightScale: b(scale), y: b(z), scratch: b(scratch),
          activation, ...(bias === undefined ? {} : { bias: b(bias) }),
        }),
      });
    }
    if (fused) return z;
    const y = graph.tensor(`${layer.name}.out`, [batch, ...output]);
    const kind = layer.activation as ActivationKind;
    const count = batch * elementCount(output);
    graph.add({ name: `${layer.name}.${kind}`, reads: [z], writes: [y], emit: (g, b) => activationForward(g, kind, { x: b(z), y: b(y), count }) });
    return y;
  }

  /** The predicted class of every indexed image, in one submit per batch and one readback. */
  async predict(indices: Uint32Array): Promise<Uint32Array> {
    const { gpu } = this;
    const all = gpu.createBuffer({ label: 'int8.predictions.all', size: Math.max(4, indices.length * 4), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
    try {
      for (let start = 0; start < indices.length; start += this.batchSize) {
        const batch = Math.min(this.batchSize, indices.length - start);
        let p = this.programs.get(batch);
        if (!p) this.programs.set(batch, p = this.compile(batch));
        // Queue writes are ordered with submits, so each batch sees its own indices.
        writeBuffer(gpu, p.indices, indices.subarray(start, start + batch));
        const encoder = gpu.device.createCommandEncoder({ label: 'int8 inference' });
        encodeDispatches(encoder, p.dispatches, 'int8 inference');
        encoder.copyBufferToBuffer(p.predictions, 0, all, start * 4, batch * 4);
        gpu.device.queue.submit([encoder.finish()]);
      }
      return await readUint32(gpu, all, indices.length);
    } finally {
      gpu.destroyBuffer(all);
    }
  }

  destroy(): void {
    for (const p of this.programs.values()) for (const b of p.owned) this.gpu.destroyBuffer(b);
    this.programs.clear();
    for (const b of this.weights.values()) this.gpu.destroyBuffer(b);
    for (const q of this.int8.values()) { this.gpu.destroyBuffer(q.packed); this.gpu.destroyBuffer(q.scales); }
  }
}

/** Fraction of predictions equal to the labels. */
export function accuracyOf(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === labels[i]) correct++;
  return predictions.length ? correct / predictions.length : 0;
}
