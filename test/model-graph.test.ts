// Models as JSON: every layer type's config() rebuilds the same layer, a drawn graph (residual add,
// concatenation, a shared layer) comes back with the same names, parameters and order, and a
// checkpoint of it written without a zoo name reloads to the same logits on the GPU.
import { describe, expect, it } from 'vitest';
import { input, Layer, type BuildContext, type Shape } from '../src/layers/layer.ts';
import { ActivationLayer, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Softmax } from '../src/layers/layers.ts';
import { LSTM, SimpleRNN } from '../src/layers/recurrent.ts';
import { add, concat, Concatenate, Elementwise, Permute, Reshape, reshape, Slice, slice, transpose, Unary } from '../src/layers/ops.ts';
import { GELU, LayerNorm, ScaledDotProductAttention, transformerBlock } from '../src/layers/transformer.ts';
import { Gather, Reduce, SoftmaxAxis } from '../src/layers/axis-ops.ts';
import { MaskedFill, Where } from '../src/layers/select-ops.ts';
import { MatMul } from '../src/layers/matmul.ts';
import { ClassToken, Embedding, PositionalEmbedding, TiedDense } from '../src/layers/tokens.ts';
import { LoraDense } from '../src/layers/lora.ts';
import { gptModel } from '../src/model/gpt.ts';
import { Model } from '../src/model/model.ts';
import { zooModel, ZOO_NAMES } from '../src/model/zoo.ts';
import { LAYER_TYPE_NAMES, layerFromConfig, modelFromGraph, modelToGraph } from '../src/io/model-graph.ts';
import { decodeCheckpoint, encodeCheckpoint, loadModel } from '../src/io/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import { predictLogits } from '../src/runtime/logits.ts';
import { testGpu } from './helpers/gpu.ts';

/** One layer of every type, each with options away from its defaults where it has any. */
const LAYERS: Layer[] = [
  new Dense({ units: 7, activation: 'tanh', useBias: false, init: 'he', name: 'head' }),
  new Conv2D({ filters: 5, kernelSize: [3, 2], strides: [2, 1], padding: 1, activation: 'sigmoid', useBias: false, name: 'c' }),
  new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', name: 'same' }),
  new MaxPool2D({ poolSize: [3, 2], strides: 1, padding: 1, name: 'mp' }),
  new AvgPool2D({ poolSize: 2, name: 'ap' }),
  Object.assign(new Flatten(), { name: 'flat' }),
  new ActivationLayer('tanh', 'act'),
  Object.assign(new Softmax(), { name: 'probabilities' }),
  new Dropout(0.3, 'drop'),
  new BatchNorm({ momentum: 0.2, eps: 1e-3, name: 'norm' }),
  new SimpleRNN({ units: 6, returnSequences: true, name: 'rnn' }),
  new LSTM({ units: 3, name: 'memory' }),
  new Elementwise('div', 'ratio'),
  new Unary('shift', -0.5, 'offset'),
  new Concatenate(-1, 'join'),
  new Slice(1, 2, 5, 'window'),
  new Reshape([-1, 4], 'fold'),
  new Permute([1, 0], 'swap'),
  new LayerNorm({ eps: 1e-6, name: 'ln' }),
  new GELU('gelu'),
  new ScaledDotProductAttention({ causal: true, name: 'attend' }),
  new ScaledDotProductAttention({ causal: false, heads: 4, name: 'attendFused' }),
  new PositionalEmbedding({ name: 'positions' }),
  new ClassToken({ name: 'token' }),
  new Embedding({ vocab: 11, width: 4, name: 'transformer.wte' }),
  new Reduce('max', [0, -1], { keepDims: true, name: 'peak' }),
  new SoftmaxAxis(0, true, 'logprobs'),
  new Where('choose'),
  new MaskedFill(-1e9, 'causal'),
  new Gather(1, 'pick'),
  new MatMul('product'),
  new LoraDense({ units: 6, rank: 3, alpha: 5, dropout: 0.1, useBias: false, init: 'he', name: 'h.attn.c_attn' }),
];

/** Residual add, a concatenation, and one Dense applied to two tensors (shared weights). */
function drawnModel(): Model {
  const x = input([2, 8, 8], { name: 'image' });
  const stem = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
  const body = new BatchNorm().apply(new Conv2D({ filters: 4, kernelSize: 3, padding: 'same' }).apply(stem));
  const residual = ReLU().apply(add(body, stem));
  const pooled = new Flatten().apply(new MaxPool2D().apply(residual));
  const shared = new Dense({ units: 6, activation: 'relu' });
  const left = shared.apply(pooled);
  const right = shared.apply(new Flatten().apply(new AvgPool2D().apply(residual)));
  const joined = concat([left, right, new Dense({ units: 3 }).apply(pooled)]);
  return new Model({ inputs: x, outputs: new Dense({ units: 5 }).apply(joined) });
}

