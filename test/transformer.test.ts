// Transformer layers wired into models: LayerNorm, GELU and fused attention forward against their
// float64 references and gradients against finite differences (causal too); multi-head
// self-attention drawn with nanoGPT's names; a tiny ViT trained on the GPU like the CPU twin, with
// one submit per step.
import { describe, expect, it } from 'vitest';
import { testGpu } from './helpers/gpu.ts';
import { expectTrainsLikeCpuTwin } from './helpers/cpu-twin.ts';
import { modelGradients } from './helpers/graph.ts';
import { numericGradient } from './helpers/gradcheck.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { layerNormForwardRef } from './reference/layernorm.ts';
import { geluForwardRef } from './reference/gelu.ts';
import { attentionForwardRef, causalMask } from './reference/attention.ts';
import { input, type SymbolicTensor } from '../src/layers/layer.ts';
import { Conv2D, Dense } from '../src/layers/layers.ts';
import { add, reshape, slice, transpose } from '../src/layers/ops.ts';
import { ClassToken, PositionalEmbedding } from '../src/layers/tokens.ts';
import { GELU, LayerNorm, multiHeadAttention, ScaledDotProductAttention } from '../src/layers/transformer.ts';
import { Model } from '../src/model/model.ts';
import { zooModel } from '../src/model/zoo.ts';

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** GPU outputs and gradients of every input and parameter against the reference and finite differences. */
async function check(build: (...xs: SymbolicTensor[]) => SymbolicTensor, shapes: number[][], batch: number,
  reference: (xs: Float64Array[], params: Map<string, Float64Array>) => Float64Array) {
  const gpu = await testGpu();
  const inputs = shapes.map((s, i) => input(s, { name: `x${i}` }));
  const model = new Model({ inputs, outputs: build(...inputs) });
  const params = model.initialValues(3);
  // Away from ones and zeros, so gamma and beta matter.
  for (const [name, v] of params) params.set(name, randomArray(v.length, name.length + 11, 0.5, 1.5));
  const xs = shapes.map((s, i) => randomArray(batch * count(s), 7 * i + 1));
  const dy = randomArray(batch * count(model.outputShape), 99);
  const got = await modelGradients(gpu, model, batch, xs, dy, params);
  const p64 = new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
  const x64 = xs.map((x) => Float64Array.from(x));
  expect(maxRelativeError(got.y, reference(x64, p64)), 'forward').toBeLessThan(2e-5);
  x64.forEach((x, i) => {
    const numeric = numericGradient((v) => reference(x64.map((o, j) => (j === i ? v : o)), p64), x, dy);
    expect(maxRelativeError(got.dxs[i]!, numeric, 1e-2), `input ${i}`).toBeLessThan(2e-4);
  });
  for (const [name, value] of p64) {
    const numeric = numericGradient((v) => reference(x64, new Map([...p64, [name, v]])), value, dy);
    expect(maxRelativeError(got.grads.get(name)!, numeric, 1e-2), name).toBeLessThan(2e-4);
  }
}

