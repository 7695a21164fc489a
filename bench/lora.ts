// Fine-tuning with LoRA, shown end to end: a small character-level gpt pretrained on Moby-Dick is
// adapted to first names three ways with the same steps, batch and schedule — from scratch, full
// fine-tuning, and LoRA adapters of rank 4 and 8 on every block's four projections with the base
// frozen — and compared on the held-out names' loss (nats per character), trainable parameters,
// training step time and the size of what has to be saved. One character tokenizer, built from the
// union of both texts, serves both, so the pretrained embedding covers every name character.
//   npx tsx bench/lora.ts [--pretrain-steps 300] [--steps 150] [--batch 16] [--context 32]
import { readFileSync, writeFileSync } from 'node:fs';
import { rng } from '../test/helpers/random.ts';
import {
  CharTokenizer, createGpu, decodeAdapters, destroyDataset, encodeAdapters, encodeCheckpoint, Evaluator, frozenBase, gptModel,
  loraInitialValues, mergeLora, ModelState, seededPermutation, Trainer, tuneGemm, uploadTokens, withLora,
  type GpuTokenDataset, type Model, type OptimizerConfig,
} from 'webgrad';

function arg(name: string, fallback: string): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = Number(i >= 0 ? process.argv[i + 1] : fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`bench/lora: --${name} must be a positive integer, got ${process.argv[i + 1]}`);
  return value;
}

const pretrainSteps = arg('pretrain-steps', '300');
const steps = arg('steps', '150');
const batch = arg('batch', '16');
const context = arg('context', '32');
const sizes = { layers: 2, heads: 4, width: 64, context };
const SEED = 1;

const textDir = new URL('../../shared/data/text/', import.meta.url);
const moby = readFileSync(new URL('moby-dick.txt', textDir), 'utf8');
const names = readFileSync(new URL('first-names.txt', textDir), 'utf8').split('\n').filter((n) => n.length > 0);
// The list is sorted, so the held-out tenth is drawn at random rather than taken from the end.
const order = seededPermutation(names.length, SEED);
const heldOut = Math.round(names.length / 10);
const valNames = Array.from(order.subarray(0, heldOut), (i) => names[i]!);
const trainNames = Array.from(order.subarray(heldOut), (i) => names[i]!);
const tokenizer = CharTokenizer.fromCorpus(moby + names.join('\n'));

const gpu = await createGpu();
await tuneGemm(gpu);
const upload = (text: string, name: string) => uploadTokens(gpu, tokenizer.encode(text), { vocab: tokenizer.vocab, context, name });
const mobyData = upload(moby, 'moby-dick');
const namesTrain = upload(`${trainNames.join('\n')}\n`, 'names-train');
const namesVal = upload(`${valNames.join('\n')}\n`, 'names-val');
const lastStart = (data: GpuTokenDataset) => data.count - context - 1;
// Every held-out character is scored once: back-to-back windows, the last one flush with the end.
const valStarts = Uint32Array.from({ length: Math.ceil(lastStart(namesVal) / context) + 1 }, (_, i) => Math.min(i * context, lastStart(namesVal)));

async function validationLoss(model: Model, state: ModelState): Promise<number> {
  const evaluator = new Evaluator(gpu, model, state, namesVal, 32);
  const { loss } = await evaluator.evaluate(valStarts);
  evaluator.destroy();
  return loss;
}

/** Trains `steps` steps on random windows of `data`; ms per step over the steps after the first (which compiles). */
async function train(model: Model, state: ModelState, data: GpuTokenDataset, count: number, optimizer: OptimizerConfig, frozen?: string[]): Promise<number> {
  const trainer = new Trainer(gpu, model, state, data, new Map(), {
    batchSize: batch, seed: SEED, optimizer, schedule: { kind: 'cosine' }, stepsPerEpoch: count, totalSteps: count, ...(frozen ? { frozen } : {}),
  });
  const next = rng(SEED + count);
  const starts = () => Uint32Array.from({ length: batch }, () => Math.floor(next() * (lastStart(data) + 1)));
  await trainer.step(starts());
  await trainer.totals();
  const started = performance.now();
  for (let s = 1; s < count; s++) await trainer.step(starts());
  await trainer.totals();
  const ms = (performance.now() - started) / Math.max(1, count - 1);
  trainer.destroy();
  return ms;
}

const bytesOfWeights = async (state: ModelState) => (await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 } })).length;

