// LoRA on a drawn model: `withLora` redraws it with a LoraDense in place of each targeted Dense
// (same names, so the base weights load as they are), `frozenBase` lists what training must leave
// alone, `loraInitialValues` pairs the base weights with fresh adapters, and `mergeLora` folds
// W + (alpha/rank)·B·A back into a model of the base's shape for inference.
//
// Tensor names against peft's (PeftModel.state_dict() of a LoraConfig adapter named "default"):
//   <layer>.weight / .bias          ↔ base_model.model.<layer>.base_layer.weight / .bias
//   <layer>.lora_A.weight [r, in]   ↔ base_model.model.<layer>.lora_A.default.weight
//   <layer>.lora_B.weight [out, r]  ↔ base_model.model.<layer>.lora_B.default.weight
// and peft's saved adapter file (adapter_model.safetensors) names them
// base_model.model.<layer>.lora_A.weight, which is ours behind the prefix.
import { checkOptions, input, type Layer, type SymbolicTensor } from '../layers/layer.ts';
import { Dense } from '../layers/layers.ts';
import { isLoraTensor, LoraDense, loraTensorNames, MAX_LORA_RANK } from '../layers/lora.ts';
import { Model } from './model.ts';

/** The projections of a gptModel block that take adapters unless told otherwise (peft's usual set for GPT-2, and the MLP's). */
export const LORA_TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

export interface LoraOptions {
  rank: number;
  /** The adapter's product is scaled by alpha/rank. */
  alpha: number;
  /** Dropout rate on each adapter's input while training (peft's lora_dropout); default 0. */
  dropout?: number;
  /** Layer names, or their endings after a '.', of the Dense layers to adapt. */
  targets?: readonly string[];
}

/** The model redrawn node for node, each layer replaced by `swap(layer)` (the same layer where it returns it). */
function redraw(model: Model, swap: (layer: Layer) => Layer): Model {
  const tensors = new Map<SymbolicTensor, SymbolicTensor>();
  const inputs = model.inputs.map((t) => {
    const copy = input(t.shape, { name: t.name, dtype: t.dtype });
    tensors.set(t, copy);
    return copy;
  });
  for (const node of model.nodes) tensors.set(node.output, swap(node.layer).apply(...node.inputs.map((t) => tensors.get(t)!)));
  return new Model({ inputs, outputs: model.outputs.map((t) => tensors.get(t)!) });
}

const targetsLayer = (target: string, name: string): boolean => name === target || name.endsWith(`.${target}`);

/** `model` with a rank-`rank` adapter on every Dense its targets name; the other layers are shared with it. */
export function withLora(model: Model, o: LoraOptions): Model {
  checkOptions('withLora', o, ['rank', 'alpha', 'dropout', 'targets']);
  if (!Number.isInteger(o.rank) || o.rank < 1 || o.rank > MAX_LORA_RANK) throw new Error(`withLora: rank must be a whole number in [1, ${MAX_LORA_RANK}], got ${JSON.stringify(o.rank)}`);
  if (typeof o.alpha !== 'number' || !Number.isFinite(o.alpha) || o.alpha <= 0) throw new Error(`withLora: alpha must be a positive finite number, got ${JSON.stringify(o.alpha)}`);
  const targets = o.targets ?? LORA_TARGETS;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new Error(`withLora: targets must be a non-empty list of layer names, got ${JSON.stringify(o.targets)}`);
  }
  const adapted = model.layers.find((layer) => layer instanceof LoraDense);
  if (adapted) throw new Error(`withLora: the model already has adapters (layer ${adapted.name}); merge them first (mergeLora)`);
  const replaced = new Map<Layer, LoraDense>();
  for (const target of targets) {
    const matches = model.layers.filter((layer) => targetsLayer(target, layer.name));
    const dense = model.layers.filter((layer) => layer instanceof Dense).map((layer) => layer.name);
    if (matches.length === 0) throw new Error(`withLora: target "${target}" names no layer of the model; its Dense layers are ${dense.join(', ') || 'none'}`);
    for (const layer of matches) {
      if (!(layer instanceof Dense)) throw new Error(`withLora: target "${target}" names layer ${layer.name} (${layer.describe()}), which is not a Dense`);
      replaced.set(layer, LoraDense.around(layer, o.rank, o.alpha, o.dropout));
    }
  }
  return redraw(model, (layer) => replaced.get(layer) ?? layer);
}

/** The adapters of a model withLora made, by layer name. */
export function loraLayers(model: Model): LoraDense[] {
  return model.layers.filter((layer): layer is LoraDense => layer instanceof LoraDense);
}

/** Every parameter but the adapters: TrainerOptions.frozen for training the adapters alone. */
export function frozenBase(model: Model): string[] {
  if (loraLayers(model).length === 0) throw new Error('frozenBase: the model has no adapters (draw it with withLora)');
  return model.parameterSpecs().map((s) => s.name).filter((name) => !isLoraTensor(name));
}

/** The base weights (every tensor the base model had) with fresh adapters drawn from `seed`: A Kaiming-uniform, B zero. */
export function loraInitialValues(model: Model, base: ReadonlyMap<string, Float32Array>, seed: number): Map<string, Float32Array> {
  const values = model.initialValues(seed);
  const missing = [...values.keys()].filter((name) => !isLoraTensor(name) && !base.has(name));
  if (missing.length) throw new Error(`loraInitialValues: the base weights lack ${missing.join(', ')}`);
  for (const name of values.keys()) if (!isLoraTensor(name)) values.set(name, base.get(name)!);
  return values;
}

/** The base model (plain Dense layers again) and its weights with every adapter folded in: W + (alpha/rank)·B·A, summed in float64. */
export function mergeLora(model: Model, weights: ReadonlyMap<string, Float32Array>): { model: Model; weights: Map<string, Float32Array> } {
  const adapters = loraLayers(model);
  if (adapters.length === 0) throw new Error('mergeLora: the model has no adapters to merge');
  const merged = new Map([...weights].filter(([name]) => !isLoraTensor(name)));
  for (const layer of adapters) {
    const names = loraTensorNames(layer.name);
    const [w, a, b] = [`${layer.name}.weight`, names.a, names.b].map((name) => {
      const value = weights.get(name);
      if (!value) throw new Error(`mergeLora: no tensor ${name} among the weights`);
      return value;
    }) as [Float32Array, Float32Array, Float32Array];
    const { units, rank, scale } = layer;
    const inFeatures = w.length / units;
    const out = new Float32Array(w.length);
    for (let o = 0; o < units; o++) for (let i = 0; i < inFeatures; i++) {
      let sum = 0;
      for (let r = 0; r < rank; r++) sum += b[o * rank + r]! * a[r * inFeatures + i]!;
      out[o * inFeatures + i] = w[o * inFeatures + i]! + scale * sum;
    }
    merged.set(`${layer.name}.weight`, out);
  }
  return { model: loraBaseModel(model), weights: merged };
}

/** The base model of a model withLora made: the same layers, plain Dense where the adapters were. */
export function loraBaseModel(model: Model): Model {
  return redraw(model, (layer) => (layer instanceof LoraDense ? layer.toDense() : layer));
}
