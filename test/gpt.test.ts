// The language-model path: gptModel's nanoGPT names and checks, a tiny gpt trained on a token stream
// resident on the GPU against the float64 CPU twin (one submit per step, nothing created after
// compile), its evaluation over start indices, the token dataset's checks, and the loss falling on a
// repetitive stream.
import { describe, expect, it } from 'vitest';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomStarts, randomTokens, rng } from './helpers/random.ts';
import { gatherTokensReference } from './reference/gather.ts';
import { cpuTrainer } from './reference/model.ts';
import { gptModel } from '../src/model/gpt.ts';
import { Evaluator, ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, uploadDataset, uploadTokens } from '../src/runtime/dataset.ts';
import { modelGradients } from './helpers/graph.ts';
import { encodeCheckpoint, loadMatchingWeights, loadModel, weightValues } from '../src/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/io/safetensors.ts';
import { modelFromGraph, modelToGraph } from '../src/io/model-graph.ts';

const TINY = { vocab: 11, context: 8, layers: 2, heads: 2, width: 16 };

describe('gptModel', () => {
  it('names its parameters as nanoGPT does, with nanoGPT shapes', () => {
    const model = gptModel({ vocab: 11, context: 8, layers: 1, heads: 2, width: 16 });
    expect(model.inputShape).toEqual([8]);
    expect(model.inputs[0]!.dtype).toBe('u32');
    expect(model.outputShape).toEqual([8, 11]);
    expect(model.parameterSpecs()).toEqual([
      { name: 'transformer.wte.weight', shape: [11, 16] },
      { name: 'transformer.wpe.weight', shape: [8, 16] },
      { name: 'transformer.h.0.ln_1.weight', shape: [16] }, { name: 'transformer.h.0.ln_1.bias', shape: [16] },
      { name: 'transformer.h.0.attn.c_attn.weight', shape: [48, 16] }, { name: 'transformer.h.0.attn.c_attn.bias', shape: [48] },
      { name: 'transformer.h.0.attn.c_proj.weight', shape: [16, 16] }, { name: 'transformer.h.0.attn.c_proj.bias', shape: [16] },
      { name: 'transformer.h.0.ln_2.weight', shape: [16] }, { name: 'transformer.h.0.ln_2.bias', shape: [16] },
      { name: 'transformer.h.0.mlp.c_fc.weight', shape: [64, 16] }, { name: 'transformer.h.0.mlp.c_fc.bias', shape: [64] },
      { name: 'transformer.h.0.mlp.c_proj.weight', shape: [16, 64] }, { name: 'transformer.h.0.mlp.c_proj.bias', shape: [16] },
      { name: 'transformer.ln_f.weight', shape: [16] }, { name: 'transformer.ln_f.bias', shape: [16] },
      { name: 'lm_head.weight', shape: [11, 16] },
    ]);
    expect(gptModel(TINY).parameterSpecs().filter((s) => s.name.startsWith('transformer.h.1.'))).toHaveLength(12);
  });

  it('refuses bad sizes and unknown options by name', () => {
    expect(() => gptModel({ ...TINY, width: 15 })).toThrow('gptModel: width 15 must be a multiple of heads 2');
    expect(() => gptModel({ ...TINY, layers: 0 })).toThrow('gptModel: layers must be a positive integer, got 0');
    expect(() => gptModel({ ...TINY, blockSize: 8 } as never)).toThrow('gptModel: unknown option blockSize');
  });
});

