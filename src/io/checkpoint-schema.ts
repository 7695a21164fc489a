// The schema of a checkpoint: every metadata field webgrad writes, with its type and its range,
// checked in this one place when a checkpoint is decoded (decodeCheckpoint, which every reader goes
// through: readCheckpoint in the Node scripts, the browser worker's load), so nothing downstream
// meets a zero std, an optimizer kind it would quietly run as another, a zoo name such as
// "constructor", class names that do not match the head, or NaN weights.
//
//   checkCheckpointMetadata(source, metadata) → CheckedMetadata (typed, ranges checked)
//   checkFiniteTensors(source, tensors, prefix?)   every value of every F32 tensor finite
//   modelFromDescription(source, description)      zooModel, or modelFromGraph for a drawn model,
//                                                  with its errors naming the file
//
// Objects are read through their own properties only and unknown fields are refused, so a file
// cannot smuggle in a prototype name or a field a reader would ignore. Each message reads
// "<file>: metadata <field> <what is wrong>".
import { zooModel, ZOO_NAMES, type ZooOptions } from '../model/zoo.ts';
import type { Model } from '../model/model.ts';
import { DECAY_GROUPS, type OptimizerConfig, type Schedule } from '../optim/optim.ts';
import type { Normalization } from '../compiler/program.ts';
import type { TrainerOptions } from '../runtime/runtime.ts';
import type { SafeTensor } from './safetensors.ts';
import type { TokenizerDescription } from '../data/text.ts';
import { Embedding } from '../layers/tokens.ts';
import { boolean, byKind, FieldError, integer, isPlainObject, json, list, object, oneOf, optional, real, record, required, show, text, tuple, withSource, type Check } from './schema.ts';
import { checkedModelFromGraph, modelToGraph, type ModelGraph } from './model-graph.ts';

/** A zoo model by name and options: zooModel(zoo, options) rebuilds it. */
export interface ZooDescription {
  zoo: string;
  options: ZooOptions;
}

/** Any other model, as its graph (src/io/model-graph.ts): modelFromGraph rebuilds it. */
export interface GraphDescription {
  graph: ModelGraph;
}

export type ModelDescription = ZooDescription | GraphDescription;

/** A few words for logs: the zoo name, or the graph's size. */
export function describeModel(description: ModelDescription): string {
  return 'zoo' in description ? description.zoo : `a graph of ${description.graph.layers.length} layers`;
}

/** The Trainer options a checkpoint stores under "trainer" (seed, optimizer, schedule and normalize have their own keys). */
export type StoredTrainerOptions = Omit<TrainerOptions, 'seed' | 'optimizer' | 'schedule' | 'normalize'>;

export interface CheckedMetadata {
  webgradVersion: string;
  model: ModelDescription;
  epoch: number;
  step: number;
  seed: number;
  normalize: Normalization;
  optimizer?: OptimizerConfig;
  schedule?: Schedule;
  trainer?: StoredTrainerOptions;
  classNames?: string[];
  tokenizer?: TokenizerDescription;
  /** Mixed precision: the loss scaler's state when saved (PyTorch saves scaler.state_dict() too). */
  lossScale?: StoredLossScale;
}

export interface StoredLossScale { scale: number; goodSteps: number; skippedSteps: number }

/** Largest class count a checkpoint may describe (labels are u32; this bounds a hostile header). */
export const MAX_CLASSES = 65_536;
const U32_MAX = 2 ** 32 - 1;

const kind = <K extends string>(name: K) => required(oneOf([name]));
const learningRate = real({ above: 0, max: 10 });
const fraction = real({ min: 0, below: 1 });
const regularizer = optional(real({ min: 0, max: 10 }));
const decayGroups = optional(oneOf(DECAY_GROUPS));

const ZOO_MODEL = object({
  zoo: required(oneOf(ZOO_NAMES)),
  options: required(object({
    classes: optional(integer(2, MAX_CLASSES)),
    dropout: optional(fraction),
    // Channels, height, width: datasets are gray bytes, so one channel.
    inputShape: optional(tuple([integer(1, 64), integer(1, 1024), integer(1, 1024)])),
  })),
});

// The graph is checked as it is built (modelFromDescription), which every decode does.
const GRAPH_MODEL = object({ graph: required((value) => value as ModelGraph) });
const MODEL: Check<ModelDescription> = (value, field) => (isPlainObject(value) && Object.hasOwn(value, 'graph') ? GRAPH_MODEL : ZOO_MODEL)(value, field) as ModelDescription;

