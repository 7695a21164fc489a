// LoRA: the adapted Dense against its float64 reference and finite differences (odd sizes, rank 1,
// sequences, no bias); withLora on a gpt (names, refusals, fresh adapters giving exactly the base
// logits); adapter-only training like the CPU twin with the base buffers unchanged bit for bit and
// no optimizer moments for them; merged weights giving the adapted logits; a LoRA model saved whole.
import { describe, expect, it } from 'vitest';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { modelGradients } from './helpers/graph.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray, randomStarts, randomTokens } from './helpers/random.ts';
import { gatherTokensReference } from './reference/gather.ts';
import { loraBackwardRef, loraForwardRef, type LoraShape, type LoraWeights } from './reference/lora.ts';
import { cpuTrainer } from './reference/model.ts';
import { dropoutRef } from './reference/dropout.ts';
import { input } from '../src/layers/layer.ts';
import { Dense } from '../src/layers/layers.ts';
import { LoraDense } from '../src/layers/lora.ts';
import { Model } from '../src/model/model.ts';
import { gptModel } from '../src/model/gpt.ts';
import { frozenBase, loraInitialValues, mergeLora, withLora } from '../src/model/lora.ts';
import { Evaluator, ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, uploadTokens } from '../src/runtime/dataset.ts';
import { encodeCheckpoint, loadModel } from '../src/io/checkpoint.ts';
import { applyAdapters, baseWeightsSha256, decodeAdapters, encodeAdapters } from '../src/io/adapters.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/io/safetensors.ts';

const TINY = { vocab: 11, context: 8, layers: 2, heads: 2, width: 16 };
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Every adapter's B drawn at random, so the adapter's path carries signal (a fresh one is zero). */
function withRandomB(values: Map<string, Float32Array>, seed: number): Map<string, Float32Array> {
  for (const [name, v] of values) if (name.endsWith('.lora_B.weight')) values.set(name, randomArray(v.length, seed + name.length, -0.5, 0.5));
  return values;
}

describe('the LoRA reference', () => {
  it.each([
    [{ rows: 3, inFeatures: 5, units: 4, rank: 2, scale: 1.5 }, true],
    [{ rows: 1, inFeatures: 1, units: 1, rank: 1, scale: 0.5 }, false],
    [{ rows: 7, inFeatures: 9, units: 6, rank: 3, scale: 2 }, true],
  ] as const)('its backward matches finite differences of its forward: %j, bias %s', (s: LoraShape, withBias) => {
    const x = Float64Array.from(randomArray(s.rows * s.inFeatures, 1));
    const p: LoraWeights = {
      w: Float64Array.from(randomArray(s.units * s.inFeatures, 2)), a: Float64Array.from(randomArray(s.rank * s.inFeatures, 3)),
      b: Float64Array.from(randomArray(s.units * s.rank, 4)), ...(withBias ? { bias: Float64Array.from(randomArray(s.units, 5)) } : {}),
    };
    const dy = randomArray(s.rows * s.units, 6);
    const { h } = loraForwardRef(s, x, p);
    const g = loraBackwardRef(s, x, p, h, dy);
    const forward = (change: Partial<LoraWeights>, at: ArrayLike<number> = x) => loraForwardRef(s, at, { ...p, ...change }).y;
    expect(maxRelativeError(g.dx.map((v, i) => v + g.dxa[i]!), numericGradient((v) => forward({}, v), x, dy), 1e-3), 'dx').toBeLessThan(1e-6);
    expect(maxRelativeError(g.dw, numericGradient((v) => forward({ w: v }), p.w, dy), 1e-3), 'dW').toBeLessThan(1e-6);
    expect(maxRelativeError(g.da, numericGradient((v) => forward({ a: v }), p.a, dy), 1e-3), 'dA').toBeLessThan(1e-6);
    expect(maxRelativeError(g.db, numericGradient((v) => forward({ b: v }), p.b, dy), 1e-3), 'dB').toBeLessThan(1e-6);
    if (p.bias) expect(maxRelativeError(g.dbias, numericGradient((v) => forward({ bias: v }), p.bias, dy), 1e-3), 'dbias').toBeLessThan(1e-6);
  });
});

