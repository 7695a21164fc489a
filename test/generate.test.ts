// Text generation from a gpt: recognising a gpt, the KV-cache decoder against recomputing the whole
// window with the full forward program (logits within float tolerance, the same greedy tokens, the
// crop past the context), one submit per token with nothing created, and sampling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countDeviceWork, testGpu } from './helpers/gpu.ts';
import { maxRelativeError, rng } from './helpers/random.ts';
import { spreadWeights } from './helpers/gpt-weights.ts';
import { gptModel, type GptOptions } from '../src/model/gpt.ts';
import { gptOptionsOf } from '../src/model/gpt-options.ts';
import { Model } from '../src/model/model.ts';
import { zooModel } from '../src/model/zoo.ts';
import { input } from '../src/layers/layer.ts';
import { Dense } from '../src/layers/layers.ts';
import { Embedding, PositionalEmbedding } from '../src/layers/tokens.ts';
import { LayerNorm, transformerBlock } from '../src/layers/transformer.ts';
import { modelFromGraph, modelToGraph } from '../src/io/model-graph.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { KvCacheDecoder } from '../src/generate/kv-decoder.ts';
import { FullWindowDecoder } from '../src/generate/window-decoder.ts';
import { generateTokens } from '../src/generate/generate.ts';
import { sampleToken } from '../src/generate/sampling.ts';
import { textStream } from '../src/generate/text-stream.ts';
import { ByteTokenizer, CharTokenizer } from '../src/data/text.ts';
import { encodeCheckpoint } from '../src/io/checkpoint.ts';
import type { Gpu } from '../src/gpu/device.ts';

/** A model with the given input and blocks, drawn as gptModel draws it except for the blocks' causal flags. */
function gptLike(o: GptOptions, causal: (block: number) => boolean): Model {
  const ids = input([o.context], { dtype: 'u32' });
  let x = new PositionalEmbedding({ name: 'transformer.wpe' }).apply(new Embedding({ vocab: o.vocab, width: o.width, name: 'transformer.wte' }).apply(ids));
  for (let i = 0; i < o.layers; i++) x = transformerBlock(x, { heads: o.heads, causal: causal(i), name: `transformer.h.${i}` });
  return new Model({ inputs: ids, outputs: new Dense({ units: o.vocab, useBias: false, name: 'lm_head' }).apply(new LayerNorm({ name: 'transformer.ln_f' }).apply(x)) });
}

function randomPrompt(length: number, vocab: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length }, () => Math.floor(next() * vocab));
}

async function decoders(gpu: Gpu, o: GptOptions, seed: number) {
  const model = gptModel(o);
  const state = new ModelState(gpu, model, spreadWeights(model, seed));
  const cached = new KvCacheDecoder(gpu, state), full = new FullWindowDecoder(gpu, state);
  return { cached, full, destroy: () => { cached.destroy(); full.destroy(); state.destroy(); } };
}

describe('gptOptionsOf', () => {
  const o: GptOptions = { vocab: 13, context: 6, layers: 3, heads: 3, width: 15 };

  it('reads the options back from gptModel, and from its graph as a checkpoint stores it', () => {
    expect(gptOptionsOf(gptModel(o), 'test')).toEqual(o);
    expect(gptOptionsOf(modelFromGraph(JSON.parse(JSON.stringify(modelToGraph(gptModel(o))))), 'test')).toEqual(o);
    const tied = { ...o, tieWeights: true };
    expect(gptOptionsOf(modelFromGraph(JSON.parse(JSON.stringify(modelToGraph(gptModel(tied))))), 'test')).toEqual(tied);
  });

  it('refuses an image model and a gpt drawn otherwise, naming the difference', () => {
    expect(() => gptOptionsOf(zooModel('cnn'), 'generate')).toThrow('generate: the model is not a gpt as gptModel draws it: its input is f32 [1, 28, 28], a gpt\'s is u32 token ids [context]');
    // The same layers with a bidirectional (non-causal) block: every parameter matches, the graph does not.
    expect(() => gptOptionsOf(gptLike(o, (i) => i !== 1), 'generate')).toThrow(/not a gpt as gptModel draws it: .* first differ at node \d+ \(layer sdpa2, ScaledDotProductAttention\(full\)\)/);
  });
});

