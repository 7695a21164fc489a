// Language-model training throughput side by side: the same small character-level gpt on Moby-Dick
// trained by webgrad, by PyTorch on the CPU (bench/train-lm.py, the nanoGPT-layout GPT of the parity
// bench) and by TensorFlow.js's WebGPU backend on the same adapter (bench/helpers/tfjs-gpt.ts), each
// for a few warm-up steps and then a few timed ones: tokens/s (batch · context per step), ms per
// step, the loss over the warm-up and over the timed steps (a check that each side trains), and
// webgrad's ratio to the others. webgrad's corpus is encoded and uploaded once; each step sends only
// starts. AdamW on webgrad and PyTorch; TF.js has no AdamW, so tf.train.adam with the same rate.
//   npx tsx bench/train-lm.ts [--corpus FILE] [--layers 4] [--heads 4] [--width 128] [--context 128] [--batch 32]
//                             [--warmup 1] [--steps 3] [--lr 3e-3] [--sides webgrad,pytorch,tfjs]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { rng } from '../test/helpers/random.ts';
import { tfjsGpt } from './helpers/tfjs-gpt.ts';
import { tfjsWebgpu } from './tfjs.ts';
import { CharTokenizer, createGpu, destroyDataset, gptModel, ModelState, Trainer, tuneGemm, uploadTokens } from 'webgrad';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const SIDES = ['webgrad', 'pytorch', 'tfjs'] as const;
type Side = (typeof SIDES)[number];
const corpusFile = arg('corpus', new URL('../../shared/data/text/moby-dick.txt', import.meta.url).pathname);
const sizes = { layers: Number(arg('layers', '4')), heads: Number(arg('heads', '4')), width: Number(arg('width', '128')), context: Number(arg('context', '128')) };
const batch = Number(arg('batch', '32'));
const steps = Number(arg('steps', '3'));
const warmup = Number(arg('warmup', '1'));
const lr = Number(arg('lr', '3e-3'));
const sides = arg('sides', SIDES.join(',')).split(',');
for (const side of sides) if (!(SIDES as readonly string[]).includes(side)) throw new Error(`bench/train-lm.ts: --sides: unknown side ${JSON.stringify(side)} (expected ${SIDES.join(', ')})`);

interface Measured { msPerStep: number; tokensPerSecond: number; warmupLoss: number; loss: number }
type Outcome = Measured & Record<string, unknown> | { unavailable: string };

const corpus = readFileSync(corpusFile, 'utf8');
const tokenizer = CharTokenizer.fromCorpus(corpus);
const stream = tokenizer.encode(corpus);
const tokensPerStep = batch * sizes.context;
const next = rng(1);
const starts = () => Uint32Array.from({ length: batch }, () => Math.floor(next() * (stream.length - sizes.context)));

/** Mean loss over `warmup` untimed steps, then the timed steps' ms, tokens/s and mean loss. */
async function measure(step: () => Promise<number>): Promise<Measured> {
  let warmupLoss = 0, loss = 0;
  for (let s = 0; s < warmup; s++) warmupLoss += (await step()) / warmup;
  const began = performance.now();
  for (let s = 0; s < steps; s++) loss += (await step()) / steps;
  const msPerStep = (performance.now() - began) / steps;
  return { msPerStep, tokensPerSecond: (tokensPerStep * 1000) / msPerStep, warmupLoss, loss };
}

async function webgrad(): Promise<Outcome & { adapter: string; parameters: number; peakBytes: number }> {
  const gpu = await createGpu();
  await tuneGemm(gpu);
  const model = gptModel({ vocab: tokenizer.vocab, ...sizes });
  const data = uploadTokens(gpu, stream, { vocab: tokenizer.vocab, context: sizes.context, name: 'moby-dick' });
  const state = new ModelState(gpu, model, model.initialValues(1));
  const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: { kind: 'adamw', lr }, stepsPerEpoch: 1000, totalSteps: 1000 });
  // The loss is read back each step, as the other sides do, so the timed steps include one readback each.
  const measured = await measure(async () => { await trainer.step(starts()); const { loss } = await trainer.totals(); trainer.resetTotals(); return loss; });
  const result = { ...measured, adapter: gpu.describe(), parameters: model.parameterCount(), peakBytes: trainer.memory.peakBytes };
  trainer.destroy(); state.destroy(); destroyDataset(gpu, data); gpu.destroy();
  return result;
}