describe('LoraDense on the GPU', () => {
  it.each([
    [[5], 3, 2, true, 0], [[1], 1, 1, false, 0], [[7, 13], 9, 3, true, 0], [[17, 11], 20, 8, false, 0], [[6, 10], 7, 2, true, 0.3],
  ] as const)('input %j → %i units, rank %i, bias %s, dropout %d: output and every gradient against the reference and finite differences', async (shape, units, rank, useBias, dropout) => {
    const gpu = await testGpu();
    const batch = 2;
    const x = input([...shape]);
    const layer = new LoraDense({ units, rank, alpha: 2 * rank + 1, useBias, dropout, name: 'proj' });
    const model = new Model({ inputs: x, outputs: layer.apply(x) });
    const params = withRandomB(model.initialValues(3), 7);
    if (useBias) params.set('proj.bias', randomArray(units, 8));
    const rows = batch * count(shape.slice(0, -1));
    const s: LoraShape = { rows, inFeatures: shape.at(-1)!, units, rank, scale: layer.scale };
    const xs = randomArray(rows * s.inFeatures, 9);
    const dy = randomArray(rows * units, 10);
    const got = await modelGradients(gpu, model, batch, xs, dy, params);
    const p64 = (name: string) => Float64Array.from(params.get(`proj.${name}`)!);
    const weights = { w: p64('weight'), a: p64('lora_A.weight'), b: p64('lora_B.weight'), ...(useBias ? { bias: p64('bias') } : {}) };
    const x64 = Float64Array.from(xs);
    // modelGradients trains at seed 0, step 0; the model gave the layer dropout stream 1.
    const drop = (v: ArrayLike<number>) => (dropout > 0 ? dropoutRef(v, dropout, 0, 0, layer.stream) : v);
    const xa = drop(x64);
    if (dropout > 0) expect(Array.from(xa).filter((v) => v === 0).length, 'dropped inputs').toBeGreaterThan(0);
    const { y, h } = loraForwardRef(s, x64, weights, xa);
    expect(maxRelativeError(got.y, y), 'forward').toBeLessThan(2e-5);
    const ref = loraBackwardRef(s, x64, weights, h, dy, xa);
    const numeric = (name: keyof typeof weights) => numericGradient((v) => loraForwardRef(s, x64, { ...weights, [name]: v }, xa).y, weights[name]!, dy);
    expect(maxRelativeError(got.dx, numericGradient((v) => loraForwardRef(s, v, weights, drop(v)).y, x64, dy), 1e-2), 'dx').toBeLessThan(2e-4);
    expect(maxRelativeError(got.grads.get('proj.weight')!, numeric('w'), 1e-2), 'dW').toBeLessThan(2e-4);
    expect(maxRelativeError(got.grads.get('proj.lora_A.weight')!, numeric('a'), 1e-2), 'dA').toBeLessThan(2e-4);
    expect(maxRelativeError(got.grads.get('proj.lora_B.weight')!, numeric('b'), 1e-2), 'dB').toBeLessThan(2e-4);
    expect(maxRelativeError(got.grads.get('proj.lora_B.weight')!, ref.db, 1e-2), 'dB against the reference').toBeLessThan(2e-4);
    if (useBias) expect(maxRelativeError(got.grads.get('proj.bias')!, ref.dbias, 1e-2), 'dbias').toBeLessThan(2e-4);
  });

  it('refuses bad options by name', () => {
    expect(() => new LoraDense({ units: 4, rank: 0, alpha: 1 })).toThrow('LoraDense: rank must be a whole number in [1, 4096], got 0');
    expect(() => new LoraDense({ units: 4, rank: 2, alpha: Number.NaN })).toThrow('LoraDense: alpha must be a positive finite number, got null');
    expect(() => new LoraDense({ units: 4, rank: 2, alpha: 1, dropout: 1 })).toThrow('LoraDense: dropout must be in [0, 1), got 1');
    expect(() => new LoraDense({ units: 4, rank: 2, alpha: 1, lora_dropout: 0.1 } as never)).toThrow('LoraDense: unknown option lora_dropout');
  });
});