const roundTrip = (model: Model): Model => modelFromGraph(JSON.parse(JSON.stringify(modelToGraph(model))));

describe('layer configs', () => {
  it('cover every registered layer type', () => {
    // A TiedDense needs its embedding listed before it, so it rebuilds only inside a graph (test/gpt.test.ts).
    const tied = new TiedDense({ tiedTo: LAYERS.find((l) => l instanceof Embedding) as Embedding, name: 'lm_head' });
    expect(new Set([...LAYERS, tied].map((l) => l.config().type))).toEqual(new Set(LAYER_TYPE_NAMES));
    expect(() => layerFromConfig(tied.config())).toThrow('layer does not build (tiedTo "transformer.wte" names no layer listed before it)');
  });

  it.each(LAYERS.map((layer) => [layer.config().type, layer.name, layer] as const))('%s %s rebuilds the same layer from its JSON', (_, __, layer) => {
    const rebuilt = layerFromConfig(JSON.parse(JSON.stringify(layer.config())));
    expect(rebuilt.constructor).toBe(layer.constructor);
    expect(rebuilt.config()).toEqual(layer.config());
    expect(rebuilt.describe()).toBe(layer.describe());
    expect(rebuilt.name).toBe(layer.name);
  });

  it('refuses a config with an unknown, missing or ill-typed field, naming it', () => {
    const dense = new Dense({ units: 4, name: 'fc1' }).config();
    expect(() => layerFromConfig({ ...dense, units: 0 })).toThrow('layer.units is 0; must be a whole number in [1, 65536]');
    expect(() => layerFromConfig({ ...dense, kernel: 3 })).toThrow('layer has unknown field "kernel"');
    const { useBias: _, ...noBias } = dense;
    expect(() => layerFromConfig(noBias)).toThrow('layer.useBias is missing');
    expect(() => layerFromConfig({ ...dense, type: 'Transformer' })).toThrow('layer.type is "Transformer"; must be one of Dense, Conv2D');
    expect(() => layerFromConfig({ ...dense, name: 'constructor' })).toThrow('layer.name is "constructor", a name JavaScript reserves');
    // Each check passes on its own but the constructor refuses the pair.
    const conv = new Conv2D({ filters: 2, kernelSize: 3, name: 'c' }).config();
    expect(() => layerFromConfig({ ...conv, padding: 'same', strides: [2, 2] })).toThrow("layer does not build (Conv2D c: padding 'same' needs stride 1)");
  });
});

describe('model graphs', () => {
  it('rebuild a gpt (token ids in, nanoGPT names) with the same parameters', () => {
    const gpt = gptModel({ vocab: 13, context: 8, layers: 2, heads: 2, width: 16 });
    const rebuilt = roundTrip(gpt);
    expect(rebuilt.parameterSpecs()).toEqual(gpt.parameterSpecs());
    expect(rebuilt.inputs[0]!.dtype).toBe('u32');
    expect(rebuilt.summary()).toBe(gpt.summary());
  });

  it('rebuild a drawn model with the same layers, parameter names, shapes and order', () => {
    const model = drawnModel();
    const rebuilt = roundTrip(model);
    expect(rebuilt.summary()).toBe(model.summary());
    expect(rebuilt.parameterSpecs()).toEqual(model.parameterSpecs());
    expect(rebuilt.stateSpecs()).toEqual(model.stateSpecs());
    expect(modelToGraph(rebuilt)).toEqual(modelToGraph(model));
    // The shared Dense is one layer applied twice, the second application's output named fc1:2.
    const graph = modelToGraph(model);
    expect(graph.layers.filter((l) => l.name === 'fc1')).toHaveLength(1);
    expect(graph.nodes.filter((n) => n.layer === 'fc1').map((n) => n.output)).toEqual(['fc1', 'fc1:2']);
    expect(rebuilt.layers).toHaveLength(model.layers.length);
  });

  it('rebuild the first vit as its graph was saved (split q, k, v, permuted heads) with vit-p4\'s parameters', () => {
    const x = input([1, 28, 28]);
    const patches = new Conv2D({ filters: 64, kernelSize: 4, strides: 4 }).apply(x);
    let tokens = new PositionalEmbedding().apply(new ClassToken().apply(transpose(reshape(patches, [64, 49]))));
    for (let b = 0; b < 4; b++) tokens = transformerBlock(tokens, { heads: 4, layout: 'heads' });
    const first = new Model({ inputs: x, outputs: new Dense({ units: 10 }).apply(reshape(slice(new LayerNorm().apply(tokens), 0, 0, 1), [64])) });
    const rebuilt = roundTrip(first);
    expect(rebuilt.layers.filter((l) => l instanceof ScaledDotProductAttention).map((l) => (l as ScaledDotProductAttention).heads)).toEqual([undefined, undefined, undefined, undefined]);
    expect(rebuilt.summary()).toBe(first.summary());
    expect(rebuilt.parameterSpecs()).toEqual(zooModel('vit-p4').parameterSpecs());
  });

  it.each(ZOO_NAMES)('rebuild zoo model %s with its own parameter list', (name) => {
    const model = zooModel(name);
    expect(roundTrip(model).parameterSpecs()).toEqual(model.parameterSpecs());
    expect(roundTrip(model).summary()).toBe(model.summary());
  });

  it('shrink the image to 64×3×3 before the one Dense of the fast model', () => {
    const model = zooModel('fast');
    const pools = model.summary().split('\n').filter((line) => line.startsWith('maxpool')).map((line) => line.split(/\s{2,}/)[2]);
    expect(pools).toEqual(['[16, 14, 14]', '[32, 7, 7]', '[64, 3, 3]']);
    expect(model.parameterSpecs().filter((p) => p.shape.length === 2).map((p) => p.shape)).toEqual([[10, 64 * 3 * 3]]);
    expect(roundTrip(model).outputShape).toEqual([10]);
  });

  it('refuse a model with a layer that cannot describe itself', () => {
    class Identity extends Layer {
      readonly kind = 'identity';
      outputShape(shape: Shape): Shape { return shape; }
      forward(_: BuildContext, x: number): number { return x; }
    }
    const x = input([3]);
    expect(() => modelToGraph(new Model({ inputs: x, outputs: new Identity().apply(x) }))).toThrow('layer identity1 (identity) has no JSON description');
  });
});

