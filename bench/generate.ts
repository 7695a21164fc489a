// Generation throughput of a small gpt: tokens/s with the KV-cache decoder against recomputing the
// whole window with the full forward program per token, greedy from a one-token prompt (every
// position inside the context), plus the cached decoder once the window slides (each token then
// rebuilds the cache). Random weights, spread so that both paths' greedy tokens can be compared;
// speed does not depend on them. Rounds alternate between the
// decoders and each keeps its best, since the machine is shared.
//   npx tsx bench/generate.ts [--layers 4] [--heads 4] [--width 128] [--context 128] [--vocab 65] [--tokens 100] [--rounds 2]
import { writeFileSync } from 'node:fs';
import { spreadWeights } from '../test/helpers/gpt-weights.ts';
import { createGpu, FullWindowDecoder, generateTokens, gptModel, KvCacheDecoder, ModelState, tuneGemm, type NextTokenModel } from 'webgrad';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const sizes = { layers: arg('layers', 4), heads: arg('heads', 4), width: arg('width', 128), context: arg('context', 128), vocab: arg('vocab', 65) };
const tokens = Math.min(arg('tokens', 100), sizes.context - 1);
const rounds = arg('rounds', 2);
const slidTokens = 20;

const gpu = await createGpu();
await tuneGemm(gpu);
const model = gptModel(sizes);
const state = new ModelState(gpu, model, spreadWeights(model, 1));
const cached = new KvCacheDecoder(gpu, state), full = new FullWindowDecoder(gpu, state);
const greedy = { temperature: 0, seed: 0 };

/** Tokens per second of generating `count` tokens after `prompt`, and the tokens. */
async function timed(decoder: NextTokenModel, prompt: Uint32Array, count: number): Promise<{ perSecond: number; ids: Uint32Array }> {
  const start = performance.now();
  const ids = await generateTokens(decoder, prompt, { ...greedy, tokens: count });
  return { perSecond: (count * 1000) / (performance.now() - start), ids };
}

const prompt = Uint32Array.of(0);
const window = Uint32Array.from({ length: sizes.context }, (_, i) => i % sizes.vocab);
// Compiles every pipeline and warms the caches of both paths.
await generateTokens(cached, window, { ...greedy, tokens: 2 });
await generateTokens(full, prompt, { ...greedy, tokens: 2 });
const best = { cached: 0, full: 0, slid: 0 };
let same = true;
for (let round = 0; round < rounds; round++) {
  const withCache = await timed(cached, prompt, tokens);
  const withoutCache = await timed(full, prompt, tokens);
  same &&= withCache.ids.every((id, i) => id === withoutCache.ids[i]);
  best.cached = Math.max(best.cached, withCache.perSecond);
  best.full = Math.max(best.full, withoutCache.perSecond);
  best.slid = Math.max(best.slid, (await timed(cached, window, slidTokens)).perSecond);
}

const result = {
  adapter: gpu.describe(), command: 'npx tsx bench/generate.ts', date: new Date().toISOString(), ...sizes, parameters: model.parameterCount(),
  tokens, rounds, kvCacheTokensPerSecond: best.cached, fullWindowTokensPerSecond: best.full, speedup: best.cached / best.full,
  slidWindowTokens: slidTokens, slidWindowTokensPerSecond: best.slid, sameGreedyTokens: same,
};
console.log(`adapter: ${result.adapter}`);
console.log(`gpt ${sizes.layers} layers × ${sizes.heads} heads × width ${sizes.width}, context ${sizes.context}, vocab ${sizes.vocab} (${result.parameters} parameters); greedy, ${tokens} tokens from a 1-token prompt, best of ${rounds}`);
console.log(`  KV cache     ${best.cached.toFixed(1)} tokens/s`);
console.log(`  full window  ${best.full.toFixed(1)} tokens/s   (KV cache ${result.speedup.toFixed(1)}× faster; same tokens: ${same})`);
console.log(`  KV cache past the context (each token rebuilds the window): ${best.slid.toFixed(1)} tokens/s over ${slidTokens} tokens`);
writeFileSync(new URL('results/generate.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
cached.destroy(); full.destroy(); state.destroy(); gpu.destroy();
if (!same) throw new Error('bench/generate: the KV-cache decoder and full recomputation generated different greedy tokens');