describe('training a gpt on a token stream resident on the GPU', () => {
  it('a 2-layer tiny gpt trains 3 AdamW steps like the CPU twin, one submit per step, nothing created after compile', async () => {
    const gpu = await testGpu();
    const model = gptModel(TINY);
    const stream = randomTokens(200, TINY.vocab, 3);
    const data = uploadTokens(gpu, stream, { vocab: TINY.vocab, context: TINY.context, name: 'synthetic' });
    const initial = model.initialValues(5);
    const state = new ModelState(gpu, model, initial);
    const optimizer = { kind: 'adamw' as const, lr: 1e-2, weightDecay: 0.01, eps: 1e-3 };
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 4, seed: 1, optimizer, stepsPerEpoch: 3, totalSteps: 3, metricsEvery: 1000 });
    const cpu = cpuTrainer(model, initial, optimizer, 1);
    const cpuLosses: number[] = [];
    const counts = await countDeviceWork(gpu, async () => {
      for (let s = 0; s < 3; s++) {
        const starts = randomStarts(4, 200 - TINY.context - 1, 10 + s);
        if (s === 0) starts[0] = 200 - TINY.context - 1; // the last window, whose final target ends the stream
        await trainer.step(starts);
        const { x, y } = gatherTokensReference(stream, starts, TINY.context);
        cpuLosses.push(cpu.step(Float64Array.from(x), y));
      }
    });
    expect(counts).toEqual({ submits: 3, created: 0 });
    const values = await state.read();
    for (const [name, expected] of cpu.params) expect(maxRelativeError(values.get(name)!, expected, 1e-2), name).toBeLessThanOrEqual(1e-4);
    const totals = await trainer.totals();
    expect(totals.rows).toBe(3 * 4 * TINY.context);
    expect(totals.loss).toBeCloseTo(cpuLosses.reduce((a, b) => a + b, 0) / 3, 4);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('the Evaluator gives the next-token loss, accuracy and per-token predictions over start indices', async () => {
    const gpu = await testGpu();
    const model = gptModel({ ...TINY, layers: 1 });
    const stream = randomTokens(64, TINY.vocab, 4);
    const data = uploadTokens(gpu, stream, { vocab: TINY.vocab, context: TINY.context, name: 'synthetic' });
    const initial = model.initialValues(6);
    const state = new ModelState(gpu, model, initial);
    // Batches of 3 over 7 starts: a short last batch compiles its own program.
    const evaluator = new Evaluator(gpu, model, state, data, 3);
    const starts = Uint32Array.from([0, 5, 17, 30, 41, 50, 55]);
    const got = await evaluator.evaluate(starts);
    const { x, y } = gatherTokensReference(stream, starts, TINY.context);
    // The twin's step reports the loss before it updates anything.
    const cpuLoss = cpuTrainer(model, initial, { kind: 'sgd', lr: 0 }, 1).step(Float64Array.from(x), y);
    expect(got.rows).toBe(starts.length * TINY.context);
    expect(got.loss).toBeCloseTo(cpuLoss, 5);
    expect(got.predictions).toHaveLength(starts.length * TINY.context);
    expect(got.accuracy).toBeCloseTo(got.predictions.filter((p, i) => p === y[i]).length / y.length, 6);
    const logits = await evaluator.logits(starts.subarray(0, 2));
    expect(logits).toHaveLength(2 * TINY.context * TINY.vocab);
    await expect(evaluator.evaluate(Uint32Array.from([56]))).rejects.toThrow('dataset synthetic: start index 56 at row 0 is past 55, the last start whose window of 8 tokens and its next token fit in 64 tokens');
    evaluator.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('the loss falls over 50 steps on a repetitive stream', async () => {
    const gpu = await testGpu();
    const model = gptModel({ ...TINY, layers: 1 });
    // A period-5 pattern: each next token is predictable from the one before it.
    const stream = Uint32Array.from({ length: 400 }, (_, i) => [1, 4, 2, 8, 5][i % 5]!);
    const data = uploadTokens(gpu, stream, { vocab: TINY.vocab, context: TINY.context, name: 'pattern' });
    const state = new ModelState(gpu, model, model.initialValues(7));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 8, seed: 1, optimizer: { kind: 'adamw', lr: 1e-2 }, stepsPerEpoch: 10, totalSteps: 50 });
    const lossOver = async (steps: number, from: number): Promise<number> => {
      trainer.resetTotals();
      for (let s = 0; s < steps; s++) await trainer.step(randomStarts(8, 400 - TINY.context - 1, from + s));
      return (await trainer.totals()).loss;
    };
    const first = await lossOver(5, 0);
    await lossOver(40, 100);
    const last = await lossOver(5, 200);
    expect(first).toBeGreaterThan(2); // about ln(11) at the start
    expect(last).toBeLessThan(0.5 * first);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('refuses a model that does not fit the stream, starts past its end, augmentation, and tokens outside the vocabulary', async () => {
    const gpu = await testGpu();
    expect(() => uploadTokens(gpu, Uint32Array.from([1, 2, 11]), { vocab: 11, context: 2, name: 'bad' })).toThrow('dataset bad: token 11 at position 2 is outside the vocabulary 0..10');
    expect(() => uploadTokens(gpu, Uint32Array.from([1, 2]), { vocab: 11, context: 2, name: 'short' })).toThrow('dataset short: 2 tokens hold no window of context 2 plus its next token');
    const data = uploadTokens(gpu, randomTokens(40, 11, 1), { vocab: 11, context: 8, name: 'stream' });
    const state = new ModelState(gpu, gptModel({ ...TINY, layers: 1, context: 4 }), gptModel({ ...TINY, layers: 1, context: 4 }).initialValues(1));
    expect(() => new Trainer(gpu, state.model, state, data, new Map(), { batchSize: 2, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, stepsPerEpoch: 1, totalSteps: 1 }))
      .toThrow('model input [4] (u32) does not fit dataset stream (u32 token windows of 8)');
    state.destroy();
    const fitting = gptModel({ ...TINY, layers: 1 });
    const fittingState = new ModelState(gpu, fitting, fitting.initialValues(1));
    const trainer = new Trainer(gpu, fitting, fittingState, data, new Map(), { batchSize: 2, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, stepsPerEpoch: 1, totalSteps: 1 });
    await expect(trainer.step(Uint32Array.from([0, 32]))).rejects.toThrow('start index 32 at row 1 is past 31');
    trainer.destroy();
    const augment = { maxRotationDegrees: 10, maxTranslatePixels: 1, minScale: 1, maxScale: 1 };
    expect(() => new Trainer(gpu, fitting, fittingState, data, new Map(), { batchSize: 2, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, augment, stepsPerEpoch: 1, totalSteps: 1 }))
      .toThrow('compileProgram: augment applies to images; dataset stream is a token stream');
    const images = uploadDataset(gpu, { images: new Uint8Array(2 * 64), labels: new Uint8Array(2), count: 2, rows: 8, cols: 8 }, 11, 'images');
    expect(() => new Trainer(gpu, fitting, fittingState, images, new Map(), { batchSize: 2, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0, std: 1 }, stepsPerEpoch: 1, totalSteps: 1 }))
      .toThrow('model input shape [8] does not fit dataset images (1×8×8 images)');
    fittingState.destroy(); destroyDataset(gpu, images); destroyDataset(gpu, data);
  });
});

describe('weight tying (tieWeights: lm_head reads transformer.wte.weight)', () => {
  const TIED = { ...TINY, tieWeights: true };

  it('has one table fewer, and lists lm_head.weight as tied to transformer.wte.weight', () => {
    const tied = gptModel(TIED), untied = gptModel(TINY);
    expect(tied.parameterSpecs().map((s) => s.name)).toEqual(untied.parameterSpecs().map((s) => s.name).filter((n) => n !== 'lm_head.weight'));
    expect(tied.parameterCount()).toBe(untied.parameterCount() - TINY.vocab * TINY.width);
    expect(tied.tiedParameters()).toEqual([{ name: 'lm_head.weight', source: 'transformer.wte.weight' }]);
    expect(untied.tiedParameters()).toEqual([]);
    expect(() => gptModel({ ...TINY, tieWeights: 1 } as never)).toThrow('gptModel: tieWeights must be true or false, got 1');
  });

  it('gives the logits of the untied model whose lm_head is a copy of wte, and the sum of both of its table gradients', async () => {
    const gpu = await testGpu();
    const tied = gptModel(TIED), untied = gptModel(TINY);
    const params = tied.initialValues(8);
    const untiedParams = new Map(params).set('lm_head.weight', params.get('transformer.wte.weight')!);
    const batch = 2;
    const ids = randomTokens(batch * TINY.context, TINY.vocab, 9);
    const next = rng(12);
    const dy = Float32Array.from({ length: batch * TINY.context * TINY.vocab }, () => next() - 0.5);
    const a = await modelGradients(gpu, tied, batch, ids, dy, params);
    const b = await modelGradients(gpu, untied, batch, ids, dy, untiedParams);
    expect(maxRelativeError(a.y, b.y, 1e-3)).toBeLessThan(1e-5);
    const sum = b.grads.get('transformer.wte.weight')!.map((g, i) => g + b.grads.get('lm_head.weight')![i]!);
    expect(maxRelativeError(a.grads.get('transformer.wte.weight')!, sum, 1e-3)).toBeLessThan(1e-4);
    // Not just the head's share: the embedding's own gradient is in the sum too.
    expect(maxRelativeError(a.grads.get('transformer.wte.weight')!, b.grads.get('lm_head.weight')!, 1e-3)).toBeGreaterThan(1e-2);
    for (const [name, g] of a.grads) if (name !== 'transformer.wte.weight') expect(maxRelativeError(g, b.grads.get(name)!, 1e-3), name).toBeLessThan(1e-4);
  });

  it('a tied 2-layer gpt trains 3 AdamW steps like the CPU twin', async () => {
    const gpu = await testGpu();
    const model = gptModel(TIED);
    const stream = randomTokens(200, TINY.vocab, 5);
    const data = uploadTokens(gpu, stream, { vocab: TINY.vocab, context: TINY.context, name: 'synthetic' });
    const initial = model.initialValues(6);
    const state = new ModelState(gpu, model, initial);
    const optimizer = { kind: 'adamw' as const, lr: 1e-2, weightDecay: 0.1, eps: 1e-3, decay: 'matrices' as const };
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 4, seed: 1, optimizer, stepsPerEpoch: 3, totalSteps: 3 });
    const cpu = cpuTrainer(model, initial, optimizer, 1);
    for (let s = 0; s < 3; s++) {
      const starts = randomStarts(4, 200 - TINY.context - 1, 20 + s);
      await trainer.step(starts);
      const { x, y } = gatherTokensReference(stream, starts, TINY.context);
      cpu.step(Float64Array.from(x), y);
    }
    const values = await state.read();
    for (const [name, expected] of cpu.params) expect(maxRelativeError(values.get(name)!, expected, 1e-2), name).toBeLessThanOrEqual(1e-4);
    trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('saves both state_dict names with the same values, loads back tied, and refuses a file whose two names disagree', async () => {
    const gpu = await testGpu();
    const model = gptModel(TIED);
    const state = new ModelState(gpu, model, model.initialValues(4));
    const bytes = await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 } });
    const file = decodeSafetensors(bytes);
    const wte = file.tensors.get('transformer.wte.weight')! as SafeTensor & { data: Float32Array }, head = file.tensors.get('lm_head.weight')! as SafeTensor & { data: Float32Array };
    expect(head.shape).toEqual([TINY.vocab, TINY.width]);
    expect(Array.from(head.data)).toEqual(Array.from(wte.data));
    const loaded = await loadModel(bytes, 'tied.safetensors');
    expect(loaded.model.tiedParameters()).toEqual([{ name: 'lm_head.weight', source: 'transformer.wte.weight' }]);
    expect([...loaded.weights.keys()].sort()).toEqual(model.parameterSpecs().map((s) => s.name).sort());
    expect(Array.from(loaded.weights.get('transformer.wte.weight')!)).toEqual(Array.from(wte.data));
    // Either name alone stands for both.
    const headOnly = new Map(file.tensors);
    headOnly.delete('transformer.wte.weight');
    expect(Array.from(weightValues(model, headOnly).get('transformer.wte.weight')!)).toEqual(Array.from(wte.data));
    const tampered = new Map(file.tensors).set('lm_head.weight', { ...head, data: (head.data as Float32Array).map((v, i) => (i === 7 ? v + 1 : v)) });
    expect(() => weightValues(model, tampered)).toThrow(/^weights do not fit the model: lm_head\.weight and transformer\.wte\.weight are one tied parameter, but transformer\.wte\.weight holds \S+ and lm_head\.weight \S+ at index 7$/);
    // Fine-tuning's partial load takes the pair as the one table it is.
    expect(loadMatchingWeights(state, file.tensors)).toEqual({ loaded: model.parameterSpecs().map((s) => s.name), reinitialized: [], unused: [] });
    const reencoded = encodeSafetensors(tampered, file.metadata);
    await expect(loadModel(reencoded, 'tampered.safetensors')).rejects.toThrow('tampered.safetensors: weights do not fit the model: lm_head.weight and transformer.wte.weight are one tied parameter');
    state.destroy();
  });

  it('its model graph names the embedding it reads, rebuilds tied, and refuses a tiedTo that names no earlier Embedding', () => {
    const graph = modelToGraph(gptModel(TIED));
    const head = graph.layers.at(-1)!;
    expect(head).toEqual({ type: 'TiedDense', name: 'lm_head', tiedTo: 'transformer.wte' });
    expect(modelFromGraph(graph).tiedParameters()).toEqual([{ name: 'lm_head.weight', source: 'transformer.wte.weight' }]);
    expect(() => modelFromGraph({ ...graph, layers: graph.layers.map((l) => (l === head ? { ...head, tiedTo: 'transformer.wpe' } : l)) }))
      .toThrow(`graph.layers[${graph.layers.length - 1}] does not build (tiedTo "transformer.wpe" is a PositionalEmbedding, not an Embedding)`);
    expect(() => modelFromGraph({ ...graph, layers: [head, ...graph.layers.slice(0, -1)] }))
      .toThrow('graph.layers[0] does not build (tiedTo "transformer.wte" names no layer listed before it)');
  });
});