describe('a checkpoint of a drawn model', () => {
  it('saves its graph when no zoo name is given, and reloads to the same logits', async () => {
    const gpu = await testGpu();
    const model = drawnModel();
    const state = new ModelState(gpu, model, model.initialValues(5));
    const normalize = { mean: 0.25, std: 0.5 };
    const bytes = await encodeCheckpoint(state, { epoch: 0, normalize });
    const checkpoint = decodeCheckpoint(bytes, 'drawn.safetensors');
    expect('graph' in checkpoint.model).toBe(true);
    const loaded = await loadModel(new Blob([new Uint8Array(bytes)]), 'drawn.safetensors');
    expect(loaded.model.summary()).toBe(model.summary());
    expect(loaded.classNames).toEqual(['0', '1', '2', '3', '4']);
    const reloaded = new ModelState(gpu, loaded.model, loaded.weights);

    const count = 6;
    const images = Uint8Array.from({ length: count * 2 * 64 }, (_, i) => (i * 37 + 11) % 256);
    const data = uploadDataset(gpu, { images, labels: new Uint8Array(count), count, rows: 8, cols: 8, channels: 2 }, 5, 'drawn');
    const before = await predictLogits(gpu, model, state, data, range(0, count), normalize);
    const after = await predictLogits(gpu, loaded.model, reloaded, data, range(0, count), loaded.normalize);
    destroyDataset(gpu, data);
    state.destroy();
    reloaded.destroy();
    expect(before.length).toBe(count * 5);
    expect(before.some((v) => v !== 0)).toBe(true);
    expect(new Uint32Array(after.buffer)).toEqual(new Uint32Array(before.buffer));
  });

  it('refuses weights of the right size but the wrong shape, naming the file and the tensor', async () => {
    const gpu = await testGpu();
    const model = drawnModel();
    const state = new ModelState(gpu, model, model.initialValues(2));
    const file = decodeSafetensors(await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 } }));
    state.destroy();
    const weight = file.tensors.get('fc3.weight')!;
    file.tensors.set('fc3.weight', { ...weight, shape: [...weight.shape].reverse() });
    await expect(loadModel(encodeSafetensors(file.tensors, file.metadata), 'transposed.safetensors'))
      .rejects.toThrow('transposed.safetensors: weights do not fit the model: mis-shaped [fc3.weight (model [5, 15], given [15, 5])]');
  });

  it('refuses a zoo description that is not the model being saved', async () => {
    const gpu = await testGpu();
    const model = drawnModel();
    const state = new ModelState(gpu, model);
    await expect(encodeCheckpoint(state, { model: { zoo: 'mlp', options: {} }, epoch: 0, normalize: { mean: 0, std: 1 } }))
      .rejects.toThrow('encodeCheckpoint: info.model {"zoo":"mlp","options":{}} does not describe the model being saved');
    state.destroy();
  });
});