const NORMALIZE = object({ mean: required(real({ min: -1000, max: 1000 })), std: required(real({ above: 0, max: 1000 })) });

const ADAM_FIELDS = { lr: required(learningRate), beta1: optional(fraction), beta2: optional(fraction), eps: optional(real({ above: 0, max: 1 })), weightDecay: regularizer, l1: regularizer, decay: decayGroups };
const OPTIMIZER = byKind<OptimizerConfig>({
  sgd: object({ kind: kind('sgd'), lr: required(learningRate), momentum: optional(fraction), nesterov: optional(boolean), weightDecay: regularizer, l1: regularizer, decay: decayGroups }),
  adam: object({ kind: kind('adam'), ...ADAM_FIELDS }),
  adamw: object({ kind: kind('adamw'), ...ADAM_FIELDS }),
});

const GAMMA = required(real({ above: 0, max: 10 }));
const SCHEDULE = byKind<Schedule>({
  constant: object({ kind: kind('constant') }),
  step: object({ kind: kind('step'), stepSize: required(integer(1, 1_000_000)), gamma: GAMMA }),
  exponential: object({ kind: kind('exponential'), gamma: GAMMA }),
  cosine: object({ kind: kind('cosine'), minLr: optional(real({ min: 0, max: 10 })) }),
  onecycle: object({ kind: kind('onecycle'), maxLr: optional(learningRate), pctStart: optional(real({ above: 0, below: 1 })) }),
  'warmup-cosine': object({ kind: kind('warmup-cosine'), warmupSteps: required(integer(0, 1_000_000_000)), minLr: optional(real({ min: 0, max: 10 })) }),
});

const SCALE = required(real({ above: 0, max: 100 }));
const F32_MAX = 3.4028234663852886e38;
const LOSS_SCALE_RULE = object({
  initScale: optional(real({ above: 0, max: F32_MAX })), growthFactor: optional(real({ above: 1, max: 1e6 })),
  backoffFactor: optional(real({ above: 0, below: 1 })), growthInterval: optional(integer(1, U32_MAX)),
});
const MIXED_PRECISION: Check<unknown> = (value, field) => (typeof value === 'boolean' ? value : LOSS_SCALE_RULE(value, field));
const LOSS_SCALE = object({ scale: required(real({ above: 0, max: F32_MAX })), goodSteps: required(integer(0, U32_MAX)), skippedSteps: required(integer(0, U32_MAX)) });
const TRAINER = object({
  batchSize: required(integer(1, 65_536)),
  stepsPerEpoch: required(integer(1, U32_MAX)),
  totalSteps: required(integer(0, U32_MAX)),
  metricsEvery: optional(integer(1, U32_MAX)),
  augment: optional(object({
    maxRotationDegrees: required(real({ min: 0, max: 180 })), maxTranslatePixels: required(real({ min: 0, max: 1024 })), minScale: SCALE, maxScale: SCALE,
  })),
  labelSmoothing: optional(fraction),
  clipNorm: optional(real({ above: 0 })),
  frozen: optional(list(text(1000), { min: 0, max: 100_000 })),
  lrMultipliers: optional(record(real({ min: 0, max: 1000 }))),
  keepLogits: optional(boolean),
  mixedPrecision: optional(MIXED_PRECISION),
});

const CLASS_NAMES = list(text(1000), { min: 2, max: MAX_CLASSES });

/** Largest character vocabulary a checkpoint may hold (a hostile header cannot make a reader build a huge table). */
export const MAX_CHAR_VOCAB = 65_536;
const BYTE_VOCAB = 256;

/** One Unicode scalar value: a lone surrogate is no character a UTF-8 text can hold. */
const isLoneSurrogate = (c: string): boolean => c.codePointAt(0)! >= 0xd800 && c.codePointAt(0)! <= 0xdfff;
const character: Check<string> = (value, field) => {
  if (typeof value !== 'string' || [...value].length !== 1 || isLoneSurrogate(value)) throw new FieldError(field, `is ${show(value)}; must be one character (a single Unicode code point)`);
  return value;
};

const distinctCharacters: Check<string[]> = (value, field) => {
  const chars = list(character, { min: 1, max: MAX_CHAR_VOCAB })(value, field);
  const first = new Map<string, number>();
  chars.forEach((c, i) => {
    const earlier = first.get(c);
    if (earlier !== undefined) throw new FieldError(`${field}[${i}]`, `is ${show(c)}, the same character as ${field}[${earlier}]; each character must appear once`);
    first.set(c, i);
  });
  return chars;
};

