// Validation-loss parity with PyTorch: the same character-level gpt (nanoGPT's layout, tied
// weights), the same initial weights, the same batch order and learning rates, AdamW with nanoGPT's
// decay groups and gradient clipping, trained N steps on Moby-Dick by webgrad here and by PyTorch on
// the CPU (bench/train-lm-parity.py), then both validation losses (nats per character) on the same
// windows of the held-out last 10%, their ratio, a bigram baseline's loss, and each side's training
// tokens/s. webgrad writes everything PyTorch reads into one folder.
//   npx tsx bench/train-lm-parity.ts [--steps 200] [--layers 2] [--heads 4] [--width 64] [--context 64] [--batch 16]
//                                    [--lr 3e-3] [--warmup 20] [--val-windows 512] [--seed 1] [--untied] [--results FILE]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../test/helpers/random.ts';
import { CharTokenizer, Session, destroyDataset, encodeSafetensors, Evaluator, gptModel, learningRate, ModelState, Trainer, uploadTokens, type Schedule } from 'webgrad';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const corpusFile = arg('corpus', new URL('../../shared/data/text/moby-dick.txt', import.meta.url).pathname);
const layout = { layers: Number(arg('layers', '2')), heads: Number(arg('heads', '4')), width: Number(arg('width', '64')), context: Number(arg('context', '64')) };
const batch = Number(arg('batch', '16'));
const steps = Number(arg('steps', '200'));
const valWindows = Number(arg('val-windows', '512'));
const seed = Number(arg('seed', '1'));
const tieWeights = !process.argv.includes('--untied');
// nanoGPT's shakespeare_char recipe, scaled to a short run: AdamW (0.9, 0.99), decay 0.1 on matrices, clip 1.
const adamw = { lr: Number(arg('lr', '3e-3')), beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
const schedule: Schedule = { kind: 'warmup-cosine', warmupSteps: Number(arg('warmup', '20')), minLr: adamw.lr / 10 };
const clipNorm = 1;
/** Training loss is reported as the mean over the last steps (single steps are noisy). */
const REPORT_LAST = Math.min(20, steps);

const corpus = readFileSync(corpusFile, 'utf8');
const tokenizer = CharTokenizer.fromCorpus(corpus);
const tokens = tokenizer.encode(corpus);
const trainEnd = Math.floor(tokens.length * 0.9);
const lastTrainStart = trainEnd - layout.context - 1;
const lastValStart = tokens.length - layout.context - 1;
const next = rng(seed);
const starts = Uint32Array.from({ length: steps * batch }, () => Math.floor(next() * (lastTrainStart + 1)));
// Windows spread evenly over the held-out part, the same for both sides.
const valStarts = Uint32Array.from({ length: valWindows }, (_, i) => trainEnd + Math.floor((i * (lastValStart - trainEnd)) / Math.max(1, valWindows - 1)));

/** Add-one bigram model from the training part, scored on the validation windows' targets. */
function bigramLoss(): number {
  const vocab = tokenizer.vocab;
  const counts = new Float64Array(vocab * vocab).fill(1);
  const rows = new Float64Array(vocab).fill(vocab);
  for (let i = 0; i + 1 < trainEnd; i++) { counts[tokens[i]! * vocab + tokens[i + 1]!]! += 1; rows[tokens[i]!]! += 1; }
  let total = 0;
  for (const s of valStarts) for (let t = 0; t < layout.context; t++) total -= Math.log(counts[tokens[s + t]! * vocab + tokens[s + t + 1]!]! / rows[tokens[s + t]!]!);
  return total / (valStarts.length * layout.context);
}

// The session tunes GEMM for this adapter before anything compiles.
const { gpu } = await Session.create();
const sizes = { vocab: tokenizer.vocab, ...layout };
const model = gptModel({ ...sizes, tieWeights });
const initial = model.initialValues(seed);
const data = uploadTokens(gpu, tokens, { vocab: tokenizer.vocab, context: layout.context, name: 'moby-dick' });
const state = new ModelState(gpu, model, initial);
const trainer = new Trainer(gpu, model, state, data, new Map(), {
  batchSize: batch, seed, optimizer: { kind: 'adamw', ...adamw, decay: 'matrices' }, schedule, clipNorm, stepsPerEpoch: steps, totalSteps: steps, metricsEvery: 1,
});

const folder = mkdtempSync(join(tmpdir(), 'webgrad-lm-parity-'));
const stateDict = new Map([...initial].map(([name, values]) => [name, { dtype: 'F32' as const, shape: model.parameterSpecs().find((s) => s.name === name)!.shape as number[], data: values }]));
for (const { name, source } of model.tiedParameters()) stateDict.set(name, stateDict.get(source)!);
writeFileSync(join(folder, 'weights.safetensors'), encodeSafetensors(stateDict));
const lrs = Float32Array.from({ length: steps }, (_, s) => learningRate(schedule, adamw.lr, s, steps, steps));
writeFileSync(join(folder, 'data.safetensors'), encodeSafetensors(new Map([
  ['tokens', { dtype: 'I32' as const, shape: [tokens.length], data: Int32Array.from(tokens) }],
  ['starts', { dtype: 'I32' as const, shape: [steps, batch], data: Int32Array.from(starts) }],
  ['val_starts', { dtype: 'I32' as const, shape: [valWindows], data: Int32Array.from(valStarts) }],
  ['lrs', { dtype: 'F32' as const, shape: [steps], data: lrs }],
])));
writeFileSync(join(folder, 'run.json'), JSON.stringify({ sizes, tieWeights, adamw, clipNorm, batch, reportLast: REPORT_LAST }));

const began = performance.now();
for (let s = 0; s < steps; s++) {
  if (s === steps - REPORT_LAST) trainer.resetTotals();
  await trainer.step(starts.subarray(s * batch, (s + 1) * batch));
}
const trainLoss = (await trainer.totals()).loss;
const seconds = (performance.now() - began) / 1000;
const evaluator = new Evaluator(gpu, model, state, data, batch);
const webgradVal = (await evaluator.evaluate(valStarts)).loss;
const webgrad = { valLoss: webgradVal, trainLoss, msPerStep: (1000 * seconds) / steps, tokensPerSecond: (steps * batch * layout.context) / seconds };

let pytorch: { version: string; threads: number; valLoss: number; trainLoss: number; msPerStep: number; tokensPerSecond: number } | { unavailable: string };
try {
  pytorch = JSON.parse(execFileSync('/usr/bin/python3', [new URL('train-lm-parity.py', import.meta.url).pathname, folder], { encoding: 'utf8' }).trim().split('\n').at(-1)!);
} catch (error) {
  pytorch = { unavailable: (error as Error).message.split('\n')[0]! };
}
rmSync(folder, { recursive: true, force: true });

const bigram = bigramLoss();
const result = {
  adapter: gpu.describe(), corpus: corpusFile.split('/').at(-1), corpusTokens: tokens.length, trainTokens: trainEnd, vocab: tokenizer.vocab, ...layout, tieWeights,
  parameters: model.parameterCount(), batch, steps, optimizer: { ...adamw, decay: 'matrices', clipNorm }, schedule, valWindows, valTokens: valWindows * layout.context,
  webgrad, pytorch, bigramValLoss: bigram, uniformLoss: Math.log(tokenizer.vocab),
  ratio: 'valLoss' in pytorch ? webgrad.valLoss / pytorch.valLoss : null,
};
console.log(`adapter: ${result.adapter}`);
console.log(`gpt ${layout.layers} layers × ${layout.heads} heads × width ${layout.width}, context ${layout.context}, vocab ${tokenizer.vocab}, ${tieWeights ? 'tied' : 'untied'} (${result.parameters} parameters), batch ${batch}, ${steps} steps`);
console.log(`validation loss (nats/char) on ${valWindows} windows of the last 10%:`);
console.log(`  webgrad  ${webgrad.valLoss.toFixed(4)}   (train ${trainLoss.toFixed(4)} over the last ${REPORT_LAST} steps; ${webgrad.tokensPerSecond.toFixed(0)} tokens/s)`);
if ('valLoss' in pytorch) console.log(`  PyTorch  ${pytorch.valLoss.toFixed(4)}   (train ${pytorch.trainLoss.toFixed(4)}; ${pytorch.tokensPerSecond.toFixed(0)} tokens/s on ${pytorch.threads} CPU threads, torch ${pytorch.version})`);
else console.log(`  PyTorch  not run: ${pytorch.unavailable}`);
console.log(`  bigram   ${bigram.toFixed(4)}   (uniform ${result.uniformLoss.toFixed(4)})`);
if (result.ratio !== null) console.log(`  ratio webgrad / PyTorch ${result.ratio.toFixed(4)}`);
writeFileSync(arg('results', new URL('results/train-lm-parity.json', import.meta.url).pathname), `${JSON.stringify(result, null, 2)}\n`);
evaluator.destroy(); trainer.destroy(); state.destroy(); destroyDataset(gpu, data); gpu.destroy();
