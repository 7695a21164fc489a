// The input stage of a compiled step: what the dataset resident on the GPU is (images with class
// labels, one token stream cut into next-token windows, or a set of named tensors), how a batch is
// gathered from it by the indices the host uploads, which model input each field feeds, and the
// target the loss reads.
import { channelScaling, gatherBatch, gatherRows, gatherScaledBytes, gatherTokens, type AugmentOptions, type SampleShards } from '../kernels/gather.ts';
import { elementCount, formatShape, type Graph } from '../graph/graph.ts';
import type { Model } from '../model/model.ts';

/** An image dataset resident on the GPU (u8 pixels, u32 labels, sharded alike), gathered by index each step. */
export interface GpuDataset {
  kind: 'images';
  name: string;
  images: SampleShards<GPUBuffer>;
  labels: SampleShards<GPUBuffer>;
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

/** How a field's values are stored: u8 (scaled to [0, 1], then normalized, on gather), f32 or u32. */
export type FieldDType = 'u8' | 'f32' | 'u32';

/** One named tensor of a dataset: `count` samples of `shape` each, in one or more shards. */
export interface GpuField {
  dtype: FieldDType;
  /** The shape of one sample ([] for one value per sample). */
  shape: readonly number[];
  shards: SampleShards<GPUBuffer>;
  /** u32 fields: the largest value, checked against the model's classes when read as class ids. */
  largest?: number;
}

/** A dataset of named tensors (features, images, targets, ids) sharing one sample count. */
export interface GpuTensorDataset {
  kind: 'tensors';
  name: string;
  count: number;
  fields: Readonly<Record<string, GpuField>>;
}

/** Any kind of dataset a program can be compiled for. */
export type GpuData = GpuDataset | GpuTokenDataset | GpuTensorDataset;

export interface Normalization { mean: number; std: number }

/** x = (u8/255 − mean)/std, with one mean and std for all values or one per channel. */
export interface ChannelNormalization { mean: number | readonly number[]; std: number | readonly number[] }

/** What the loss compares the model's output with. */
export interface BatchTarget {
  tensor: number;
  dtype: 'f32' | 'u32';
  /** The shape of one sample's target ([] for one class id per sample). */
  shape: readonly number[];
  /** Who the target is, for errors: "field y of dataset d". */
  label: string;
  /** u32 targets whose ids were not checked at upload: the largest one. */
  largest?: number;
}

/** What the input stage gives the rest of the step: one tensor per model input, and the target. */
export interface BatchInput { inputs: number[]; target?: BatchTarget }

export interface InputStageOptions {
  batch: number;
  /** u8 data: x = (u8/255 − mean)/std (per channel when given lists); images need it. */
  normalize?: ChannelNormalization | undefined;
  /** Images only, when training: a random affine per image. */
  augment?: AugmentOptions | undefined;
  /**
   * Tensor datasets: the field each model input reads, by input name. Default: a model with one
   * input reads field `x`; a model with several reads, for each input, the field of its name.
   */
  inputs?: Readonly<Record<string, string>> | undefined;
  /** Tensor datasets: the field the loss compares against (default `y`; none for prediction). */
  target?: string | undefined;
  /** Whether a target must exist (training); without one, evaluation only keeps the outputs. */
  needsTarget: boolean;
  /** A tensor holding `values`, uploaded once when the step is compiled. */
  constant(name: string, values: Float32Array): number;
}

export const DEFAULT_INPUT_FIELD = 'x';
export const DEFAULT_TARGET_FIELD = 'y';

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

/** Adds the gather ops for a model checkModelFits accepted; `indices` and `seed` are step inputs. */
export function inputStage(graph: Graph, model: Model, data: GpuData, indices: number, seed: number, o: InputStageOptions): BatchInput {
  if (data.kind === 'tensors') return tensorInput(graph, model, data, indices, o);
  if (data.kind === 'images') return imageInput(graph, data, indices, seed, o);
  if (o.augment) throw new Error(`compileProgram: augment applies to images; dataset ${data.name} is a token stream`);
  return tokenInput(graph, data, indices, o.batch);
}

/** The model's shape checks against an image or token dataset, before any tensor is made (tensor datasets are checked field by field in their input stage). */
export function checkModelFits(model: Model, data: GpuData): void {
  if (data.kind === 'tensors') return;
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

const asList = (v: number | readonly number[]): readonly number[] => (typeof v === 'number' ? [v] : v);

/** The (offset, scale) constant for u8 data of `shape` whose first axis is its channels. */
function scalingFor(who: string, shape: readonly number[], normalize: ChannelNormalization, o: InputStageOptions): { channels: number; scaling: number } {
  const mean = asList(normalize.mean), std = asList(normalize.std);
  const channels = Math.max(mean.length, std.length);
  if (channels > 1 && shape[0] !== channels) {
    throw new Error(`${who}: normalize gives ${channels} per-channel values, but its samples are ${formatShape(shape)} (channels first)`);
  }
  const widen = (v: readonly number[]) => (v.length === 1 ? Array<number>(channels).fill(v[0]!) : v);
  try {
    return { channels, scaling: o.constant(`${who}.scaling`, channelScaling(widen(mean), widen(std))) };
  } catch (error) {
    throw new Error(`${who}: ${(error as Error).message}`);
  }
}

function imageInput(graph: Graph, data: GpuDataset, indices: number, seed: number, o: InputStageOptions): BatchInput {
  const { batch } = o;
  const { channels, height, width } = data;
  if (!o.normalize) throw new Error(`compileProgram: image dataset ${data.name} needs the input normalization (normalize)`);
  const x = graph.tensor('batch.x', [batch, channels, height, width]);
  const labels = graph.tensor('batch.labels', [batch], 'temp', 'u32');
  const target: BatchTarget = { tensor: labels, dtype: 'u32', shape: [], label: `the labels of dataset ${data.name}` };
  const { mean, std } = o.normalize;
  if (typeof mean === 'number' && typeof std === 'number') {
    const augment = o.augment;
    graph.add({
      name: 'gather batch', reads: [indices, seed], writes: [x, labels],
      emit: (g, b) => gatherBatch(g, {
        images: data.images, labels: data.labels, indices: b(indices), x: b(x), y: b(labels), batch, channels, height, width, mean, std,
        ...(augment ? { augment, seed: b(seed) } : {}),
      }),
    });
    return { inputs: [x], target };
  }
  if (o.augment) throw new Error(`compileProgram: augment takes one mean and std for all channels; dataset ${data.name} is normalized per channel`);
  const pixels = channels * height * width;
  const { scaling } = scalingFor(`dataset ${data.name}`, [channels, height, width], o.normalize, o);
  graph.add({
    name: 'gather images', reads: [indices, scaling], writes: [x],
    emit: (g, b) => gatherScaledBytes(g, { source: data.images, indices: b(indices), out: b(x), batch, width: pixels, channels, scaling: b(scaling) }),
  });
  graph.add({
    name: 'gather labels', reads: [indices], writes: [labels],
    emit: (g, b) => gatherRows(g, { source: data.labels, indices: b(indices), out: b(labels), batch, width: 1 }),
  });
  return { inputs: [x], target };
}

function tokenInput(graph: Graph, data: GpuTokenDataset, indices: number, batch: number): BatchInput {
  const { context, count } = data;
  const x = graph.tensor('batch.x', [batch, context], 'temp', 'u32');
  const labels = graph.tensor('batch.labels', [batch, context], 'temp', 'u32');
  graph.add({
    name: 'gather token windows', reads: [indices], writes: [x, labels],
    emit: (g, b) => gatherTokens(g, { tokens: data.tokens, count, starts: b(indices), x: b(x), y: b(labels), batch, context }),
  });
  return { inputs: [x], target: { tensor: labels, dtype: 'u32', shape: [context], label: `the next tokens of dataset ${data.name}` } };
}

/** Which field each model input reads (see InputStageOptions.inputs). */
function inputFields(model: Model, data: GpuTensorDataset, mapping: Readonly<Record<string, string>> | undefined): string[] {
  const names = model.inputs.map((t) => t.name);
  if (mapping) {
    const unknown = Object.keys(mapping).filter((k) => !names.includes(k));
    if (unknown.length) throw new Error(`compileProgram: inputs names ${unknown.join(', ')}, which the model does not have (its inputs: ${names.join(', ')})`);
  }
  return names.map((name) => mapping?.[name] ?? (names.length === 1 ? DEFAULT_INPUT_FIELD : name));
}

function fieldOf(data: GpuTensorDataset, name: string, role: string): GpuField {
  const field = data.fields[name];
  if (!field) throw new Error(`dataset ${data.name} has no field "${name}" for ${role} (its fields: ${Object.keys(data.fields).join(', ')})`);
  return field;
}

/** One gather op that puts a field's batch rows into a new f32 (u8 and f32 fields) or u32 tensor. */
function gatherField(graph: Graph, data: GpuTensorDataset, name: string, indices: number, o: InputStageOptions): number {
  const field = data.fields[name]!;
  const { batch } = o;
  const width = elementCount(field.shape);
  const who = `field ${name} of dataset ${data.name}`;
  const out = graph.tensor(`batch.${name}`, [batch, ...field.shape], 'temp', field.dtype === 'u32' ? 'u32' : 'f32');
  if (field.dtype !== 'u8') {
    graph.add({
      name: `gather ${name}`, reads: [indices], writes: [out],
      emit: (g, b) => gatherRows(g, { source: field.shards, indices: b(indices), out: b(out), batch, width }),
    });
    return out;
  }
  const { channels, scaling } = scalingFor(who, field.shape, o.normalize ?? { mean: 0, std: 1 }, o);
  graph.add({
    name: `gather ${name}`, reads: [indices, scaling], writes: [out],
    emit: (g, b) => gatherScaledBytes(g, { source: field.shards, indices: b(indices), out: b(out), batch, width, channels, scaling: b(scaling) }),
  });
  return out;
}

function tensorInput(graph: Graph, model: Model, data: GpuTensorDataset, indices: number, o: InputStageOptions): BatchInput {
  if (o.augment) throw new Error(`compileProgram: augment applies to image datasets; dataset ${data.name} is a set of named tensors`);
  const fields = inputFields(model, data, o.inputs);
  const inputs = model.inputs.map((t, i) => {
    const name = fields[i]!;
    const field = fieldOf(data, name, `model input ${t.name}`);
    const fits = field.dtype === 'u32' ? t.dtype === 'u32' : t.dtype === 'f32';
    if (!fits || field.shape.join() !== t.shape.join()) {
      throw new Error(`model input ${t.name} ${formatShape(t.shape)} (${t.dtype}) does not fit field ${name} of dataset ${data.name} (${field.dtype} samples of ${formatShape(field.shape)})`);
    }
    return gatherField(graph, data, name, indices, o);
  });
  const targetName = o.target ?? DEFAULT_TARGET_FIELD;
  if (!data.fields[targetName] && !o.needsTarget && o.target === undefined) return { inputs };
  const field = fieldOf(data, targetName, 'the target');
  const tensor = gatherField(graph, data, targetName, indices, o);
  return {
    inputs,
    target: {
      tensor, dtype: field.dtype === 'u32' ? 'u32' : 'f32', shape: field.shape, label: `field ${targetName} of dataset ${data.name}`,
      ...(field.largest === undefined ? {} : { largest: field.largest }),
    },
  };
}