describe('KV-cache decoding against recomputing the whole window', () => {
  const SIZES: GptOptions[] = [
    { vocab: 17, context: 8, layers: 3, heads: 2, width: 16 },
    { vocab: 29, context: 7, layers: 2, heads: 3, width: 15 },   // head width 5: no vec4 views anywhere
    { vocab: 11, context: 5, layers: 2, heads: 2, width: 12, tieWeights: true },   // lm_head reads transformer.wte
  ];

  it.each(SIZES)('logits of every step agree within float tolerance (vocab $vocab, context $context, $layers layers × $heads heads, width $width, tied $tieWeights)', async (o) => {
    const gpu = await testGpu();
    const { cached, full, destroy } = await decoders(gpu, o, 3);
    // Prompts of 1 token and of several, each grown past the context so the window slides.
    for (const promptLength of [1, 4]) {
      const sequence = Array.from(randomPrompt(promptLength, o.vocab, promptLength));
      const next = rng(promptLength + 10);
      for (let step = 0; step < o.context + 3; step++) {
        const tokens = Uint32Array.from(sequence);
        const [got, expected] = [await cached.next(tokens), await full.next(tokens)];
        // Logits of O(1–10) after three layers of f32 products over ≤ 64 terms: a few 1e-6 apart.
        expect(maxRelativeError(got, expected), `prompt ${promptLength}, step ${step}`).toBeLessThan(1e-4);
        sequence.push(Math.floor(next() * o.vocab));
      }
    }
    // A prompt of p tokens grown to p + context + 2 rebuilds once for each of the p + 2 lengths past
    // the context, and once for itself unless it is one token on an empty cache (an extension by
    // one row); every other step extends the cache by one row.
    expect(cached.rebuilds).toBe((1 + 2) + (1 + 4 + 2));
    destroy();
  });

  it('greedy decoding yields exactly the tokens of full recomputation, past the context, for prompts of 1 and 5 tokens', async () => {
    const gpu = await testGpu();
    const o: GptOptions = { vocab: 23, context: 9, layers: 3, heads: 4, width: 24 };
    const { cached, full, destroy } = await decoders(gpu, o, 8);
    const generated: number[] = [];
    for (const prompt of [randomPrompt(1, o.vocab, 1), randomPrompt(5, o.vocab, 2)]) {
      const sampling = { tokens: 2 * o.context, temperature: 0, seed: 0 };
      const [got, expected] = [await generateTokens(cached, prompt, sampling), await generateTokens(full, prompt, sampling)];
      expect(Array.from(got)).toEqual(Array.from(expected));
      generated.push(...got);
    }
    // Not a degenerate repeat of one token, which any two decoders would agree on.
    expect(new Set(generated).size).toBeGreaterThan(2);
    destroy();
  });

  it('one submit per token and nothing created once the cache is built; only vocab floats come back', async () => {
    const gpu = await testGpu();
    const o: GptOptions = { vocab: 19, context: 12, layers: 2, heads: 2, width: 16 };
    const { cached, destroy } = await decoders(gpu, o, 5);
    const sequence = Array.from(randomPrompt(3, o.vocab, 9));
    await cached.next(Uint32Array.from(sequence));
    const submitsBefore = cached.submits;
    const lengths: number[] = [];
    const work = await countDeviceWork(gpu, async () => {
      for (let t = 0; t < 6; t++) {
        sequence.push(t);
        lengths.push((await cached.next(Uint32Array.from(sequence))).length);
      }
    });
    expect(work).toEqual({ submits: 6, created: 0 });
    expect(cached.submits - submitsBefore).toBe(6);
    expect(cached.rebuilds).toBe(1);
    expect(lengths).toEqual(Array(6).fill(o.vocab));
    destroy();
  });

  it('refuses a non-gpt model, an empty sequence and ids outside the vocabulary by name', async () => {
    const gpu = await testGpu();
    const mlp = new ModelState(gpu, zooModel('mlp'));
    expect(() => new KvCacheDecoder(gpu, mlp)).toThrow(/^KvCacheDecoder: the model is not a gpt as gptModel draws it: its input is f32 \[1, 28, 28\]/);
    mlp.destroy();
    const { cached, destroy } = await decoders(gpu, { vocab: 5, context: 4, layers: 1, heads: 1, width: 4 }, 1);
    await expect(cached.next(new Uint32Array(0))).rejects.toThrow('KvCacheDecoder: needs at least one token to predict the next from');
    await expect(cached.next(Uint32Array.of(1, 7))).rejects.toThrow('KvCacheDecoder: token 7 at position 1 is outside the vocabulary 0..4');
    destroy();
  });
});

