// The input stage of a compiled step: what the dataset resident on the GPU is (images with class
// labels, or one token stream cut into next-token windows), how a batch is gathered from it by the
// indices the host uploads, and the [rows, classes] layout of the labels the loss reads.
import { gatherBatch, gatherTokens, type AugmentOptions } from '../kernels/gather.ts';
import { formatShape, type Graph } from '../graph/graph.ts';
import type { Model } from '../model/model.ts';

/** An image dataset resident on the GPU (u8 pixels, u32 labels), gathered by index each step. */
export interface GpuDataset {
  kind: 'images';
  name: string;
  images: GPUBuffer;
  labels: GPUBuffer;
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
}

/**
 * One u32 token stream resident on the GPU; a batch row is the window of `context` tokens from a
 * start index, and its labels are the same window one token later.
 */
export interface GpuTokenDataset {
  kind: 'tokens';
  name: string;
  tokens: GPUBuffer;
  count: number;
  vocab: number;
  context: number;
}

/** Either kind of dataset a program can be compiled for. */
export type GpuData = GpuDataset | GpuTokenDataset;

export interface Normalization { mean: number; std: number }

/** What the input stage gives the rest of the step: the model input and one u32 label per loss row. */
export interface BatchInput { x: number; labels: number; rows: number; classes: number }

export interface InputStageOptions {
  batch: number;
  /** Images only: x = (u8/255 − mean)/std. */
  normalize?: Normalization | undefined;
  /** Images only, when training: a random affine per image. */
  augment?: AugmentOptions | undefined;
}

/** The largest start index a token window may have: its last target is the stream's last token. */
function lastTokenStart(data: GpuTokenDataset): number {
  return data.count - data.context - 1;
}

/** Refuses start indices whose window (and next-token target) would run past the stream. */
export function checkTokenStarts(data: GpuTokenDataset, starts: Uint32Array): void {
  const last = lastTokenStart(data);
  for (let i = 0; i < starts.length; i++) {
    if (starts[i]! > last) throw new Error(`dataset ${data.name}: start index ${starts[i]} at row ${i} is past ${last}, the last start whose window of ${data.context} tokens and its next token fit in ${data.count} tokens`);
  }
}

/** Adds the gather op for a model checkModelFits accepted; `indices` and `seed` are step inputs. */
export function inputStage(graph: Graph, model: Model, data: GpuData, indices: number, seed: number, o: InputStageOptions): BatchInput {
  if (data.kind !== 'tokens') return imageInput(graph, model, data, indices, seed, o);
  if (o.augment) throw new Error(`compileProgram: augment applies to images; dataset ${data.name} is a token stream`);
  return tokenInput(graph, model, data, indices, o.batch);
}

/** The model's shape checks against the dataset, before any tensor is made. */
export function checkModelFits(model: Model, data: GpuData): void {
  const shape = model.inputShape;
  const out = model.outputShape;
  if (data.kind === 'tokens') {
    const dtype = model.inputs[0]!.dtype;
    if (shape.length !== 1 || shape[0] !== data.context || dtype !== 'u32') {
      throw new Error(`model input ${formatShape(shape)} (${dtype}) does not fit dataset ${data.name} (u32 token windows of ${data.context})`);
    }
    if (out.length !== 2 || out[0] !== data.context || out[1] !== data.vocab) {
      throw new Error(`model outputs ${formatShape(out)} but dataset ${data.name} needs next-token logits [${data.context}, ${data.vocab}]`);
    }
    return;
  }
  const { channels, height, width } = data;
  if (shape.length !== 3 || shape[0] !== channels || shape[1] !== height || shape[2] !== width) {
    throw new Error(`model input shape [${shape.join(', ')}] does not fit dataset ${data.name} (${channels}×${height}×${width} images)`);
  }
  if (out.length !== 1 || out[0] !== data.classes) {
    throw new Error(`model outputs [${out.join(', ')}] but dataset ${data.name} has ${data.classes} classes`);
  }
}

function imageInput(graph: Graph, model: Model, data: GpuDataset, indices: number, seed: number, o: InputStageOptions): BatchInput {
  const { batch } = o;
  const { channels, height, width } = data;
  if (!o.normalize) throw new Error(`compileProgram: image dataset ${data.name} needs the input normalization (normalize)`);
  const x = graph.tensor('batch.x', [batch, channels, height, width]);
  const labels = graph.tensor('batch.labels', [batch], 'temp', 'u32');
  const { mean, std } = o.normalize;
  const augment = o.augment;
  graph.add({
    name: 'gather batch', reads: [indices, seed], writes: [x, labels],
    emit: (g, b) => gatherBatch(g, {
      images: data.images, labels: data.labels, indices: b(indices), x: b(x), y: b(labels), batch, channels, height, width, mean, std,
      ...(augment ? { augment, seed: b(seed) } : {}),
    }),
  });
  return { x, labels, rows: batch, classes: model.outputShape[0]! };
}

function tokenInput(graph: Graph, model: Model, data: GpuTokenDataset, indices: number, batch: number): BatchInput {
  const { context, count } = data;
  const x = graph.tensor('batch.x', [batch, context], 'temp', 'u32');
  const labels = graph.tensor('batch.labels', [batch, context], 'temp', 'u32');
  graph.add({
    name: 'gather token windows', reads: [indices], writes: [x, labels],
    emit: (g, b) => gatherTokens(g, { tokens: data.tokens, count, starts: b(indices), x: b(x), y: b(labels), batch, context }),
  });
  return { x, labels, rows: batch * context, classes: model.outputShape[1]! };
}