const TOKENIZER = byKind<TokenizerDescription>({
  char: object({ kind: kind('char'), chars: required(distinctCharacters) }),
  byte: object({ kind: kind('byte') }),
});

/** A tokenizer only fits a model whose input ids feed an Embedding of exactly its vocabulary. */
function checkTokenizerFits(source: string, tokenizer: TokenizerDescription, model: Model): void {
  const vocab = tokenizer.kind === 'char' ? tokenizer.chars.length : BYTE_VOCAB;
  const ids = model.inputs.length === 1 ? model.inputs[0]! : undefined;
  const embedding = model.nodes.find((node) => node.layer instanceof Embedding && ids !== undefined && node.inputs.includes(ids))?.layer as Embedding | undefined;
  if (!embedding) throw new Error(`${source}: metadata tokenizer is given but the model does not take token ids (no Embedding reads its input)`);
  if (embedding.vocab !== vocab) {
    throw new Error(`${source}: metadata tokenizer has a vocabulary of ${vocab} tokens but the model's embedding ${embedding.name} has ${embedding.vocab}`);
  }
}

/** A decimal integer stored as a metadata string. */
function decimal(min: number, max: number): Check<number> {
  return (value, field) => {
    const digits = typeof value === 'string' && /^-?\d+$/.test(value);
    return integer(min, max)(digits ? Number(value) : value, field);
  };
}

/** The described model, from the zoo or from its graph; a description that does not build names the file and the field. */
export function modelFromDescription(source: string, description: ModelDescription): Model {
  if ('graph' in description) return withSource(source, () => checkedModelFromGraph(description.graph, 'model.graph'));
  try {
    return zooModel(description.zoo, description.options);
  } catch (error) {
    throw new Error(`${source}: metadata model ${JSON.stringify(description)} does not build (${(error as Error).message})`);
  }
}

/** Every field webgrad writes, typed and range-checked; class names checked against the model's head. */
export function checkCheckpointMetadata(source: string, metadata: Readonly<Record<string, string>>): CheckedMetadata {
  const field = <T>(key: string, check: Check<T>): T | undefined => (Object.hasOwn(metadata, key) ? withSource(source, () => check(metadata[key], key)) : undefined);
  const need = <T>(key: string, check: Check<T>): T => field(key, check) ?? withSource(source, () => { throw new FieldError(key, 'is missing'); });
  const stored = need('model', json(MODEL));
  const built = modelFromDescription(source, stored);
  // A graph comes back as the model it built describes itself, so nothing unchecked passes on.
  const model: ModelDescription = 'graph' in stored ? { graph: modelToGraph(built) } : stored;
  const classNames = field('class_names', json(CLASS_NAMES));
  const classes = built.outputs.length === 1 ? built.outputShape[0]! : undefined;
  if (classNames && classNames.length !== classes) {
    throw new Error(`${source}: metadata class_names has ${classNames.length} names but ${classes === undefined ? `the model has ${built.outputs.length} outputs` : `the model's head has ${classes} classes`}`);
  }
  const tokenizer = field('tokenizer', json(TOKENIZER));
  if (tokenizer) checkTokenizerFits(source, tokenizer, built);
  const optimizer = field('optimizer', json(OPTIMIZER));
  const schedule = field('schedule', json(SCHEDULE));
  const trainer = field('trainer', json(TRAINER)) as StoredTrainerOptions | undefined;
  const lossScale = field('loss_scale', json(LOSS_SCALE));
  return {
    webgradVersion: field('webgrad_version', text(100)) ?? 'unknown',
    model,
    epoch: need('epoch', decimal(0, 1_000_000)),
    step: need('step', decimal(0, U32_MAX)),
    seed: field('seed', decimal(0, U32_MAX)) ?? 0,
    normalize: need('normalize', json(NORMALIZE)),
    ...(optimizer ? { optimizer } : {}),
    ...(schedule ? { schedule } : {}),
    ...(trainer ? { trainer } : {}),
    ...(classNames ? { classNames } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    ...(lossScale ? { lossScale } : {}),
  };
}

/** Refuses a tensor holding NaN or ±Infinity, naming it (with `prefix`, as stored) and the first bad index. */
export function checkFiniteTensors(source: string, tensors: ReadonlyMap<string, SafeTensor>, prefix = ''): void {
  for (const [name, tensor] of tensors) {
    const data = tensor.data as Float32Array;
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${source}: tensor ${prefix}${name} holds ${data[bad]} at index ${bad} of ${data.length}; a checkpoint's values must be finite`);
  }
}