describe('sampleToken', () => {
  it('temperature 0 is the argmax, ties going to the lowest id', () => {
    expect(sampleToken([0.5, 2, -1, 2], { temperature: 0, seed: 1 }, 0)).toBe(1);
    expect(sampleToken([3, 3, 3], { temperature: 0, seed: 9 }, 4)).toBe(0);
  });

  it('draws in proportion to softmax(logits / temperature), only among the top k', () => {
    const count = (logits: number[], o: { temperature: number; topK?: number }, draws = 4000) => {
      const seen = new Array<number>(logits.length).fill(0);
      for (let i = 0; i < draws; i++) seen[sampleToken(logits, { ...o, seed: 7 }, i)]!++;
      return seen.map((n) => n / draws);
    };
    // softmax([0, ln 3]) = [1/4, 3/4]; 4000 draws put the frequency within ±0.02 of it.
    const [low, high] = count([0, Math.log(3)], { temperature: 1 });
    expect(Math.abs(high! - 0.75)).toBeLessThan(0.02);
    expect(low! + high!).toBeCloseTo(1, 12);
    // Temperature 2 halves the gap: weights 1 : √3.
    expect(Math.abs(count([0, Math.log(3)], { temperature: 2 })[1]! - Math.sqrt(3) / (1 + Math.sqrt(3)))).toBeLessThan(0.02);
    // top-k 2 of [1, 5, 4, 0]: only ids 1 and 2 ever come out.
    const topTwo = count([1, 5, 4, 0], { temperature: 1, topK: 2 });
    expect(topTwo[0]).toBe(0);
    expect(topTwo[3]).toBe(0);
    expect(Math.abs(topTwo[1]! - 1 / (1 + Math.exp(-1)))).toBeLessThan(0.02);
    // top-k 1 is greedy whatever the temperature.
    expect(count([1, 5, 4, 0], { temperature: 10, topK: 1 }, 50)[1]).toBe(1);
  });

  it('a seed repeats its draws exactly and another seed draws others', () => {
    const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const draws = (seed: number) => Array.from({ length: 40 }, (_, i) => sampleToken(logits, { temperature: 1, seed }, i));
    expect(draws(11)).toEqual(draws(11));
    expect(draws(11)).not.toEqual(draws(12));
  });

  it('refuses bad options and non-finite logits by name', () => {
    expect(() => sampleToken([1, 2], { temperature: -1, seed: 0 }, 0)).toThrow('sampleToken: temperature must be a finite number ≥ 0, got -1');
    expect(() => sampleToken([1, 2], { temperature: 1, topK: 0, seed: 0 }, 0)).toThrow('sampleToken: topK must be a positive integer, got 0');
    expect(() => sampleToken([1, 2], { temperature: 1, seed: 2 ** 32 }, 0)).toThrow(/sampleToken: seed must be an integer in \[0, 4294967295\]/);
    expect(() => sampleToken([1, NaN], { temperature: 1, seed: 0 }, 0)).toThrow('sampleToken: the logit of token 1 is NaN; the model produced non-finite values');
  });
});

describe('textStream', () => {
  it('gives a character token its text and holds bytes back until their UTF-8 character is whole', () => {
    const chars = textStream(new CharTokenizer(['a', '🙂']));
    expect([chars.push(1), chars.push(0), chars.end()]).toEqual(['🙂', 'a', '']);
    const bytes = textStream(new ByteTokenizer());
    expect([...new TextEncoder().encode('é!')].map((id) => bytes.push(id))).toEqual(['', 'é', '!']);
    expect([bytes.push(0xe2), bytes.end()]).toEqual(['', '\uFFFD']);
  });
});