const base = gptModel({ vocab: tokenizer.vocab, ...sizes });
const pretrained = new ModelState(gpu, base, base.initialValues(SEED));
const pretrainMs = await train(base, pretrained, mobyData, pretrainSteps, { kind: 'adamw', lr: 3e-3 });
const baseWeights = await pretrained.read();
const mobyEvaluator = new Evaluator(gpu, base, pretrained, mobyData, 32);
const mobyLoss = (await mobyEvaluator.evaluate(Uint32Array.from({ length: 64 }, (_, i) => Math.floor((i * lastStart(mobyData)) / 64)))).loss;
mobyEvaluator.destroy();
const zeroShot = await validationLoss(base, pretrained);
console.log(`adapter: ${gpu.describe()}`);
console.log(`pretrained ${pretrainSteps} steps on Moby-Dick (${pretrainMs.toFixed(0)} ms/step): loss ${mobyLoss.toFixed(3)} there, ${zeroShot.toFixed(3)} on the held-out names before adapting`);

interface Row { method: string; lr: number; valLoss: number; trainable: number; msPerStep: number; savedBytes: number; mergedValLoss?: number }
const rows: Row[] = [];

{
  const state = new ModelState(gpu, base, base.initialValues(SEED + 1));
  const lr = 3e-3;
  const msPerStep = await train(base, state, namesTrain, steps, { kind: 'adamw', lr });
  rows.push({ method: 'from scratch', lr, valLoss: await validationLoss(base, state), trainable: base.parameterCount(), msPerStep, savedBytes: await bytesOfWeights(state) });
  state.destroy();
}
{
  const state = new ModelState(gpu, base, baseWeights);
  const lr = 1e-3;
  const msPerStep = await train(base, state, namesTrain, steps, { kind: 'adamw', lr });
  rows.push({ method: 'full fine-tuning', lr, valLoss: await validationLoss(base, state), trainable: base.parameterCount(), msPerStep, savedBytes: await bytesOfWeights(state) });
  state.destroy();
}
for (const rank of [4, 8]) {
  const model = withLora(base, { rank, alpha: 2 * rank });
  const state = new ModelState(gpu, model, loraInitialValues(model, baseWeights, SEED + rank));
  const frozen = frozenBase(model);
  const lr = 3e-3;
  const msPerStep = await train(model, state, namesTrain, steps, { kind: 'adamw', lr, weightDecay: 0 }, frozen);
  const adapters = await encodeAdapters(state);
  decodeAdapters(adapters, 'bench adapters');
  const weights = await state.read();
  const unchanged = frozen.every((name) => Buffer.from(weights.get(name)!.buffer).equals(Buffer.from(baseWeights.get(name)!.buffer)));
  if (!unchanged) throw new Error('bench/lora: a frozen base tensor changed during LoRA training');
  const merged = mergeLora(model, weights);
  const mergedState = new ModelState(gpu, merged.model, merged.weights);
  rows.push({
    method: `LoRA rank ${rank}, alpha ${2 * rank}`, lr, valLoss: await validationLoss(model, state), trainable: model.parameterCount() - base.parameterCount(),
    msPerStep, savedBytes: adapters.length, mergedValLoss: await validationLoss(merged.model, mergedState),
  });
  mergedState.destroy(); state.destroy();
}

console.log(`adapted to first names: ${steps} steps each, batch ${batch}, context ${context}, AdamW with cosine decay; ${valNames.length} held-out names (${namesVal.count} characters)`);
console.log('| method | lr | names val loss (nats/char) | trainable parameters | ms/step | saved file |');
console.log('| --- | --- | --- | --- | --- | --- |');
console.log(`| pretrained only (no adaptation) | — | ${zeroShot.toFixed(3)} | — | — | — |`);
for (const r of rows) {
  console.log(`| ${r.method} | ${r.lr} | ${r.valLoss.toFixed(3)}${r.mergedValLoss === undefined ? '' : ` (merged: ${r.mergedValLoss.toFixed(3)})`} | ${r.trainable.toLocaleString('en-US')} | ${r.msPerStep.toFixed(0)} | ${(r.savedBytes / 1024).toFixed(1)} KiB |`);
}

const result = {
  command: `npx tsx bench/lora.ts --pretrain-steps ${pretrainSteps} --steps ${steps} --batch ${batch} --context ${context}`,
  adapter: gpu.describe(), vocab: tokenizer.vocab, tokenizer: 'characters of moby-dick.txt ∪ first-names.txt', ...sizes, batch,
  parameters: base.parameterCount(), pretrainSteps, pretrainMsPerStep: pretrainMs, pretrainedMobyLoss: mobyLoss, zeroShotNamesLoss: zeroShot,
  steps, validationNames: valNames.length, validationCharacters: namesVal.count, rows,
};
writeFileSync(new URL('results/lora.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
pretrained.destroy();
for (const data of [mobyData, namesTrain, namesVal]) destroyDataset(gpu, data);
gpu.destroy();
