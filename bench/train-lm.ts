// Language-model training throughput: a small character-level gpt on Moby-Dick, tokens/s (batch ·
// context per step) and ms per step after a short warm-up, with the loss before and after as a
// check that it trains. The whole corpus is encoded and uploaded once; each step sends only starts.
//   npx tsx bench/train-lm.ts [--corpus FILE] [--layers 2] [--heads 4] [--width 64] [--context 64] [--batch 16] [--steps 20]
import { readFileSync, writeFileSync } from 'node:fs';
import { rng } from '../test/helpers/random.ts';
import { CharTokenizer, createGpu, destroyDataset, gptModel, ModelState, Trainer, tuneGemm, uploadTokens } from 'webgrad';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const corpusFile = arg('corpus', new URL('../../shared/data/text/moby-dick.txt', import.meta.url).pathname);
const sizes = { layers: Number(arg('layers', '2')), heads: Number(arg('heads', '4')), width: Number(arg('width', '64')), context: Number(arg('context', '64')) };
const batch = Number(arg('batch', '16'));
const steps = Number(arg('steps', '20'));
const WARMUP = 3;

const corpus = readFileSync(corpusFile, 'utf8');
const tokenizer = CharTokenizer.fromCorpus(corpus);
const stream = tokenizer.encode(corpus);
const gpu = await createGpu();
await tuneGemm(gpu);
const model = gptModel({ vocab: tokenizer.vocab, ...sizes });
const data = uploadTokens(gpu, stream, { vocab: tokenizer.vocab, context: sizes.context, name: 'moby-dick' });
const state = new ModelState(gpu, model, model.initialValues(1));
const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: { kind: 'adamw', lr: 3e-3 }, stepsPerEpoch: 1000, totalSteps: 1000 });
const next = rng(1);
const starts = () => Uint32Array.from({ length: batch }, () => Math.floor(next() * (stream.length - sizes.context)));

for (let s = 0; s < WARMUP; s++) await trainer.step(starts());
const firstLoss = (await trainer.totals()).loss;
trainer.resetTotals();
const started = performance.now();
for (let s = 0; s < steps; s++) await trainer.step(starts());
const lastLoss = (await trainer.totals()).loss;
const msPerStep = (performance.now() - started) / steps;
const tokensPerSecond = (batch * sizes.context * 1000) / msPerStep;

const result = {
  adapter: gpu.describe(), corpus: corpusFile.split('/').at(-1), corpusTokens: stream.length, vocab: tokenizer.vocab, ...sizes, batch, steps,
  parameters: model.parameterCount(), msPerStep, tokensPerSecond, warmupLoss: firstLoss, loss: lastLoss, peakBytes: trainer.memory.peakBytes,
};
console.log(`adapter: ${result.adapter}`);
console.log(`gpt ${sizes.layers} layers × ${sizes.heads} heads × width ${sizes.width}, context ${sizes.context}, vocab ${tokenizer.vocab} (${result.parameters} parameters), batch ${batch}`);
console.log(`${tokensPerSecond.toFixed(0)} tokens/s, ${msPerStep.toFixed(1)} ms per step over ${steps} steps; loss ${firstLoss.toFixed(3)} (warm-up) → ${lastLoss.toFixed(3)}`);
writeFileSync(new URL('results/train-lm.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
trainer.destroy(); state.destroy(); destroyDataset(gpu, data); gpu.destroy();