async function tfjs(): Promise<Outcome> {
  const { tf, adapter } = await tfjsWebgpu();
  // tfjs-core alone registers no gradients; the union package registers them on the same engine.
  await import('@tensorflow/tfjs');
  const gpt = tfjsGpt(tf, { vocab: tokenizer.vocab, ...sizes }, lr);
  const x = new Int32Array(tokensPerStep), y = new Int32Array(tokensPerStep);
  const measured = await measure(() => {
    starts().forEach((start, row) => { for (let t = 0; t < sizes.context; t++) { x[row * sizes.context + t] = stream[start + t]!; y[row * sizes.context + t] = stream[start + t + 1]!; } });
    return gpt.step(x, y, batch);
  });
  gpt.dispose();
  return { ...measured, adapter, version: tf.version_core };
}

function pytorch(): Outcome {
  const run = { corpus: corpusFile, ...sizes, batch, steps, warmup, lr };
  try {
    return JSON.parse(execFileSync('/usr/bin/python3', [new URL('train-lm.py', import.meta.url).pathname, JSON.stringify(run)], { encoding: 'utf8' }).trim().split('\n').at(-1)!) as Outcome;
  } catch (error) {
    return { unavailable: (error as Error).message.split('\n')[0]! };
  }
}

const outcomes: Partial<Record<Side, Outcome>> = {};
if (sides.includes('webgrad')) outcomes.webgrad = await webgrad();
if (sides.includes('tfjs')) outcomes.tfjs = await tfjs();
if (sides.includes('pytorch')) outcomes.pytorch = pytorch();
const rate = (o: Outcome | undefined) => (o && 'tokensPerSecond' in o ? o.tokensPerSecond : undefined);
const ratio = (other: Side) => { const a = rate(outcomes.webgrad), b = rate(outcomes[other]); return a !== undefined && b !== undefined ? a / b : null; };

const result = {
  command: `npx tsx bench/train-lm.ts ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(),
  corpus: corpusFile.split('/').at(-1), corpusTokens: stream.length, vocab: tokenizer.vocab, ...sizes, batch, warmup, steps, lr,
  ...outcomes, webgradOverPytorch: ratio('pytorch'), webgradOverTfjs: ratio('tfjs'),
};
console.log(`gpt ${sizes.layers} layers × ${sizes.heads} heads × width ${sizes.width}, context ${sizes.context}, vocab ${tokenizer.vocab}, batch ${batch}; ${warmup} warm-up + ${steps} timed steps per side (machine shared, expect noise)`);
for (const side of SIDES) {
  const o = outcomes[side];
  if (!o) continue;
  if (!('tokensPerSecond' in o)) { console.log(`  ${side.padEnd(8)} not run: ${o.unavailable}`); continue; }
  const where = side === 'pytorch' ? `CPU, ${String(o.threads)} threads, torch ${String(o.version)}` : String(o.adapter);
  console.log(`  ${side.padEnd(8)} ${o.tokensPerSecond.toFixed(0).padStart(6)} tokens/s  ${o.msPerStep.toFixed(0).padStart(6)} ms/step  loss ${o.warmupLoss.toFixed(3)} (warm-up) → ${o.loss.toFixed(3)}   [${where}]`);
}
if (result.webgradOverPytorch !== null) console.log(`  webgrad / PyTorch ${result.webgradOverPytorch.toFixed(2)}×`);
if (result.webgradOverTfjs !== null) console.log(`  webgrad / TF.js   ${result.webgradOverTfjs.toFixed(2)}×`);
writeFileSync(new URL('results/train-lm.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
