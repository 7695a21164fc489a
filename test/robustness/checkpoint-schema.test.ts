// Checkpoints whose metadata or values lie: each case takes a valid checkpoint built here (an mlp's
// tensors and the metadata encodeCheckpoint writes) and breaks one field, then checks the error
// names the file and the field. No GPU: decoding is where every reader (the Node scripts through
// readCheckpoint, the browser worker directly) meets the schema.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zooModel } from '../../src/model/zoo.ts';
import { decodeCheckpoint, modelFromCheckpoint } from '../../src/io/checkpoint.ts';
import { encodeSafetensors, type SafeTensor } from '../../src/io/safetensors.ts';
import { readCheckpoint } from '../../src/node/checkpoint-file.ts';
import { modelToGraph } from '../../src/io/model-graph.ts';
import { gptModel } from '../../src/model/gpt.ts';

const SOURCE = 'run.safetensors';

const VALID: Record<string, string> = {
  format: 'webgrad-checkpoint/1',
  webgrad_version: '0.1.0',
  model: JSON.stringify({ zoo: 'mlp', options: {} }),
  epoch: '2',
  step: '1688',
  seed: '1',
  normalize: JSON.stringify({ mean: 0.1307, std: 0.3081 }),
  optimizer: JSON.stringify({ kind: 'adam', lr: 0.001, weightDecay: 0, l1: 0 }),
  schedule: JSON.stringify({ kind: 'cosine' }),
  trainer: JSON.stringify({
    batchSize: 64, labelSmoothing: 0, clipNorm: 1, stepsPerEpoch: 844, totalSteps: 4220,
    augment: { maxRotationDegrees: 15, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 }, frozen: ['fc1.'], lrMultipliers: { 'fc1.': 0.1 },
  }),
  class_names: JSON.stringify(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']),
  dataset: 'mnist',
};

function tensors(corrupt?: (name: string, data: Float32Array) => void): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const spec of zooModel('mlp').parameterSpecs()) {
    const data = Float32Array.from({ length: spec.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) / 10);
    corrupt?.(spec.name, data);
    out.set(spec.name, { dtype: 'F32', shape: [...spec.shape], data });
    out.set(`optimizer.${spec.name}.exp_avg`, { dtype: 'F32', shape: [...spec.shape], data: new Float32Array(data.length) });
  }
  return out;
}

