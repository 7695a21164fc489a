// What a checkpoint holds and how it moves between the GPU and bytes. Browser-safe; files are
// src/node/checkpoint-file.ts.
//
// A checkpoint is ONE safetensors file:
//   - model tensors under their PyTorch state_dict names (conv1.weight OIHW, fc1.weight [out, in],
//     biases, bn1.running_mean / running_var), F32, so torch's safetensors loader reads them as is;
//   - optimizer moments as optimizer.<param>.exp_avg / exp_avg_sq / momentum_buffer, shaped like
//     their parameter;
//   - __metadata__ (strings; JSON where structured): webgrad_version, model ({zoo, options} for
//     zooModel, or {graph} for any other model: src/io/model-graph.ts), epoch (completed), step (Trainer.stepCount), seed, normalize, optimizer, schedule,
//     trainer (the remaining Trainer options: batch size, steps per epoch, total steps, augment,
//     frozen, …), class_names, tokenizer (a language model's: src/data/text.ts), and any caller extras.
// Decoding checks the metadata against src/io/checkpoint-schema.ts (each field's type and range,
// class names against the head) and every tensor for NaN/Inf; every error starts with the source.
//
// Resuming is exact: batch order is epochPermutation(n, seed, epoch) and dropout/augmentation draw
// from (seed, step), so epoch + step + seed + the trainer options + the moments are the whole
// training state. Exactness needs a save at an epoch boundary (step = epoch × stepsPerEpoch): fit
// resumes whole epochs, so a mid-epoch save (say on Ctrl-C) reruns that epoch from its start.
//
//   save:    bytes = await encodeCheckpoint(state, { model: { zoo: 'lenet', options: {} }, epoch }, trainer)
//            (without info.model the model's own graph is written: any drawn model saves)
//   load:    const { model, weights, normalize, classNames } = await loadModel(bytesOrFile, name);
//            const state = new ModelState(gpu, model, weights);
//   resume:  const ckpt = decodeCheckpoint(bytes, 'run.safetensors');
//            const model = modelFromCheckpoint(ckpt); const state = new ModelState(gpu, model);
//            const trainer = new Trainer(gpu, model, state, data, new Map(), ckpt.training!);
//            restoreCheckpoint(ckpt, state, trainer);       // weights, moments, stepCount
//            await fit(gpu, model, state, data, { ...ckpt.training!, epochs, trainIndices, initialEpoch: ckpt.epoch }, trainer);
//   predict: restoreCheckpoint(ckpt, state) — weights only.
//   fine-tune with a new head: loadMatchingWeights(state, ckpt.weights) → { loaded, reinitialized, unused }.
//   PyTorch state_dicts: weightsFromSafetensors(decodeSafetensors(bytes)) then restoreWeights(state, weights).
import packageJson from '../../package.json' with { type: 'json' };
import { elementCount, formatShape } from '../graph/graph.ts';
import { readFloat32, writeBuffer } from '../gpu/buffers.ts';
import type { Model } from '../model/model.ts';
import type { ModelState, Trainer, TrainerOptions } from '../runtime/runtime.ts';
import type { Normalization } from '../compiler/program.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor, type SafetensorsFile } from './safetensors.ts';
import { checkCheckpointMetadata, checkFiniteTensors, modelFromDescription, type CheckedMetadata, type ModelDescription } from './checkpoint-schema.ts';
import { modelToGraph } from './model-graph.ts';
import { tokenizerFromDescription, type Tokenizer, type TokenizerDescription } from '../data/text.ts';

export type { ModelDescription, ZooDescription, GraphDescription } from './checkpoint-schema.ts';

export const WEBGRAD_VERSION: string = packageJson.version;