describe('scripts/generate.ts', () => {
  const REPO = join(import.meta.dirname, '..');
  const TINY: GptOptions = { vocab: 9, context: 6, layers: 2, heads: 2, width: 8 };
  const tokenizer = CharTokenizer.fromCorpus('hello, world');
  let folder: string;
  const paths = { gpt: '', untokenized: '', bidirectional: '' };

  function generate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate.ts', ...args], { cwd: REPO, encoding: 'utf8', timeout: 90_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  }

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'webgrad-generate-'));
    const gpu = await testGpu();
    const save = async (model: Model, path: string, withTokenizer: boolean) => {
      const state = new ModelState(gpu, model, spreadWeights(model, 4));
      writeFileSync(path, await encodeCheckpoint(state, { epoch: 1, normalize: { mean: 0, std: 1 }, ...(withTokenizer ? { tokenizer: tokenizer.describe() } : {}) }));
      state.destroy();
    };
    paths.gpt = join(folder, 'gpt.safetensors');
    paths.untokenized = join(folder, 'no-tokenizer.safetensors');
    paths.bidirectional = join(folder, 'bidirectional.safetensors');
    await save(gptModel(TINY), paths.gpt, true);
    await save(gptModel(TINY), paths.untokenized, false);
    await save(gptLike(TINY, () => false), paths.bidirectional, true);
  });

  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('streams the prompt and the library\'s greedy continuation to stdout, the same with and without the cache, and reports tokens/s on stderr', async () => {
    const gpu = await testGpu();
    const model = gptModel(TINY);
    const state = new ModelState(gpu, model, spreadWeights(model, 4));
    const decoder = new KvCacheDecoder(gpu, state);
    const ids = await generateTokens(decoder, tokenizer.encode('hel'), { tokens: 10, temperature: 0, seed: 1 });
    decoder.destroy();
    state.destroy();
    const expected = `hel${tokenizer.decode(ids)}\n`;

    const cached = generate('--ckpt', paths.gpt, '--prompt', 'hel', '--tokens', '10', '--temperature', '0');
    expect(cached.stderr).not.toMatch(/generate:/);
    expect(cached.status).toBe(0);
    expect(cached.stdout).toBe(expected);
    expect(cached.stderr).toMatch(/adapter: .*\n/);
    expect(cached.stderr).toMatch(/10 tokens in \d+\.\d\d s: \d+\.\d tokens\/s/);
    expect(cached.stderr).toContain('KV cache');
    const full = generate('--ckpt', paths.gpt, '--prompt', 'hel', '--tokens', '10', '--temperature', '0', '--no-cache');
    expect(full.status).toBe(0);
    expect(full.stdout).toBe(expected);
    expect(full.stderr).toContain('no cache');
  });

  it('repeats its text for a seed, and another seed samples other text', () => {
    const run = (seed: string) => generate('--ckpt', paths.gpt, '--prompt', 'w', '--tokens', '24', '--temperature', '1.5', '--top-k', '6', '--seed', seed);
    const [first, again, other] = [run('3'), run('3'), run('4')];
    expect(first.status).toBe(0);
    expect(first.stdout).toHaveLength(1 + 24 + 1);
    expect(again.stdout).toBe(first.stdout);
    expect(other.stdout).not.toBe(first.stdout);
  });

  it('refuses what it cannot run, naming the file, flag, character or value', () => {
    const outside = generate('--ckpt', paths.gpt, '--prompt', 'hello?');
    expect(outside.status).toBe(2);
    expect(outside.stderr).toContain('generate: --prompt: CharTokenizer.encode: character "?" (U+003F) at position 5 is not in the vocabulary of 9 characters');
    const empty = generate('--ckpt', paths.gpt, '--prompt', '');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('generate: --prompt: must hold at least one character to continue from');
    const untokenized = generate('--ckpt', paths.untokenized);
    expect(untokenized.status).toBe(1);
    expect(untokenized.stderr).toContain(`generate: ${paths.untokenized}: the checkpoint holds no tokenizer (metadata key "tokenizer")`);
    const bidirectional = generate('--ckpt', paths.bidirectional);
    expect(bidirectional.status).toBe(1);
    expect(bidirectional.stderr).toMatch(/generate: .*bidirectional\.safetensors: the model is not a gpt as gptModel draws it: .*ScaledDotProductAttention\(full\)/);
    const negative = generate('--ckpt', paths.gpt, '--temperature', '-1');
    expect(negative.status).toBe(2);
    expect(negative.stderr).toContain('generate: --temperature: must be a number ≥ 0, got "-1"');
    const missing = generate('--prompt', 'h');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('generate: --ckpt: needs the checkpoint to generate from');
    const help = generate('--help');
    expect(help.status).toBe(0);
    for (const flag of ['--ckpt', '--prompt', '--tokens', '--temperature', '--top-k', '--seed', '--cache']) expect(help.stdout).toContain(flag);
  });
});