function checkpointBytes(metadata: Record<string, string | undefined>, values = tensors()): Uint8Array {
  const kept = Object.fromEntries(Object.entries({ ...VALID, ...metadata }).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return encodeSafetensors(values, kept);
}

const withJson = (key: string, edit: (value: Record<string, unknown>) => unknown) => ({ [key]: JSON.stringify(edit(JSON.parse(VALID[key]!))) });

describe('a valid checkpoint', () => {
  it('decodes, with every field typed', () => {
    const ckpt = decodeCheckpoint(checkpointBytes({}), SOURCE);
    expect(ckpt).toMatchObject({ source: SOURCE, model: { zoo: 'mlp', options: {} }, epoch: 2, step: 1688, seed: 1, normalize: { mean: 0.1307, std: 0.3081 }, extra: { dataset: 'mnist' } });
    expect(ckpt.training).toMatchObject({ batchSize: 64, seed: 1, optimizer: { kind: 'adam', lr: 0.001 }, schedule: { kind: 'cosine' }, frozen: ['fc1.'] });
    expect(modelFromCheckpoint(ckpt).outputShape).toEqual([10]);
  });

  it('keeps AdamW\'s decay groups, so a resumed run decays the same parameters', () => {
    const optimizer = { kind: 'adamw', lr: 0.001, weightDecay: 0.1, decay: 'matrices' };
    expect(decodeCheckpoint(checkpointBytes({ optimizer: JSON.stringify(optimizer) }), SOURCE).training!.optimizer).toEqual(optimizer);
  });
});

// [what, metadata override, the message it must give]
const badFields: [string, Record<string, string | undefined>, string][] = [
  ['model missing', { model: undefined }, 'metadata model is missing'],
  ['model not JSON', { model: '{zoo: mlp' }, 'metadata model is not valid JSON'],
  ['model null', { model: 'null' }, 'metadata model is null; must be an object'],
  ['zoo "__proto__"', withJson('model', (m) => ({ ...m, zoo: '__proto__' })), 'metadata model.zoo is "__proto__"; must be one of mlp, mlp2, cnn'],
  ['zoo "constructor"', withJson('model', (m) => ({ ...m, zoo: 'constructor' })), 'metadata model.zoo is "constructor"; must be one of'],
  ['zoo unknown', withJson('model', (m) => ({ ...m, zoo: 'resnet152' })), 'metadata model.zoo is "resnet152"; must be one of'],
  ['zoo null', withJson('model', (m) => ({ ...m, zoo: null })), 'metadata model.zoo is null; must be one of'],
  ['model options missing', withJson('model', () => ({ zoo: 'mlp' })), 'metadata model.options is missing'],
  ['model options with an unknown field', withJson('model', (m) => ({ ...m, options: { units: 5 } })), 'metadata model.options has unknown field "units" (known: classes, dropout, inputShape)'],
  ['model options with an own "__proto__" field', { model: '{"zoo": "mlp", "options": {"__proto__": {"classes": 3}}}' }, 'metadata model.options has unknown field "__proto__"'],
  ['classes 0', withJson('model', (m) => ({ ...m, options: { classes: 0 } })), 'metadata model.options.classes is 0; must be a whole number in [2, 65536]'],
  ['classes 10⁹', withJson('model', (m) => ({ ...m, options: { classes: 1e9 } })), 'metadata model.options.classes is 1000000000; must be a whole number in [2, 65536]'],
  ['classes 2.5', withJson('model', (m) => ({ ...m, options: { classes: 2.5 } })), 'metadata model.options.classes is 2.5; must be a whole number'],
  ['classes "10"', withJson('model', (m) => ({ ...m, options: { classes: '10' } })), 'metadata model.options.classes is "10"; must be a whole number'],
  ['dropout 1', withJson('model', (m) => ({ ...m, options: { dropout: 1 } })), 'metadata model.options.dropout is 1; must be a finite number ≥ 0 and < 1'],
  ['input shape of 65 channels', withJson('model', (m) => ({ ...m, options: { inputShape: [65, 28, 28] } })), 'metadata model.options.inputShape[0] is 65; must be a whole number in [1, 64]'],
  ['input shape 100000 wide', withJson('model', (m) => ({ ...m, options: { inputShape: [1, 28, 100000] } })), 'metadata model.options.inputShape[2] is 100000; must be a whole number in [1, 1024]'],
  ['input shape of 2 sizes', withJson('model', (m) => ({ ...m, options: { inputShape: [1, 28] } })), 'metadata model.options.inputShape is a list of 2; must be a list of 3 entries'],
  ['input shape too small for the model', withJson('model', () => ({ zoo: 'cnn', options: { inputShape: [1, 4, 4] } })), 'metadata model {"zoo":"cnn","options":{"inputShape":[1,4,4]}} does not build ('],
  ['normalize missing', { normalize: undefined }, 'metadata normalize is missing'],
  ['std 0', withJson('normalize', (n) => ({ ...n, std: 0 })), 'metadata normalize.std is 0; must be a finite number > 0 and ≤ 1000'],
  ['std negative', withJson('normalize', (n) => ({ ...n, std: -0.3 })), 'metadata normalize.std is -0.3; must be a finite number > 0'],
  ['std a string', withJson('normalize', (n) => ({ ...n, std: '0.3' })), 'metadata normalize.std is "0.3"; must be a finite number > 0'],
  ['std that was NaN (JSON writes null)', withJson('normalize', (n) => ({ ...n, std: Number.NaN })), 'metadata normalize.std is null; must be a finite number > 0'],
  ['mean missing', withJson('normalize', (n) => ({ std: n.std })), 'metadata normalize.mean is missing'],
  ['class names too few', { class_names: JSON.stringify(['a', 'b']) }, 'metadata class_names has 2 names but the model\'s head has 10 classes'],
  ['class names not a list', { class_names: '"0123456789"' }, 'metadata class_names is "0123456789"; must be a list of 2 to 65536 entries'],
  ['class names not strings', { class_names: JSON.stringify([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }, 'metadata class_names[0] is 0; must be a string'],
  ['optimizer kind unknown', withJson('optimizer', (o) => ({ ...o, kind: 'rmsprop' })), 'metadata optimizer.kind is "rmsprop"; must be one of sgd, adam, adamw'],
  ['optimizer kind "__proto__"', withJson('optimizer', (o) => ({ ...o, kind: '__proto__' })), 'metadata optimizer.kind is "__proto__"; must be one of sgd, adam, adamw'],
  ['optimizer kind missing', withJson('optimizer', (o) => ({ lr: o.lr })), 'metadata optimizer.kind is undefined; must be one of sgd, adam, adamw'],
  ['optimizer lr 0', withJson('optimizer', (o) => ({ ...o, lr: 0 })), 'metadata optimizer.lr is 0; must be a finite number > 0 and ≤ 10'],
  ['optimizer beta2 1.5', withJson('optimizer', (o) => ({ ...o, beta2: 1.5 })), 'metadata optimizer.beta2 is 1.5; must be a finite number ≥ 0 and < 1'],
  ['sgd with Adam\'s betas', { optimizer: JSON.stringify({ kind: 'sgd', lr: 0.1, beta1: 0.9 }) }, 'metadata optimizer has unknown field "beta1" (known: kind, lr, momentum, nesterov, weightDecay, l1, decay)'],
  ['decay groups unknown', withJson('optimizer', (o) => ({ ...o, decay: 'biases' })), 'metadata optimizer.decay is "biases"; must be one of all, matrices'],
  ['momentum 1', { optimizer: JSON.stringify({ kind: 'sgd', lr: 0.1, momentum: 1 }) }, 'metadata optimizer.momentum is 1; must be a finite number ≥ 0 and < 1'],
  ['schedule kind unknown', withJson('schedule', () => ({ kind: 'linear' })), 'metadata schedule.kind is "linear"; must be one of constant, step, exponential, cosine, onecycle'],
  ['step schedule of step size 0', withJson('schedule', () => ({ kind: 'step', stepSize: 0, gamma: 0.1 })), 'metadata schedule.stepSize is 0; must be a whole number in [1, 1000000]'],
  ['warm-up steps negative', withJson('schedule', () => ({ kind: 'warmup-cosine', warmupSteps: -1 })), 'metadata schedule.warmupSteps is -1; must be a whole number in [0, 1000000000]'],
  ['onecycle warm-up fraction 1', withJson('schedule', () => ({ kind: 'onecycle', pctStart: 1 })), 'metadata schedule.pctStart is 1; must be a finite number > 0 and < 1'],
  ['batch size 0', withJson('trainer', (t) => ({ ...t, batchSize: 0 })), 'metadata trainer.batchSize is 0; must be a whole number in [1, 65536]'],
  ['steps per epoch missing', withJson('trainer', ({ stepsPerEpoch: _, ...t }) => t), 'metadata trainer.stepsPerEpoch is missing'],
  ['label smoothing 1', withJson('trainer', (t) => ({ ...t, labelSmoothing: 1 })), 'metadata trainer.labelSmoothing is 1; must be a finite number ≥ 0 and < 1'],
  ['rotation 360°', withJson('trainer', (t) => ({ ...t, augment: { ...(t.augment as object), maxRotationDegrees: 360 } })), 'metadata trainer.augment.maxRotationDegrees is 360; must be a finite number ≥ 0 and ≤ 180'],
  ['frozen not a list', withJson('trainer', (t) => ({ ...t, frozen: 'fc1.' })), 'metadata trainer.frozen is "fc1."; must be a list of 0 to 100000 entries'],
  ['negative learning-rate multiplier', withJson('trainer', (t) => ({ ...t, lrMultipliers: { 'fc1.': -1 } })), 'metadata trainer.lrMultipliers."fc1." is -1; must be a finite number ≥ 0 and ≤ 1000'],
  ['clip norm that was Infinity (JSON writes null)', withJson('trainer', (t) => ({ ...t, clipNorm: Number.POSITIVE_INFINITY })), 'metadata trainer.clipNorm is null; must be a finite number > 0'],
  ['an unknown trainer field', withJson('trainer', (t) => ({ ...t, warmup: 5 })), 'metadata trainer has unknown field "warmup"'],
  ['epoch negative', { epoch: '-1' }, 'metadata epoch is -1; must be a whole number in [0, 1000000]'],
  ['epoch fractional', { epoch: '1.5' }, 'metadata epoch is "1.5"; must be a whole number in [0, 1000000]'],
  ['epoch missing', { epoch: undefined }, 'metadata epoch is missing'],
  ['step past u32', { step: '4294967296' }, 'metadata step is 4294967296; must be a whole number in [0, 4294967295]'],
  ['seed not a number', { seed: 'one' }, 'metadata seed is "one"; must be a whole number in [0, 4294967295]'],
  ['version not a short string', { webgrad_version: 'x'.repeat(200) }, 'metadata webgrad_version is "xxxx'],
];

describe('a checkpoint with one bad metadata field is refused, naming the file and the field', () => {
  it.each(badFields)('%s', (_, metadata, message) => {
    expect(() => decodeCheckpoint(checkpointBytes(metadata), SOURCE)).toThrow(`${SOURCE}: ${message}`);
  });
});

// The mlp drawn as a graph: its tensors are the ones tensors() makes, so only the description differs.
const GRAPH = modelToGraph(zooModel('mlp'));
type Graph = typeof GRAPH;
const withGraph = (edit: (graph: Graph) => unknown) => ({ model: JSON.stringify({ graph: edit(structuredClone(GRAPH)) }) });
const editLayer = (index: number, fields: Record<string, unknown>) => withGraph((g) => ({ ...g, layers: g.layers.map((l, i) => (i === index ? { ...l, ...fields } : l)) }));
const editNode = (index: number, fields: Record<string, unknown>) => withGraph((g) => ({ ...g, nodes: g.nodes.map((n, i) => (i === index ? { ...n, ...fields } : n)) }));

describe('a checkpoint that describes its model as a graph', () => {
  it('decodes and rebuilds the model with the same tensors', () => {
    const ckpt = decodeCheckpoint(checkpointBytes(withGraph((g) => g)), SOURCE);
    expect(ckpt.model).toEqual({ graph: GRAPH });
    expect(modelFromCheckpoint(ckpt).parameterSpecs()).toEqual(zooModel('mlp').parameterSpecs());
  });

  const flat = (units: number, inputShape: number[]): Graph => ({
    inputs: [{ name: 'x', shape: inputShape, dtype: 'f32' }],
    layers: [{ type: 'Flatten', name: 'flat' }, { type: 'Dense', name: 'fc', units, activation: 'none', useBias: true, init: 'glorot' }],
    nodes: [{ layer: 'flat', inputs: ['x'], output: 'flat' }, { layer: 'fc', inputs: ['flat'], output: 'fc' }],
    outputs: ['fc'],
  });
  const conv = (filters: number) => ({ type: 'Conv2D', name: 'conv1', filters, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', activation: 'relu', useBias: true });
  const badGraphs: [string, Record<string, string>, string][] = [
    ['graph beside a zoo name', { model: JSON.stringify({ graph: GRAPH, zoo: 'mlp' }) }, 'metadata model has unknown field "zoo" (known: graph)'],
    ['graph not an object', { model: JSON.stringify({ graph: [GRAPH] }) }, 'metadata model.graph is a list; must be an object'],
    ['unknown layer type', editLayer(1, { type: 'Transformer' }), 'metadata model.graph.layers[1].type is "Transformer"; must be one of Dense, Conv2D, MaxPool2D'],
    ['layer type "__proto__"', editLayer(1, { type: '__proto__' }), 'metadata model.graph.layers[1].type is "__proto__"; must be one of'],
    ['absurd units', editLayer(1, { units: 1e9 }), 'metadata model.graph.layers[1].units is 1000000000; must be a whole number in [1, 65536]'],
    ['absurd filters', withGraph((g) => ({ ...g, layers: [conv(1e7)] })), 'metadata model.graph.layers[0].filters is 10000000; must be a whole number in [1, 65536]'],
    ['units as a string', editLayer(1, { units: '64' }), 'metadata model.graph.layers[1].units is "64"; must be a whole number'],
    ['a field the layer does not take', editLayer(2, { filters: 3 }), 'metadata model.graph.layers[2] has unknown field "filters" (known: type, name, units, activation, useBias, init)'],
    ['a missing field', withGraph((g) => ({ ...g, layers: g.layers.map(({ init: _, ...l }) => l) })), 'metadata model.graph.layers[1].init is missing'],
    ['an own "__proto__" field in a layer', { model: JSON.stringify({ graph: GRAPH }).replace('"name":"fc1"', '"name":"fc1","__proto__":{"units":5}') }, 'metadata model.graph.layers[1] has unknown field "__proto__"'],
    ['a layer named "__proto__"', editLayer(0, { name: '__proto__' }), 'metadata model.graph.layers[0].name is "__proto__", a name JavaScript reserves for objects'],
    ['a node applying a layer named "constructor"', editNode(0, { layer: 'constructor' }), 'metadata model.graph.nodes[0].layer is "constructor", a name JavaScript reserves'],
    ['an input named "constructor"', withGraph((g) => ({ ...g, inputs: [{ ...g.inputs[0]!, name: 'constructor' }] })), 'metadata model.graph.inputs[0].name is "constructor", a name JavaScript reserves'],
    ['a name that is not a state_dict name', editLayer(1, { name: 'fc 1' }), 'metadata model.graph.layers[1].name is "fc 1"; must start with a letter or _'],
    ['two layers of one name', editLayer(2, { name: 'fc1' }), 'metadata model.graph.layers[2].name is "fc1", which an earlier layer already has'],
    ['a node reading an unknown tensor', editNode(1, { inputs: ['ghost'] }), 'metadata model.graph.nodes[1].inputs[0] is "ghost"; no input or node writes it'],
    ['a cycle', editNode(0, { inputs: ['fc1'] }), 'metadata model.graph.nodes[0].inputs[0] is "fc1"; a later node writes it (nodes must come in order, so a cycle cannot be described)'],
    ['a node applying an unknown layer', editNode(2, { layer: 'fc9' }), 'metadata model.graph.nodes[2].layer is "fc9"; no layer has that name'],
    ['a node writing a tensor already defined', editNode(1, { output: 'input' }), 'metadata model.graph.nodes[1].output is "input", which names a tensor already defined'],
    ['an output nothing writes', withGraph((g) => ({ ...g, outputs: ['logits'] })), 'metadata model.graph.outputs[0] is "logits"; no input or node writes it'],
    ['a layer no node applies', withGraph((g) => ({ ...g, layers: [...g.layers, { type: 'Flatten', name: 'spare' }] })), 'metadata model.graph.layers[3] ("spare") is applied by no node'],
    ['a node that leads to no output', withGraph((g) => ({ ...g, layers: [...g.layers, { type: 'Flatten', name: 'spare' }], nodes: [...g.nodes, { layer: 'spare', inputs: ['input'], output: 'spare' }] })), 'metadata model.graph.nodes[3] leads to no output'],
    ['a layer applied to the wrong shape', editNode(1, { inputs: ['input'] }), 'metadata model.graph.nodes[1] does not apply (layer fc1 (Dense(64, relu)) expects a flat input [features] or a sequence [tokens, features] (add Flatten before it), got input shape [1, 28, 28])'],
    ['too many nodes', withGraph((g) => ({ ...g, nodes: Array.from({ length: 1025 }, () => g.nodes[0]) })), 'metadata model.graph.nodes is a list of 1025; must be a list of 1 to 1024 entries'],
    ['too many layers', withGraph((g) => ({ ...g, layers: Array.from({ length: 5000 }, (_, i) => ({ type: 'Flatten', name: `f${i}` })) })), 'metadata model.graph.layers is a list of 5000; must be a list of 1 to 1024 entries'],
    ['an input too large', withGraph(() => flat(10, [4096, 4096, 4096])), 'metadata model.graph.inputs[0].shape describes a tensor of 68719476736 elements per sample; at most 16777216 are allowed'],
    ['an input of rank 5', withGraph(() => flat(10, [1, 1, 1, 1, 1])), 'metadata model.graph.inputs[0].shape is a list of 5; must be a list of 1 to 4 entries'],
    ['too many parameters', withGraph(() => flat(65_536, [1, 4096, 4096])), 'metadata model.graph describes 1099511693312 parameters; at most 268435456 are allowed'],
    ['a shared Dropout', withGraph((g) => ({
      ...g, layers: [...g.layers, { type: 'Dropout', name: 'drop', rate: 0.5 }],
      nodes: [g.nodes[0], { layer: 'drop', inputs: ['flatten1'], output: 'd1' }, { layer: 'drop', inputs: ['d1'], output: 'd2' }, { ...g.nodes[1], inputs: ['d2'] }, g.nodes[2]],
    })), 'metadata model.graph does not build (layer drop (Dropout(0.5)) is applied 2 times; it keeps per-application state and cannot be shared)'],
    ['softmax in the middle', withGraph((g) => ({
      ...g, layers: [...g.layers, { type: 'Softmax', name: 'soft' }],
      nodes: [g.nodes[0], g.nodes[1], { layer: 'soft', inputs: ['fc1'], output: 'soft' }, { ...g.nodes[2], inputs: ['soft'] }],
    })), 'metadata model.graph does not build (layer soft: Softmax is only supported as the last layer)'],
  ];
  it.each(badGraphs)('refuses %s, naming the field', (_, metadata, message) => {
    expect(() => decodeCheckpoint(checkpointBytes(metadata), SOURCE)).toThrow(`${SOURCE}: ${message}`);
  });
});

// A character-level gpt of vocabulary 5 as a graph; the schema reads only the description, so the mlp's tensors do.
const GPT = { model: JSON.stringify({ graph: modelToGraph(gptModel({ vocab: 5, context: 4, layers: 1, heads: 1, width: 4 })) }), class_names: undefined };
const CHARS = ['\n', ' ', 'a', 'é', '🐋'];
const withTokenizer = (tokenizer: unknown) => ({ ...GPT, tokenizer: JSON.stringify(tokenizer) });

describe('a language model\'s tokenizer', () => {
  it('decodes a character vocabulary in id order, characters outside the BMP included', () => {
    expect(decodeCheckpoint(checkpointBytes(withTokenizer({ kind: 'char', chars: CHARS })), SOURCE).tokenizer).toEqual({ kind: 'char', chars: CHARS });
    expect(decodeCheckpoint(checkpointBytes({}), SOURCE).tokenizer).toBeUndefined();
  });

  const byteGpt = { model: JSON.stringify({ graph: modelToGraph(gptModel({ vocab: 256, context: 4, layers: 1, heads: 1, width: 4 })) }), class_names: undefined, tokenizer: JSON.stringify({ kind: 'byte' }) };
  it('decodes a byte tokenizer on a gpt of vocabulary 256', () => {
    expect(decodeCheckpoint(checkpointBytes(byteGpt), SOURCE).tokenizer).toEqual({ kind: 'byte' });
  });

  const badTokenizers: [string, Record<string, string | undefined>, string][] = [
    ['not JSON', { ...GPT, tokenizer: '{kind: char' }, 'metadata tokenizer is not valid JSON'],
    ['a list', withTokenizer(CHARS), 'metadata tokenizer is a list; must be an object'],
    ['an unknown kind', withTokenizer({ kind: 'bpe', merges: [] }), 'metadata tokenizer.kind is "bpe"; must be one of char, byte'],
    ['kind "__proto__"', withTokenizer({ kind: '__proto__' }), 'metadata tokenizer.kind is "__proto__"; must be one of char, byte'],
    ['no kind', withTokenizer({ chars: CHARS }), 'metadata tokenizer.kind is undefined; must be one of char, byte'],
    ['chars missing', withTokenizer({ kind: 'char' }), 'metadata tokenizer.chars is missing'],
    ['chars a string', withTokenizer({ kind: 'char', chars: CHARS.join('') }), 'metadata tokenizer.chars is "\\n aé🐋"; must be a list of 1 to 65536 entries'],
    ['chars empty', withTokenizer({ kind: 'char', chars: [] }), 'metadata tokenizer.chars is a list of 0; must be a list of 1 to 65536 entries'],
    ['chars oversize', withTokenizer({ kind: 'char', chars: Array.from({ length: 70_000 }, (_, i) => String.fromCodePoint(i + 0x20000)) }), 'metadata tokenizer.chars is a list of 70000; must be a list of 1 to 65536 entries'],
    ['a number for a character', withTokenizer({ kind: 'char', chars: ['a', 7, 'b', 'c', 'd'] }), 'metadata tokenizer.chars[1] is 7; must be one character (a single Unicode code point)'],
    ['two characters in one entry', withTokenizer({ kind: 'char', chars: ['a', 'bc', 'd', 'e', 'f'] }), 'metadata tokenizer.chars[1] is "bc"; must be one character'],
    ['an empty entry', withTokenizer({ kind: 'char', chars: ['a', '', 'd', 'e', 'f'] }), 'metadata tokenizer.chars[1] is ""; must be one character'],
    ['a lone surrogate', { ...GPT, tokenizer: '{"kind":"char","chars":["a","\\ud83d","b","c","d"]}' }, 'metadata tokenizer.chars[1] is "\\ud83d"; must be one character'],
    ['a repeated character', withTokenizer({ kind: 'char', chars: ['a', 'b', 'c', 'b', 'd'] }), 'metadata tokenizer.chars[3] is "b", the same character as tokenizer.chars[1]; each character must appear once'],
    ['a field a char tokenizer does not have', withTokenizer({ kind: 'char', chars: CHARS, lowercase: true }), 'metadata tokenizer has unknown field "lowercase" (known: kind, chars)'],
    ['chars on a byte tokenizer', withTokenizer({ kind: 'byte', chars: CHARS }), 'metadata tokenizer has unknown field "chars" (known: kind)'],
    ['a vocabulary the embedding does not have', withTokenizer({ kind: 'char', chars: ['a', 'b', 'c'] }), 'metadata tokenizer has a vocabulary of 3 tokens but the model\'s embedding transformer.wte has 5'],
    ['bytes on a gpt of vocabulary 5', withTokenizer({ kind: 'byte' }), 'metadata tokenizer has a vocabulary of 256 tokens but the model\'s embedding transformer.wte has 5'],
    ['a tokenizer on an image model', { tokenizer: JSON.stringify({ kind: 'byte' }) }, 'metadata tokenizer is given but the model does not take token ids (no Embedding reads its input)'],
  ];
  it.each(badTokenizers)('refuses %s, naming the field', (_, metadata, message) => {
    expect(() => decodeCheckpoint(checkpointBytes(metadata), SOURCE)).toThrow(`${SOURCE}: ${message}`);
  });
});

describe('values', () => {
  it('refuses NaN and infinite weights and moments, naming the tensor and the index', () => {
    const nan = tensors((name, data) => { if (name === 'fc2.weight') data[17] = Number.NaN; });
    expect(() => decodeCheckpoint(checkpointBytes({}, nan), SOURCE)).toThrow(`${SOURCE}: tensor fc2.weight holds NaN at index 17 of 640; a checkpoint's values must be finite`);
    const infinite = tensors();
    (infinite.get('optimizer.fc1.bias.exp_avg')!.data as Float32Array)[3] = Number.NEGATIVE_INFINITY;
    expect(() => decodeCheckpoint(checkpointBytes({}, infinite), SOURCE)).toThrow(`${SOURCE}: tensor optimizer.fc1.bias.exp_avg holds -Infinity at index 3 of 64`);
  });
});

describe('the Node reader', () => {
  let folder = '';
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'webgrad-schema-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('names the path it read', async () => {
    const path = join(folder, 'bad.safetensors');
    await writeFile(path, checkpointBytes(withJson('optimizer', (o) => ({ ...o, kind: 'rmsprop' }))));
    await expect(readCheckpoint(path)).rejects.toThrow(`${path}: metadata optimizer.kind is "rmsprop"; must be one of sgd, adam, adamw`);
  });
});