export interface SaveInfo {
  /** A zoo name and options, checked against the model being saved; absent, the model's own graph is written. */
  model?: ModelDescription;
  /** Epochs completed; a resumed fit starts at this epoch. */
  epoch: number;
  /** Input normalization for inference; taken from the trainer when one is given. */
  normalize?: Normalization;
  classNames?: string[];
  /** A language model's tokenizer (tokenizer.describe()); its vocabulary must be the model's Embedding vocabulary. */
  tokenizer?: TokenizerDescription;
  /** Free-form strings stored alongside (e.g. dataset, command line). */
  extra?: Record<string, string>;
}

/** The checked metadata (src/io/checkpoint-schema.ts), the tensors, and where they came from. */
export interface Checkpoint extends Omit<CheckedMetadata, 'trainer'> {
  /** Where it was read from (a path or a file name); errors about it start with this. */
  source: string;
  /** The Trainer options it was saved with (absent when saved without a trainer). */
  training?: TrainerOptions;
  extra: Record<string, string>;
  /** Parameters and persistent state under state_dict names, F32. */
  weights: Map<string, SafeTensor>;
  /** Optimizer moments by Trainer.optimizerState key (<param>.exp_avg …), F32. */
  moments: Map<string, SafeTensor>;
}

const OPTIMIZER_PREFIX = 'optimizer.';
const MOMENT_SUFFIXES = ['exp_avg', 'exp_avg_sq', 'momentum_buffer'];
/** Metadata keys this module writes; anything else comes back as `extra`. */
const KNOWN_KEYS = ['format', 'webgrad_version', 'model', 'epoch', 'step', 'seed', 'normalize', 'optimizer', 'schedule', 'trainer', 'class_names', 'tokenizer', 'loss_scale'];
const FORMAT = 'webgrad-checkpoint/1';

function parameterShape(model: Model, name: string): number[] {
  const spec = [...model.parameterSpecs(), ...model.stateSpecs()].find((s) => s.name === name);
  if (!spec) throw new Error(`internal: model has no tensor ${name}`);
  return [...spec.shape];
}

/** The parameter a moment key belongs to: "fc1.weight.exp_avg" → "fc1.weight". */
function momentParameter(key: string): string {
  const suffix = MOMENT_SUFFIXES.find((s) => key.endsWith(`.${s}`));
  if (!suffix) throw new Error(`internal: optimizer state ${key} is not a known moment (${MOMENT_SUFFIXES.join(', ')})`);
  return key.slice(0, -suffix.length - 1);
}

const tensorList = (model: Model): string => JSON.stringify([...model.parameterSpecs(), ...model.stateSpecs()]);

/** The description to store: the given one if it rebuilds the model being saved (same tensors), else the model's graph. */
function describedModel(model: Model, given: ModelDescription | undefined): ModelDescription {
  if (!given) return { graph: modelToGraph(model) };
  if (tensorList(modelFromDescription('encodeCheckpoint', given)) !== tensorList(model)) {
    throw new Error(`encodeCheckpoint: info.model ${JSON.stringify(given)} does not describe the model being saved (its tensors differ); leave info.model out to save the model's own graph`);
  }
  return given;
}