describe('transformer layers', () => {
  it.each([[[5, 7]], [[1, 1]], [[3, 2, 33]]] as const)('LayerNorm over the last axis of %j', async (shape) => {
    const batch = 2;
    await check((x) => new LayerNorm().apply(x), [[...shape]], batch, ([x], p) => layerNormForwardRef({ rows: batch * count(shape.slice(0, -1)), cols: shape.at(-1)! }, x!, p.get('ln1.weight')!, p.get('ln1.bias')!, 1e-5).y);
  });

  it('GELU', async () => {
    await check((x) => new GELU().apply(x), [[4, 9]], 2, ([x]) => geluForwardRef(x!));
  });

  it.each([[false, [2, 5, 3]], [true, [2, 5, 3]], [true, [1, 1, 4]], [false, [3, 7, 17]]] as const)('attention (causal %s) over %j', async (causal, shape) => {
    const batch = 2;
    const [heads, seq, headDim] = shape;
    await check((q, k, v) => new ScaledDotProductAttention({ causal }).apply(q!, k!, v!), [[...shape], [...shape], [...shape]], batch,
      ([q, k, v]) => attentionForwardRef({ batch, heads, seq, headDim }, q!, k!, v!, causal ? { mask: causalMask } : {}).o);
  });

  it.each([[[7, 3 * 2 * 5], 2, false], [[17, 3 * 4 * 4], 4, true], [[1, 3 * 3], 1, true]] as const)('fused-row attention on %j with %i heads (causal %s)', async (shape, heads, causal) => {
    const batch = 2;
    const [seq, fusedWidth] = shape;
    const headDim = fusedWidth / (3 * heads);
    const s = { batch, heads, seq, headDim };
    // The reference on [batch, heads, T, D] tensors, moved from and to the fused rows by hand.
    const at = (b: number, t: number, part: number, h: number, d: number) => (((b * seq + t) * 3 + part) * heads + h) * headDim + d;
    await check((qkv) => new ScaledDotProductAttention({ causal, heads }).apply(qkv!), [[...shape]], batch, ([qkv]) => {
      const [q, k, v] = [0, 1, 2].map((part) => Float64Array.from({ length: batch * heads * seq * headDim }, (_, i) => {
        const d = i % headDim, t = Math.floor(i / headDim) % seq, h = Math.floor(i / (headDim * seq)) % heads, b = Math.floor(i / (headDim * seq * heads));
        return qkv![at(b, t, part, h, d)]!;
      }));
      const o = attentionForwardRef(s, q!, k!, v!, causal ? { mask: causalMask } : {}).o;
      return Float64Array.from({ length: o.length }, (_, i) => {
        const d = i % headDim, h = Math.floor(i / headDim) % heads, t = Math.floor(i / (headDim * heads)) % seq, b = Math.floor(i / (headDim * heads * seq));
        return o[((b * heads + h) * seq + t) * headDim + d]!;
      });
    });
    expect(() => new ScaledDotProductAttention({ heads: 4 }).apply(input([5, 18]))).toThrow('fused q, k, v rows [tokens, 3·width] with the width a multiple of 4 heads');
    expect(() => new ScaledDotProductAttention({ heads: 0 })).toThrow('heads must be a positive integer, got 0');
  });

  it('multi-head attention on fused rows draws no split or permute and computes what the split form does', async () => {
    const gpu = await testGpu();
    const draw = (layout: 'heads' | 'tokens') => {
      const x = input([9, 12]);
      return new Model({ inputs: x, outputs: multiHeadAttention(x, { heads: 3, causal: true, layout, name: 'attn' }) });
    };
    const [split, fused] = [draw('heads'), draw('tokens')];
    expect(fused.parameterSpecs()).toEqual(split.parameterSpecs());
    expect(fused.layers.map((l) => l.kind)).toEqual(['fc', 'sdpa', 'fc']);
    const params = split.initialValues(4);
    const batch = 3;
    const xs = randomArray(batch * 9 * 12, 5), dy = randomArray(batch * 9 * 12, 6);
    const [a, b] = [await modelGradients(gpu, split, batch, xs, dy, params), await modelGradients(gpu, fused, batch, xs, dy, params)];
    expect(maxRelativeError(b.y, a.y)).toBeLessThan(1e-5);
    expect(maxRelativeError(b.dx, a.dx)).toBeLessThan(1e-5);
    for (const [name, grad] of a.grads) expect(maxRelativeError(b.grads.get(name)!, grad), name).toBeLessThan(1e-5);
  });

  it('multi-head self-attention carries nanoGPT names and its shapes are checked', () => {
    const x = input([6, 8]);
    const model = new Model({ inputs: x, outputs: multiHeadAttention(x, { heads: 2, causal: true, name: 'transformer.h.0.attn' }) });
    expect(model.parameterSpecs()).toEqual([
      { name: 'transformer.h.0.attn.c_attn.weight', shape: [24, 8] }, { name: 'transformer.h.0.attn.c_attn.bias', shape: [24] },
      { name: 'transformer.h.0.attn.c_proj.weight', shape: [8, 8] }, { name: 'transformer.h.0.attn.c_proj.bias', shape: [8] },
    ]);
    expect(() => multiHeadAttention(x, { heads: 3 })).toThrow('heads must be a positive integer dividing the width 8, got 3');
    expect(() => new ScaledDotProductAttention().apply(input([2, 3, 4]), input([2, 3, 4]), input([2, 4, 4]))).toThrow('must have one shape');
  });

  it.each(['heads', 'tokens'] as const)('a tiny ViT (patches, class token, a pre-norm block with causal-free attention, layout %s) trains 3 Adam steps like the CPU twin', async (layout) => {
    const gpu = await testGpu();
    const x = input([1, 8, 8]);
    const patches = new Conv2D({ filters: 8, kernelSize: 4, strides: 4 }).apply(x);
    let tokens = new PositionalEmbedding().apply(new ClassToken().apply(transpose(reshape(patches, [8, 4]))));
    tokens = add(tokens, multiHeadAttention(new LayerNorm().apply(tokens), { heads: 2, layout }));
    tokens = add(tokens, new Dense({ units: 8 }).apply(new GELU().apply(new Dense({ units: 16 }).apply(new LayerNorm().apply(tokens)))));
    const model = new Model({ inputs: x, outputs: new Dense({ units: 3 }).apply(reshape(slice(tokens, 0, 0, 1), [8])) });
    const next = rng(8);
    const set = { images: Uint8Array.from({ length: 16 * 64 }, () => Math.floor(next() * 256)), labels: Uint32Array.from({ length: 16 }, () => Math.floor(next() * 3)), count: 16, rows: 8, cols: 8 };
    await expectTrainsLikeCpuTwin(gpu, model, set, { classes: 3, optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0.01, eps: 1e-3 } });
  });

  it('the zoo vit builds for MNIST and names its parts', () => {
    const vit = zooModel('vit');
    expect(vit.inputShape).toEqual([1, 28, 28]);
    expect(vit.outputShape).toEqual([10]);
    expect(vit.parameterSpecs().map((s) => s.name)).toContain('cls1.weight');
    expect(vit.layers.filter((l) => l instanceof ScaledDotProductAttention)).toHaveLength(4);
  });
});