describe('withLora on a gpt', () => {
  it('adapts the four projections of every block under peft-style names and freezes everything else', () => {
    const model = withLora(gptModel(TINY), { rank: 4, alpha: 8 });
    const names = model.parameterSpecs().map((s) => s.name);
    const base = gptModel(TINY).parameterSpecs().map((s) => s.name);
    const adapters = names.filter((n) => !base.includes(n));
    expect(adapters).toHaveLength(2 * 4 * 2);
    expect(model.parameterSpecs().filter((s) => s.name.startsWith('transformer.h.0.attn.c_attn.'))).toEqual([
      { name: 'transformer.h.0.attn.c_attn.weight', shape: [48, 16] }, { name: 'transformer.h.0.attn.c_attn.bias', shape: [48] },
      { name: 'transformer.h.0.attn.c_attn.lora_A.weight', shape: [4, 16] }, { name: 'transformer.h.0.attn.c_attn.lora_B.weight', shape: [48, 4] },
    ]);
    expect(model.parameterSpecs().find((s) => s.name === 'transformer.h.1.mlp.c_proj.lora_A.weight')!.shape).toEqual([4, 64]);
    expect(frozenBase(model)).toEqual(base);
    const attentionOnly = withLora(gptModel(TINY), { rank: 2, alpha: 2, targets: ['attn.c_attn'] });
    expect(attentionOnly.parameterCount() - gptModel(TINY).parameterCount()).toBe(2 * (2 * 16 + 48 * 2));
  });

  it('draws A as peft does (uniform within ±1/√in) and B at zero', () => {
    const model = withLora(gptModel(TINY), { rank: 4, alpha: 8 });
    const values = loraInitialValues(model, gptModel(TINY).initialValues(1), 2);
    const a = values.get('transformer.h.0.mlp.c_proj.lora_A.weight')!;
    const limit = 1 / Math.sqrt(64);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.9 * limit);
    expect(values.get('transformer.h.0.mlp.c_proj.lora_B.weight')!.every((v) => v === 0)).toBe(true);
  });

  it('refuses bad options, targets that name nothing or no Dense, and a model already adapted', () => {
    const gpt = gptModel(TINY);
    expect(() => withLora(gpt, { rank: 0, alpha: 1 })).toThrow('withLora: rank must be a whole number in [1, 4096], got 0');
    expect(() => withLora(gpt, { rank: 2, alpha: -1 })).toThrow('withLora: alpha must be a positive finite number, got -1');
    expect(() => withLora(gpt, { rank: 2, alpha: 1, targets: ['attn.q_proj'] })).toThrow('withLora: target "attn.q_proj" names no layer of the model; its Dense layers are transformer.h.0.attn.c_attn,');
    expect(() => withLora(gpt, { rank: 2, alpha: 1, targets: ['ln_1'] })).toThrow('withLora: target "ln_1" names layer transformer.h.0.ln_1 (LayerNorm), which is not a Dense');
    expect(() => withLora(withLora(gpt, { rank: 2, alpha: 1 }), { rank: 2, alpha: 1 })).toThrow('withLora: the model already has adapters (layer transformer.h.0.attn.c_attn); merge them first (mergeLora)');
    const x = input([4]);
    const relu = new Model({ inputs: x, outputs: new Dense({ units: 3, activation: 'relu', name: 'fc' }).apply(x) });
    expect(() => withLora(relu, { rank: 1, alpha: 1, targets: ['fc'] })).toThrow('LoRA: layer fc (Dense(3, relu)) has a relu activation; adapters go on linear projections only');
    expect(() => frozenBase(gpt)).toThrow('frozenBase: the model has no adapters');
  });
});