/** Reads every tensor from the GPU (the copies queue behind submitted steps, so they see the latest) and lays out the file. */
export async function encodeCheckpoint(state: ModelState, info: SaveInfo, trainer?: Trainer): Promise<Uint8Array> {
  const model = describedModel(state.model, info.model);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, data] of await state.read()) tensors.set(name, { dtype: 'F32', shape: parameterShape(state.model, name), data });
  // A tied parameter under both of its names, as PyTorch's state_dict lists a shared one, so load_state_dict(strict=True) finds both.
  for (const { name, source } of state.model.tiedParameters()) tensors.set(name, tensors.get(source)!);
  const metadata: Record<string, string> = { ...info.extra };
  for (const key of Object.keys(metadata)) if (KNOWN_KEYS.includes(key)) throw new Error(`checkpoint extra "${key}" clashes with a metadata key webgrad writes`);
  const normalize = info.normalize ?? trainer?.options.normalize;
  if (!normalize) throw new Error('encodeCheckpoint: give the input normalization (info.normalize) or a trainer');
  Object.assign(metadata, {
    format: FORMAT,
    webgrad_version: WEBGRAD_VERSION,
    model: JSON.stringify(model),
    epoch: String(info.epoch),
    step: String(trainer?.stepCount ?? 0),
    normalize: JSON.stringify(normalize),
  });
  if (info.classNames) metadata.class_names = JSON.stringify(info.classNames);
  if (info.tokenizer) metadata.tokenizer = JSON.stringify(info.tokenizer);
  if (trainer) {
    const { seed, optimizer, schedule, normalize: _, ...rest } = trainer.options;
    metadata.seed = String(seed);
    metadata.optimizer = JSON.stringify(optimizer);
    if (schedule) metadata.schedule = JSON.stringify(schedule);
    metadata.trainer = JSON.stringify(rest);
    const lossScale = await trainer.lossScale();
    if (lossScale) metadata.loss_scale = JSON.stringify({ scale: lossScale.scale, goodSteps: lossScale.goodSteps, skippedSteps: lossScale.skippedSteps });
    for (const [key, buffer] of trainer.optimizerState) {
      const shape = parameterShape(state.model, momentParameter(key));
      tensors.set(OPTIMIZER_PREFIX + key, { dtype: 'F32', shape, data: await readFloat32(state.gpu, buffer, elementCount(shape)) });
    }
  }
  // The schema readers apply, applied before writing, so a file webgrad writes is one it reads back.
  checkCheckpointMetadata('encodeCheckpoint', metadata);
  return encodeSafetensors(tensors, metadata);
}

/** Parameters as F32: F64 tensors are narrowed; PyTorch's integer batch counters are dropped (webgrad's batch norm uses a fixed momentum). */
export function weightsFromSafetensors(file: SafetensorsFile, source = 'safetensors data'): Map<string, SafeTensor> {
  const weights = new Map<string, SafeTensor>();
  for (const [name, tensor] of file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX) || name.endsWith('.num_batches_tracked')) continue;
    if (tensor.dtype === 'F32') weights.set(name, tensor);
    else if (tensor.dtype === 'F64') weights.set(name, { dtype: 'F32', shape: tensor.shape, data: Float32Array.from(tensor.data as Float64Array) });
    else throw new Error(`${source}: tensor ${name} is ${tensor.dtype}; model weights must be F32 or F64`);
  }
  return weights;
}

/**
 * Decodes and validates: the metadata against src/io/checkpoint-schema.ts, every weight and moment
 * finite. Every fault names `source` and the field or tensor.
 */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const file = decodeSafetensors(bytes, source);
  const m = file.metadata;
  if (m.format !== FORMAT) {
    throw new Error(`${source}: not a webgrad checkpoint (metadata format is ${m.format === undefined ? 'missing' : `"${m.format}"`}, expected "${FORMAT}"); a plain state_dict loads with weightsFromSafetensors + restoreWeights`);
  }
  const checked = checkCheckpointMetadata(source, m);
  const moments = new Map<string, SafeTensor>();
  for (const [name, tensor] of file.tensors) {
    if (!name.startsWith(OPTIMIZER_PREFIX)) continue;
    if (tensor.dtype !== 'F32') throw new Error(`${source}: optimizer tensor ${name} is ${tensor.dtype}, expected F32`);
    moments.set(name.slice(OPTIMIZER_PREFIX.length), tensor);
  }
  const weights = weightsFromSafetensors(file, source);
  checkFiniteTensors(source, weights);
  checkFiniteTensors(source, moments, OPTIMIZER_PREFIX);
  const { trainer, ...described } = checked;
  const { seed, normalize, optimizer, schedule } = described;
  const extra = Object.fromEntries(Object.entries(m).filter(([key]) => !KNOWN_KEYS.includes(key)));
  return {
    source, ...described, extra,
    ...(trainer && optimizer ? { training: { ...trainer, seed, normalize, optimizer, ...(schedule ? { schedule } : {}) } } : {}),
    weights,
    moments,
  };
}

