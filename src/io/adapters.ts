// LoRA adapters as a file of their own: only the lora_A / lora_B tensors (kilobytes, where the
// base is megabytes), with what it takes to put them back on the right base and nothing else.
//
//   bytes = await encodeAdapters(state)              state of a model withLora drew
//   adapters = decodeAdapters(bytes, 'names.safetensors')
//   { model, weights } = await applyAdapters(adapters, await loadModel(baseBytes))
//
// The safetensors metadata (strings; JSON where structured):
//   format "webgrad-lora/1", webgrad_version, rank, alpha, targets (the adapted layers' names),
//   base_model ({graph}: the base model, src/io/model-graph.ts), base_parameters, and base_sha256:
//   SHA-256 over the base's tensors in state_dict order (each name, its shape and its f32 bytes),
//   so adapters put on other base weights, or on another architecture, are refused by name.
// Decoding reads every field through src/io/schema.ts (types, ranges, own properties only), checks
// each tensor's name, dtype and shape against the rank and the base layer it adapts, and every
// value for NaN/Inf. Tensor names are peft's less its "base_model.model." prefix (src/model/lora.ts).
import { elementCount, formatShape } from '../graph/graph.ts';
import { Dense } from '../layers/layers.ts';
import { isLoraTensor, loraTensorNames, MAX_LORA_RANK } from '../layers/lora.ts';
import type { Model } from '../model/model.ts';
import { loraBaseModel, loraLayers, withLora } from '../model/lora.ts';
import type { ModelState } from '../runtime/runtime.ts';
import { checkFiniteTensors } from './checkpoint-schema.ts';
import { WEBGRAD_VERSION } from './checkpoint.ts';
import { checkedModelFromGraph, GRAPH_LIMITS, modelToGraph, type ModelGraph } from './model-graph.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts';
import { FieldError, integer, json, list, object, real, required, show, text, withSource, type Check } from './schema.ts';

const FORMAT = 'webgrad-lora/1';
const KNOWN_KEYS = ['format', 'webgrad_version', 'rank', 'alpha', 'targets', 'base_model', 'base_parameters', 'base_sha256'];

export interface Adapters {
  /** Where they were read from; errors about them start with this. */
  source: string;
  webgradVersion: string;
  rank: number;
  alpha: number;
  /** The names of the Dense layers of the base that carry an adapter. */
  targets: string[];
  /** The base model the adapters were trained on, rebuilt from its stored graph. */
  baseModel: Model;
  baseSha256: string;
  /** `<layer>.lora_A.weight` and `<layer>.lora_B.weight` of every target, F32. */
  tensors: Map<string, Float32Array>;
  extra: Record<string, string>;
}

const tensorSpecs = (model: Model) => [...model.parameterSpecs(), ...model.stateSpecs()];

