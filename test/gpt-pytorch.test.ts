// webgrad's gptModel against PyTorch on the same weights (test/fixtures/pytorch-gpt, made by its
// make_fixture.py from a nanoGPT-layout GPT written there): logits, the mean cross-entropy, every
// parameter's gradient, and the parameters after two AdamW steps with nanoGPT's decay groups, for an
// untied and a tied 2-layer model. Where PyTorch is installed, a webgrad checkpoint of those weights
// goes back and loads with load_state_dict(strict=True).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testGpu } from './helpers/gpu.ts';
import { modelGradients } from './helpers/graph.ts';
import { maxRelativeError } from './helpers/random.ts';
import { gatherTokensReference } from './reference/gather.ts';
import { gptModel, type GptOptions } from '../src/model/gpt.ts';
import { decodeSafetensors, type SafetensorsFile } from '../src/io/safetensors.ts';
import { encodeCheckpoint, weightsFromSafetensors, weightValues } from '../src/io/checkpoint.ts';
import { Evaluator, ModelState, Trainer } from '../src/runtime/runtime.ts';
import { destroyDataset, uploadTokens } from '../src/runtime/dataset.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'pytorch-gpt');
const folder = mkdtempSync(join(tmpdir(), 'webgrad-gpt-pytorch-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const read = (name: string): SafetensorsFile => decodeSafetensors(readFileSync(join(FIXTURE, name)), name);
const f32 = (file: SafetensorsFile, name: string): Float32Array => {
  const tensor = file.tensors.get(name);
  if (!tensor) throw new Error(`fixture has no tensor ${name}`);
  return tensor.data as Float32Array;
};
const maxAbs = (values: ArrayLike<number>): number => Array.from(values).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
/** max |actual − expected| over max |expected|: each element judged against its tensor's scale. */
const scaledError = (actual: ArrayLike<number>, expected: ArrayLike<number>): number => maxRelativeError(actual, expected, maxAbs(expected));

describe.each(['untied', 'tied'] as const)('gptModel against PyTorch, %s', (tag) => {
  const expected = read(`expected-${tag}.safetensors`);
  const sizes = JSON.parse(expected.metadata.sizes!) as Omit<GptOptions, 'tieWeights'>;
  const batch = Number(expected.metadata.batch);
  const model = gptModel({ ...sizes, tieWeights: tag === 'tied' });
  const weights = weightsFromSafetensors(read(`weights-${tag}.safetensors`));
  const values = weightValues(model, weights);
  const stream = Uint32Array.from(expected.tensors.get('stream')!.data as Int32Array);
  const starts = expected.tensors.get('starts')!.data as Int32Array;
  const batchStarts = (step: number) => Uint32Array.from(starts.subarray(step * batch, (step + 1) * batch));

  it('the state_dict loads with its nanoGPT names, a tied one with both names for the one table', () => {
    expect([...weights.keys()].sort()).toEqual([...model.parameterSpecs().map((s) => s.name), ...model.tiedParameters().map((t) => t.name)].sort());
    expect(weights.has('lm_head.weight')).toBe(true);
    expect([...values.keys()].sort()).toEqual(model.parameterSpecs().map((s) => s.name).sort());
  });

  it('gives PyTorch\'s logits, loss and every parameter gradient', async () => {
    const gpu = await testGpu();
    const { x } = gatherTokensReference(stream, batchStarts(0), sizes.context);
    const got = await modelGradients(gpu, model, batch, x, f32(expected, 'dlogits'), values);
    // float32 on both sides, summed in different orders through 2 blocks: logits of O(1) agree to
    // about 1e-6 of their scale; 1e-5 leaves room for that and none for a wrong op.
    const logits = f32(expected, 'logits');
    expect(scaledError(got.y, logits)).toBeLessThan(1e-5);
    // Gradients pass back through attention's softmax and LayerNorms' rsqrt, which amplify rounding;
    // 1e-4 of each tensor's largest element is a hundred float32 roundings of headroom.
    for (const name of model.parameterSpecs().map((s) => s.name)) {
      expect(scaledError(got.grads.get(name)!, f32(expected, `grad.${name}`)), `gradient of ${name}`).toBeLessThan(1e-4);
    }
    const data = uploadTokens(gpu, stream, { vocab: sizes.vocab, context: sizes.context, name: 'fixture' });
    const state = new ModelState(gpu, model, values);
    const evaluator = new Evaluator(gpu, model, state, data, batch);
    const { loss } = await evaluator.evaluate(batchStarts(0));
    expect(Math.abs(loss - f32(expected, 'loss')[0]!)).toBeLessThan(1e-5);
    evaluator.destroy(); state.destroy(); destroyDataset(gpu, data);
  });

  it('two AdamW steps with nanoGPT\'s decay groups (decay: \'matrices\') give PyTorch\'s parameters', async () => {
    const gpu = await testGpu();
    const data = uploadTokens(gpu, stream, { vocab: sizes.vocab, context: sizes.context, name: 'fixture' });
    const state = new ModelState(gpu, model, values);
    const adamw = JSON.parse(expected.metadata.adamw!) as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: { kind: 'adamw', ...adamw, decay: 'matrices' }, stepsPerEpoch: 2, totalSteps: 2 });
    for (let step = 0; step < 2; step++) await trainer.step(batchStarts(step));
    const after = await state.read();
    for (const [name, value] of after) {
      const before = values.get(name)!;
      const torch = f32(expected, `after.${name}`);
      // Each Adam step moves a weight by about lr whatever its gradient's size, so the update is judged
      // against lr. Adam divides each gradient by its size plus eps, so a gradient's float32 rounding
      // (≈1e-8 here) becomes ≈1e-8 / eps = 1e-3 of lr per step where the gradient is near zero (the key
      // biases, zero in exact arithmetic; measured up to 7e-3 of lr over both steps). 2e-2 of lr covers
      // that; decaying a LayerNorm weight of about 1 by mistake moves it 0.2·lr (checked below).
      const moved = value.map((v, i) => v - before[i]!), torchMoved = torch.map((v, i) => v - before[i]!);
      expect(maxRelativeError(moved, torchMoved, adamw.lr), `update of ${name}`).toBeLessThan(2e-2);
    }
    // The decay groups are what make them agree: decaying every tensor moves the LayerNorm weights off.
    const ln = 'transformer.h.0.ln_1.weight';
    const decayedAll = new ModelState(gpu, model, values);
    const allTrainer = new Trainer(gpu, model, decayedAll, data, new Map(), { batchSize: batch, seed: 1, optimizer: { kind: 'adamw', ...adamw, decay: 'all' }, stepsPerEpoch: 2, totalSteps: 2 });
    for (let step = 0; step < 2; step++) await allTrainer.step(batchStarts(step));
    const wrong = (await decayedAll.read()).get(ln)!;
    expect(maxRelativeError(wrong.map((v, i) => v - values.get(ln)![i]!), f32(expected, `after.${ln}`).map((v, i) => v - values.get(ln)![i]!), adamw.lr)).toBeGreaterThan(0.1);
    trainer.destroy(); allTrainer.destroy(); state.destroy(); decayedAll.destroy(); destroyDataset(gpu, data);
  });

  it('its webgrad checkpoint loads into PyTorch strictly (where PyTorch is installed)', async () => {
    const gpu = await testGpu();
    const state = new ModelState(gpu, model, values);
    const path = join(folder, `gpt-${tag}.safetensors`);
    writeFileSync(path, await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 } }));
    const written = decodeSafetensors(readFileSync(path));
    for (const [name, tensor] of weights) expect(Array.from(written.tensors.get(name)!.data as Float32Array), name).toEqual(Array.from(tensor.data as Float32Array));
    state.destroy();
    const python = '/usr/bin/python3';
    let hasTorch = false;
    try { execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' }); hasTorch = true; } catch { /* no PyTorch here */ }
    if (hasTorch) {
      const out = execFileSync(python, [join(FIXTURE, 'make_fixture.py'), 'verify', path, tag], { encoding: 'utf8' });
      expect(out).toMatch(new RegExp(`loaded ${weights.size} tensors strictly`));
    }
    console.log(`[gpt-pytorch test] PyTorch strict load ${hasTorch ? 'ran' : 'not run (no torch)'}`);
  });
});