export function modelFromCheckpoint(checkpoint: Checkpoint): Model {
  return modelFromDescription(checkpoint.source, checkpoint.model);
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * The values of weights that must fit the model exactly, ready for new ModelState(gpu, model, values).
 * Tensors of the right size but the wrong shape (a transposed Dense weight) are rejected here;
 * ModelState.load lists every missing, unexpected and mis-sized tensor.
 */
export function weightValues(model: Model, given: ReadonlyMap<string, SafeTensor>): Map<string, Float32Array> {
  const weights = foldTiedWeights(model, given);
  const specs = [...model.parameterSpecs(), ...model.stateSpecs()];
  const transposed = specs.filter((s) => {
    const given = weights.get(s.name);
    return given && given.data.length === elementCount(s.shape) && !sameShape(given.shape, s.shape);
  }).map((s) => `${s.name} (model ${formatShape(s.shape)}, given ${formatShape(weights.get(s.name)!.shape)})`);
  if (transposed.length) throw new Error(`weights do not fit the model: mis-shaped [${transposed.join(', ')}]`);
  return new Map([...weights].map(([name, t]) => [name, t.data as Float32Array]));
}

/**
 * Each tied name (lm_head.weight) folded into its owner (transformer.wte.weight). A state_dict holds
 * a shared parameter under both names, so both must hold the same values; either alone stands for both.
 */
function foldTiedWeights(model: Model, weights: ReadonlyMap<string, SafeTensor>): ReadonlyMap<string, SafeTensor> {
  const ties = model.tiedParameters();
  if (!ties.length) return weights;
  const folded = new Map(weights);
  for (const { name, source } of ties) {
    const tied = folded.get(name);
    if (!tied) continue;
    const owner = folded.get(source);
    if (owner) {
      const fault = !sameShape(owner.shape, tied.shape) ? `${source} is ${formatShape(owner.shape)} and ${name} ${formatShape(tied.shape)}`
        : (() => {
          const i = owner.data.findIndex((v, k) => v !== tied.data[k]);
          return i < 0 ? '' : `${source} holds ${owner.data[i]} and ${name} ${tied.data[i]} at index ${i}`;
        })();
      if (fault) throw new Error(`weights do not fit the model: ${name} and ${source} are one tied parameter, but ${fault}`);
    } else {
      folded.set(source, tied);
    }
    folded.delete(name);
  }
  return folded;
}

/** Loads weights that must fit the model exactly (see weightValues). */
export function restoreWeights(state: ModelState, weights: ReadonlyMap<string, SafeTensor>): void {
  state.load(weightValues(state.model, weights));
}

/** A checkpoint as a model ready to run: what loadModel returns. */
export interface LoadedModel {
  model: Model;
  /** Parameters and persistent state for new ModelState(gpu, model, weights). */
  weights: Map<string, Float32Array>;
  normalize: Normalization;
  /** The checkpoint's class names, or "0", "1", … */
  classNames: string[];
  /** The tokenizer a language model was trained with, rebuilt and ready to encode and decode. */
  tokenizer?: Tokenizer;
  checkpoint: Checkpoint;
}

/** Rebuilds the model a checkpoint describes (zoo or graph) with its weights checked against it. Browser-safe: a File or Blob is read here. */
export async function loadModel(file: Uint8Array | Blob, source = file instanceof Blob && 'name' in file ? String(file.name) : 'checkpoint'): Promise<LoadedModel> {
  const bytes = file instanceof Uint8Array ? file : new Uint8Array(await file.arrayBuffer());
  const checkpoint = decodeCheckpoint(bytes, source);
  const model = modelFromCheckpoint(checkpoint);
  let weights: Map<string, Float32Array>;
  try {
    weights = weightValues(model, checkpoint.weights);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  const classes = model.outputs.length === 1 && model.outputShape.length === 1 ? model.outputShape[0]! : 0;
  const classNames = checkpoint.classNames ?? Array.from({ length: classes }, (_, c) => String(c));
  return { model, weights, normalize: checkpoint.normalize, classNames, ...(checkpoint.tokenizer ? { tokenizer: tokenizerFromDescription(checkpoint.tokenizer) } : {}), checkpoint };
}

/** Weights, and with a trainer its optimizer moments and step count, so training continues exactly. Errors start with the checkpoint's source. */
export function restoreCheckpoint(checkpoint: Checkpoint, state: ModelState, trainer?: Trainer): void {
  try {
    restoreState(checkpoint, state, trainer);
  } catch (error) {
    throw new Error(`${checkpoint.source}: ${(error as Error).message}`);
  }
}

function restoreState(checkpoint: Checkpoint, state: ModelState, trainer?: Trainer): void {
  restoreWeights(state, checkpoint.weights);
  if (!trainer) return;
  const expected = trainer.optimizerState;
  const missing = [...expected.keys()].filter((k) => !checkpoint.moments.has(k));
  const unexpected = [...checkpoint.moments.keys()].filter((k) => !expected.has(k));
  const misShaped = [...checkpoint.moments].filter(([k, t]) => expected.has(k) && !sameShape(t.shape, parameterShape(state.model, momentParameter(k))))
    .map(([k, t]) => `${OPTIMIZER_PREFIX}${k} (model ${formatShape(parameterShape(state.model, momentParameter(k)))}, given ${formatShape(t.shape)})`);
  if (missing.length || unexpected.length || misShaped.length) {
    throw new Error(`optimizer state does not fit the trainer (was it saved with another optimizer or frozen set?): missing [${missing.map((k) => OPTIMIZER_PREFIX + k).join(', ')}]; unexpected [${unexpected.map((k) => OPTIMIZER_PREFIX + k).join(', ')}]; mis-shaped [${misShaped.join(', ')}]`);
  }
  for (const [key, tensor] of checkpoint.moments) writeBuffer(state.gpu, expected.get(key)!, tensor.data as Float32Array);
  trainer.stepCount = checkpoint.step;
  // A checkpoint saved without mixed precision leaves a mixed trainer's scale at its initial value, as a fresh GradScaler.
  if (trainer.lossScaleState && checkpoint.lossScale) trainer.setLossScale(checkpoint.lossScale);
}

export interface PartialLoad {
  /** Model tensors taken from the checkpoint. */
  loaded: string[];
  /** Model tensors with no same-named, same-shaped tensor in the checkpoint: left as initialized. */
  reinitialized: string[];
  /** Checkpoint tensors the model has no place for (or a different shape for). */
  unused: string[];
}

/** For fine-tuning with a different head: takes every tensor whose name and shape match, keeps the rest as initialized. */
export function loadMatchingWeights(state: ModelState, given: ReadonlyMap<string, SafeTensor>): PartialLoad {
  // A tied model's second name is the same table, not a tensor left unused.
  const weights = foldTiedWeights(state.model, given);
  const result: PartialLoad = { loaded: [], reinitialized: [], unused: [] };
  const specs = [...state.model.parameterSpecs(), ...state.model.stateSpecs()];
  for (const spec of specs) {
    const given = weights.get(spec.name);
    if (given && sameShape(given.shape, spec.shape)) {
      writeBuffer(state.gpu, state.buffers.get(spec.name)!, given.data as Float32Array);
      result.loaded.push(spec.name);
    } else {
      result.reinitialized.push(spec.name);
    }
  }
  result.unused = [...weights.keys()].filter((name) => !result.loaded.includes(name));
  return result;
}