describe('training and merging adapters', () => {
  it('fresh adapters give exactly the base logits; adapter-only AdamW steps match the CPU twin, one submit each, and leave every base buffer bit for bit', async () => {
    const gpu = await testGpu();
    const base = gptModel(TINY);
    const baseValues = base.initialValues(5);
    // Dropout on the adapters' inputs while training; evaluation runs without it.
    const model = withLora(base, { rank: 3, alpha: 6, dropout: 0.2 });
    const initial = loraInitialValues(model, baseValues, 9);
    const stream = randomTokens(200, TINY.vocab, 3);
    const data = uploadTokens(gpu, stream, { vocab: TINY.vocab, context: TINY.context, name: 'synthetic' });
    const starts = Uint32Array.from([0, 17, 60, 191]);

    const baseState = new ModelState(gpu, base, baseValues);
    const state = new ModelState(gpu, model, initial);
    const baseEvaluator = new Evaluator(gpu, base, baseState, data, 4);
    const evaluator = new Evaluator(gpu, model, state, data, 4);
    const baseLogits = await baseEvaluator.logits(starts);
    expect(Buffer.from((await evaluator.logits(starts)).buffer).equals(Buffer.from(baseLogits.buffer))).toBe(true);

    const frozen = frozenBase(model);
    const optimizer = { kind: 'adamw' as const, lr: 1e-2, weightDecay: 0.01, eps: 1e-3 };
    const optimizerState = new Map<string, GPUBuffer>();
    const trainer = new Trainer(gpu, model, state, data, optimizerState, { batchSize: 4, seed: 1, optimizer, frozen, stepsPerEpoch: 3, totalSteps: 3 });
    const cpu = cpuTrainer(model, initial, optimizer, 1, frozen);
    const counts = await countDeviceWork(gpu, async () => {
      for (let s = 0; s < 3; s++) {
        const batch = randomStarts(4, 200 - TINY.context - 1, 10 + s);
        await trainer.step(batch);
        const { x, y } = gatherTokensReference(stream, batch, TINY.context);
        cpu.step(Float64Array.from(x), y);
      }
    });
    expect(counts).toEqual({ submits: 3, created: 0 });
    const values = await state.read();
    for (const [name, expected] of cpu.params) expect(maxRelativeError(values.get(name)!, expected, 1e-2), name).toBeLessThanOrEqual(1e-4);
    for (const name of frozen) expect(Buffer.from(values.get(name)!.buffer).equals(Buffer.from(baseValues.get(name)!.buffer)), `${name} unchanged`).toBe(true);
    const bUp = values.get('transformer.h.1.mlp.c_fc.lora_B.weight')!;
    expect(bUp.some((v) => v !== 0)).toBe(true);
    expect([...optimizerState.keys()].every((key) => /\.lora_[AB]\.weight\.exp_avg(_sq)?$/.test(key))).toBe(true);
    expect(optimizerState.size).toBe(2 * 2 * 4 * 2);

    // Merged into plain Dense weights, the base-shaped model gives the adapted logits.
    const adaptedLogits = await evaluator.logits(starts);
    const merged = mergeLora(model, values);
    expect(merged.model.parameterSpecs()).toEqual(base.parameterSpecs());
    const mergedState = new ModelState(gpu, merged.model, merged.weights);
    const mergedLogits = await new Evaluator(gpu, merged.model, mergedState, data, 4).logits(starts);
    expect(maxRelativeError(mergedLogits, adaptedLogits, 1e-2)).toBeLessThan(1e-4);
    expect(maxRelativeError(adaptedLogits, baseLogits, 1e-2)).toBeGreaterThan(1e-3);

    // Saved whole, the adapted model comes back through the model graph with its adapters.
    const bytes = await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 } });
    const loaded = await loadModel(bytes, 'lora.safetensors');
    expect(loaded.model.parameterSpecs()).toEqual(model.parameterSpecs());
    expect(loaded.model.layers.find((l) => l.name === 'transformer.h.0.attn.c_proj')).toBeInstanceOf(LoraDense);
    expect(Buffer.from(loaded.weights.get('transformer.h.1.mlp.c_fc.lora_B.weight')!.buffer).equals(Buffer.from(bUp.buffer))).toBe(true);

    trainer.destroy(); baseEvaluator.destroy(); evaluator.destroy();
    state.destroy(); baseState.destroy(); mergedState.destroy(); destroyDataset(gpu, data);
  });
});