/** SHA-256 (hex) of a model's base tensors in state_dict order: each name and shape, then its f32 bytes. Adapter tensors are left out. */
export async function baseWeightsSha256(model: Model, weights: ReadonlyMap<string, Float32Array>): Promise<string> {
  const specs = tensorSpecs(model).filter((s) => !isLoraTensor(s.name));
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const spec of specs) {
    const value = weights.get(spec.name);
    if (!value || value.length !== elementCount(spec.shape)) throw new Error(`baseWeightsSha256: weights lack ${spec.name} ${formatShape(spec.shape)}`);
    parts.push(encoder.encode(`${spec.name} ${formatShape(spec.shape)}\n`), new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) { all.set(part, offset); offset += part.length; }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The rank and alpha every adapter of the model shares; a file holds one of each. */
function sharedRankAlpha(model: Model): { rank: number; alpha: number } {
  const layers = loraLayers(model);
  if (layers.length === 0) throw new Error('encodeAdapters: the model has no adapters (draw it with withLora)');
  const { rank, alpha } = layers[0]!;
  const odd = layers.find((l) => l.rank !== rank || l.alpha !== alpha);
  if (odd) throw new Error(`encodeAdapters: layer ${odd.name} has rank ${odd.rank} and alpha ${odd.alpha}, layer ${layers[0]!.name} rank ${rank} and alpha ${alpha}; one file holds adapters of one rank and alpha`);
  return { rank, alpha };
}

/** The adapters of a LoRA model's state as a safetensors file (see the top of this file). */
export async function encodeAdapters(state: ModelState, extra: Record<string, string> = {}): Promise<Uint8Array> {
  const { model } = state;
  const { rank, alpha } = sharedRankAlpha(model);
  for (const key of Object.keys(extra)) if (KNOWN_KEYS.includes(key)) throw new Error(`encodeAdapters: extra "${key}" clashes with a metadata key webgrad writes`);
  const values = await state.read();
  const base = loraBaseModel(model);
  const tensors = new Map<string, SafeTensor>();
  for (const spec of model.parameterSpecs()) if (isLoraTensor(spec.name)) tensors.set(spec.name, { dtype: 'F32', shape: [...spec.shape], data: values.get(spec.name)! });
  const metadata: Record<string, string> = {
    ...extra,
    format: FORMAT,
    webgrad_version: WEBGRAD_VERSION,
    rank: String(rank),
    alpha: JSON.stringify(alpha),
    targets: JSON.stringify(loraLayers(model).map((l) => l.name)),
    base_model: JSON.stringify({ graph: modelToGraph(base) }),
    base_parameters: String(base.parameterCount()),
    base_sha256: await baseWeightsSha256(base, values),
  };
  const bytes = encodeSafetensors(tensors, metadata);
  // The checks readers apply, applied before handing the bytes out, so a file webgrad writes is one it reads.
  decodeAdapters(bytes, 'encodeAdapters');
  return bytes;
}

const SHA256: Check<string> = (value, field) => {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw new FieldError(field, `is ${show(value)}; must be 64 lowercase hexadecimal digits`);
  return value;
};

const BASE_MODEL = object({ graph: required((value) => value as ModelGraph) });

/** Reads and checks an adapters file (see the top of this file); every fault names `source` and the field or tensor. */
export function decodeAdapters(bytes: Uint8Array, source = 'adapters'): Adapters {
  const file = decodeSafetensors(bytes, source);
  const m = file.metadata;
  if (m.format !== FORMAT) throw new Error(`${source}: not a webgrad LoRA adapters file (metadata format is ${m.format === undefined ? 'missing' : `"${m.format}"`}, expected "${FORMAT}")`);
  const need = <T>(key: string, check: Check<T>): T => withSource(source, () => {
    if (!Object.hasOwn(m, key)) throw new FieldError(key, 'is missing');
    return check(m[key], key);
  });
  const rank = need('rank', json(integer(1, MAX_LORA_RANK)));
  const alpha = need('alpha', json(real({ above: 0, max: 1e6 })));
  const targets = need('targets', json(list(text(100), { min: 1, max: GRAPH_LIMITS.nodes })));
  const baseSha256 = need('base_sha256', SHA256);
  const { graph } = need('base_model', json(BASE_MODEL));
  const baseModel = withSource(source, () => checkedModelFromGraph(graph, 'base_model.graph'));
  const baseParameters = need('base_parameters', json(integer(0, GRAPH_LIMITS.parameters)));
  if (baseParameters !== baseModel.parameterCount()) throw new Error(`${source}: metadata base_parameters is ${baseParameters}, but base_model describes ${baseModel.parameterCount()} parameters`);
  const expected = new Map<string, number[]>();
  targets.forEach((target, i) => {
    const plan = baseModel.plan.find((p) => p.layer.name === target);
    if (!plan || !(plan.layer instanceof Dense)) throw new Error(`${source}: metadata targets[${i}] is ${show(target)}, which names no Dense layer of base_model`);
    const names = loraTensorNames(target);
    if (expected.has(names.a)) throw new Error(`${source}: metadata targets[${i}] is ${show(target)}, which an earlier entry already names`);
    expected.set(names.a, [rank, plan.input.at(-1)!]);
    expected.set(names.b, [plan.layer.units, rank]);
  });
  const missing = [...expected.keys()].filter((name) => !file.tensors.has(name));
  const unexpected = [...file.tensors.keys()].filter((name) => !expected.has(name));
  if (missing.length || unexpected.length) throw new Error(`${source}: the tensors do not fit the metadata targets: missing [${missing.join(', ')}]; unexpected [${unexpected.join(', ')}]`);
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of expected) {
    const tensor = file.tensors.get(name)!;
    if (tensor.dtype !== 'F32') throw new Error(`${source}: tensor ${name} is ${tensor.dtype}; adapters are F32`);
    if (tensor.shape.length !== 2 || tensor.shape[0] !== shape[0] || tensor.shape[1] !== shape[1]) {
      throw new Error(`${source}: tensor ${name} is ${formatShape(tensor.shape)}, but rank ${rank} and the base layer make it ${formatShape(shape)}`);
    }
    tensors.set(name, tensor.data as Float32Array);
  }
  checkFiniteTensors(source, file.tensors);
  const extra = Object.fromEntries(Object.entries(m).filter(([key]) => !KNOWN_KEYS.includes(key)));
  return { source, webgradVersion: typeof m.webgrad_version === 'string' ? m.webgrad_version : 'unknown', rank, alpha, targets, baseModel, baseSha256, tensors, extra };
}

/** The first tensor two models disagree on, in words, or undefined when their tensors agree. */
function firstTensorDifference(expected: Model, given: Model): string | undefined {
  const a = tensorSpecs(expected), b = tensorSpecs(given);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (x?.name === y?.name && formatShape(x?.shape ?? []) === formatShape(y?.shape ?? [])) continue;
    return `tensor ${i} is ${y ? `${y.name} ${formatShape(y.shape)}` : 'absent'} in the given base, ${x ? `${x.name} ${formatShape(x.shape)}` : 'absent'} in theirs`;
  }
  return undefined;
}

/**
 * Puts the adapters on a base model and its weights (a loadModel result, say): the LoRA model and
 * its weights, for new ModelState(gpu, model, weights). A base of another architecture or with other
 * weights than the adapters were trained on is refused, saying which.
 */
export async function applyAdapters(adapters: Adapters, base: { model: Model; weights: ReadonlyMap<string, Float32Array> }): Promise<{ model: Model; weights: Map<string, Float32Array> }> {
  const { source } = adapters;
  if (JSON.stringify(modelToGraph(base.model)) !== JSON.stringify(modelToGraph(adapters.baseModel))) {
    const difference = firstTensorDifference(adapters.baseModel, base.model) ?? 'their layers or options differ';
    throw new Error(`${source}: the adapters were trained on another base model (${difference})`);
  }
  const sha256 = await baseWeightsSha256(base.model, base.weights);
  if (sha256 !== adapters.baseSha256) {
    throw new Error(`${source}: the base weights are not the ones the adapters were trained on (their SHA-256 is ${sha256.slice(0, 16)}…, the adapters expect ${adapters.baseSha256.slice(0, 16)}…)`);
  }
  const model = withLora(base.model, { rank: adapters.rank, alpha: adapters.alpha, targets: adapters.targets });
  const weights = new Map(base.weights);
  for (const [name, value] of adapters.tensors) weights.set(name, value);
  return { model, weights };
}
