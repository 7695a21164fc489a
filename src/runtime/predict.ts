// model.predict: a forward pass (dropout off, batch norm on running statistics) over samples given
// as plain arrays or an ImageSet, batched on the GPU, returning the outputs as one Float32Array.
import type { Gpu } from '../gpu/device.ts';
import type { ImageSet } from '../data/idx.ts';
import type { Model } from '../model/model.ts';
import type { ChannelNormalization } from '../compiler/program.ts';
import { destroyDataset, range, tensorDataset, type FieldData } from './dataset.ts';
import { Evaluator, type ModelState } from './runtime.ts';

/** One model input's samples, one field per input by name, or images (their labels are ignored). */
export type PredictInput = FieldData | Readonly<Record<string, FieldData>> | ImageSet;

export interface PredictOptions {
  /** Samples per forward pass (default 256; the last batch may be shorter). */
  batchSize?: number;
  /** u8 data: x = (u8/255 − mean)/std, as the model was trained (default mean 0, std 1). */
  normalize?: ChannelNormalization;
  /** Which field each model input reads, when `x` names fields (see ProgramOptions.inputs). */
  inputs?: Readonly<Record<string, string>>;
}

function isImageSet(x: PredictInput): x is ImageSet {
  return 'images' in x && x.images instanceof Uint8Array;
}

function isFieldData(x: PredictInput): x is FieldData {
  return 'data' in x && ArrayBuffer.isView(x.data) && 'shape' in x;
}

function fieldsOf(x: PredictInput): Readonly<Record<string, FieldData>> {
  if (isImageSet(x)) return { x: { data: x.images, shape: [x.count, x.channels ?? 1, x.rows, x.cols] } };
  return isFieldData(x) ? { x } : x;
}

/** Softmax over the last axis, for a model drawn with a final Softmax (training reads the logits before it). */
function softmaxLastAxis(values: Float32Array, width: number): Float32Array {
  for (let start = 0; start < values.length; start += width) {
    const row = values.subarray(start, start + width);
    const largest = Math.max(...row);
    let total = 0;
    for (let i = 0; i < width; i++) total += Math.exp(row[i]! - largest);
    for (let i = 0; i < width; i++) row[i] = Math.exp(row[i]! - largest) / total;
  }
  return values;
}

/**
 * The model's outputs for every sample, samples × the output shape, as the model draws them (a
 * final Softmax is applied). A one-input model reads `x` (an array, or field `x`); a model with
 * several inputs reads one field per input name.
 */
export async function predict(gpu: Gpu, model: Model, state: ModelState, x: PredictInput, options: PredictOptions = {}): Promise<Float32Array> {
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`predict: batchSize must be a positive integer, got ${batchSize}`);
  const data = tensorDataset(gpu, fieldsOf(x), 'predict');
  const evaluator = new Evaluator(gpu, model, state, data, Math.min(batchSize, data.count), options.normalize, options.inputs ? { inputs: options.inputs } : {});
  try {
    const outputs = await evaluator.logits(range(0, data.count));
    return model.endsWithSoftmax ? softmaxLastAxis(outputs, model.outputShape.at(-1)!) : outputs;
  } finally {
    evaluator.destroy();
    destroyDataset(gpu, data);
  }
}