describe('the adapters file', () => {
  /** A tiny gpt, its LoRA model with random adapters, and both on the GPU. */
  async function adapted(rank = 2) {
    const gpu = await testGpu();
    const base = gptModel({ ...TINY, layers: 1 });
    const baseWeights = base.initialValues(4);
    const model = withLora(base, { rank, alpha: 4, targets: ['attn.c_attn', 'mlp.c_proj'] });
    const weights = withRandomB(loraInitialValues(model, baseWeights, 5), 6);
    return { gpu, base, baseWeights, model, weights, state: new ModelState(gpu, model, weights) };
  }

  /** The same file with its metadata changed by `edit`. */
  function edited(bytes: Uint8Array, edit: (m: Record<string, string>, tensors: Map<string, SafeTensor>) => void): Uint8Array {
    const file = decodeSafetensors(bytes);
    edit(file.metadata, file.tensors);
    return encodeSafetensors(file.tensors, file.metadata);
  }

  it('holds only the adapters, kilobytes, and puts them back on the same base exactly', async () => {
    const { base, baseWeights, model, weights, state } = await adapted();
    const bytes = await encodeAdapters(state, { dataset: 'first-names' });
    const file = decodeSafetensors(bytes);
    expect([...file.tensors.keys()].sort()).toEqual([
      'transformer.h.0.attn.c_attn.lora_A.weight', 'transformer.h.0.attn.c_attn.lora_B.weight',
      'transformer.h.0.mlp.c_proj.lora_A.weight', 'transformer.h.0.mlp.c_proj.lora_B.weight',
    ]);
    expect(bytes.length).toBeLessThan(16_000);
    const adapters = decodeAdapters(bytes, 'names.safetensors');
    expect({ rank: adapters.rank, alpha: adapters.alpha, targets: adapters.targets, extra: adapters.extra })
      .toEqual({ rank: 2, alpha: 4, targets: ['transformer.h.0.attn.c_attn', 'transformer.h.0.mlp.c_proj'], extra: { dataset: 'first-names' } });
    expect(adapters.baseSha256).toBe(await baseWeightsSha256(base, baseWeights));
    const applied = await applyAdapters(adapters, { model: base, weights: baseWeights });
    expect(applied.model.parameterSpecs()).toEqual(model.parameterSpecs());
    for (const [name, value] of weights) expect(Buffer.from(applied.weights.get(name)!.buffer).equals(Buffer.from(value.buffer)), name).toBe(true);
    state.destroy();
  });

  it('refuses another base model, other base weights, tensors of another rank, and hostile metadata, by name', async () => {
    const { base, baseWeights, state } = await adapted();
    const bytes = await encodeAdapters(state);
    const adapters = decodeAdapters(bytes, 'names.safetensors');
    const wider = gptModel({ ...TINY, layers: 1, width: 24 });
    await expect(applyAdapters(adapters, { model: wider, weights: wider.initialValues(1) })).rejects.toThrow('names.safetensors: the adapters were trained on another base model (tensor 0 is transformer.wte.weight [11, 24] in the given base, transformer.wte.weight [11, 16] in theirs)');
    const other = new Map(baseWeights);
    const nudged = Float32Array.from(other.get('transformer.ln_f.bias')!);
    nudged[3]! += 1e-6;
    other.set('transformer.ln_f.bias', nudged);
    await expect(applyAdapters(adapters, { model: base, weights: other })).rejects.toThrow(/^names\.safetensors: the base weights are not the ones the adapters were trained on \(their SHA-256 is [0-9a-f]{16}…, the adapters expect [0-9a-f]{16}…\)$/);

    const bad = (edit: Parameters<typeof edited>[1]) => () => decodeAdapters(edited(bytes, edit), 'bad.safetensors');
    expect(bad((m) => { m.rank = '4'; })).toThrow('bad.safetensors: tensor transformer.h.0.attn.c_attn.lora_A.weight is [2, 16], but rank 4 and the base layer make it [4, 16]');
    expect(bad((m) => { m.rank = '0'; })).toThrow('bad.safetensors: metadata rank is 0; must be a whole number in [1, 4096]');
    expect(bad((m) => { m.rank = '2.5'; })).toThrow('bad.safetensors: metadata rank is 2.5; must be a whole number in [1, 4096]');
    expect(bad((m) => { m.alpha = 'NaN'; })).toThrow('bad.safetensors: metadata alpha is not valid JSON');
    expect(bad((m) => { m.alpha = '-3'; })).toThrow('bad.safetensors: metadata alpha is -3; must be a finite number > 0 and ≤ 1000000');
    expect(bad((m) => { m.targets = '["__proto__"]'; })).toThrow('bad.safetensors: metadata targets[0] is "__proto__", which names no Dense layer of base_model');
    expect(bad((m) => { m.targets = '["transformer.h.0.ln_1"]'; })).toThrow('bad.safetensors: metadata targets[0] is "transformer.h.0.ln_1", which names no Dense layer of base_model');
    expect(bad((m) => { m.targets = '{"length": 1}'; })).toThrow('bad.safetensors: metadata targets is an object; must be a list of 1 to 1024 entries');
    expect(bad((m) => { m.targets = '["transformer.h.0.attn.c_attn"]'; })).toThrow('bad.safetensors: the tensors do not fit the metadata targets: missing []; unexpected [transformer.h.0.mlp.c_proj.lora_A.weight, transformer.h.0.mlp.c_proj.lora_B.weight]');
    expect(bad((m) => { m.base_sha256 = 'x'.repeat(64); })).toThrow('bad.safetensors: metadata base_sha256 is "xxxx');
    expect(bad((m) => { delete m.base_model; })).toThrow('bad.safetensors: metadata base_model is missing');
    expect(bad((m) => { m.base_model = JSON.stringify({ graph: { inputs: [], layers: [], nodes: [], outputs: [] } }); })).toThrow('bad.safetensors: metadata base_model.graph.inputs is a list of 0; must be a list of 1 to 16 entries');
    expect(bad((m) => { m.base_model = JSON.stringify({ graph: {}, constructor: 1 }); })).toThrow('bad.safetensors: metadata base_model has unknown field "constructor"');
    expect(bad((m) => { m.base_parameters = '7'; })).toThrow('bad.safetensors: metadata base_parameters is 7, but base_model describes');
    expect(bad((m) => { m.format = 'webgrad-checkpoint/1'; })).toThrow('bad.safetensors: not a webgrad LoRA adapters file (metadata format is "webgrad-checkpoint/1", expected "webgrad-lora/1")');
    expect(bad((_, t) => { (t.get('transformer.h.0.mlp.c_proj.lora_B.weight')!.data as Float32Array)[1] = Number.NaN; })).toThrow('bad.safetensors: tensor transformer.h.0.mlp.c_proj.lora_B.weight holds NaN at index 1');
    expect(bad((_, t) => { t.set('transformer.h.0.mlp.c_proj.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) }); })).toThrow('unexpected [transformer.h.0.mlp.c_proj.weight]');
    await expect(encodeAdapters(new ModelState(state.gpu, base, baseWeights))).rejects.toThrow('encodeAdapters: the model has no adapters (draw it with withLora)');
    state.destroy();
  });
});
