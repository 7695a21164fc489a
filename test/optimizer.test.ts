import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, storageBuffer, uploadBuffer, writeBuffer } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { adamUpdate, sgdUpdate, writeHyper, type AdamOptions, type SgdOptions } from '../src/kernels/optimizer.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { adamStepReference, sgdStepReference, type StepInputs } from './reference/optimizer.ts';

const COUNTS = [1, 3, 17, 129, 784, 100_003];
// Four steps so momentum and Adam's moments carry state; steps 2 and 3 scale the gradient as
// clipGradNorm would (clip[0] < 1), and the learning rate changes as a schedule would.
const STEPS: StepInputs[] = [
  { lr: 0.05, step: 1, clipScale: 1 },
  { lr: 0.04, step: 2, clipScale: 0.5 },
  { lr: 0.03, step: 3, clipScale: 0.2 },
  { lr: 0.02, step: 4, clipScale: 1 },
];
// Planned tensors sit inside shared buffers: bind each parameter at an offset with sentinels around
// it, so a write outside its range is caught.
const GUARD = 256;
const SENTINEL = 7.25;
// A few f32 roundings per step on values of order 1 (lr·update ≤ 0.05·O(1)), compounded over four
// steps: the parameters stay within a few ulps of float64, far inside 1e-5 (relative, floor 1).
const PARAM_TOLERANCE = 1e-5;
// Optimizer state goes through the same few roundings. Velocity and m are sums of signed terms of
// order 1 that can cancel, so their error is measured against a floor of 1; v sums positive terms
// only, so it keeps full relative accuracy down to tiny values.
const STATE_TOLERANCE = 1e-5;
const STATE_FLOOR: Record<string, number> = { velocity: 1, m: 1, v: 1e-9 };

function guardedParam(gpu: Gpu, values: Float32Array): { buffer: GPUBuffer; binding: GPUBufferBinding } {
  const buffer = storageBuffer(gpu, GUARD + values.byteLength + GUARD, 'param');
  writeBuffer(gpu, buffer, new Float32Array(buffer.size / 4).fill(SENTINEL));
  writeBuffer(gpu, buffer, values, GUARD);
  return { buffer, binding: { buffer, offset: GUARD, size: values.byteLength } };
}

async function expectGuardsIntact(gpu: Gpu, buffer: GPUBuffer, count: number): Promise<void> {
  const all = await readFloat32(gpu, buffer);
  const before = all.subarray(0, GUARD / 4), after = all.subarray(GUARD / 4 + count);
  expect(before.every((x) => x === SENTINEL) && after.every((x) => x === SENTINEL), 'sentinels around the parameter').toBe(true);
}

type Case =
  | { name: string; kind: 'sgd'; options: SgdOptions }
  | { name: string; kind: 'adam'; options: AdamOptions };

const CASES: Case[] = [
  { name: 'SGD', kind: 'sgd', options: { momentum: 0, nesterov: false, weightDecay: 0, l1: 0 } },
  { name: 'SGD + weight decay + L1', kind: 'sgd', options: { momentum: 0, nesterov: false, weightDecay: 0.01, l1: 0.003 } },
  { name: 'SGD momentum', kind: 'sgd', options: { momentum: 0.9, nesterov: false, weightDecay: 0, l1: 0 } },
  { name: 'SGD momentum + dampening + weight decay', kind: 'sgd', options: { momentum: 0.8, nesterov: false, weightDecay: 5e-4, l1: 0, dampening: 0.3 } },
  { name: 'SGD Nesterov + L1', kind: 'sgd', options: { momentum: 0.9, nesterov: true, weightDecay: 1e-3, l1: 1e-3 } },
  { name: 'Adam', kind: 'adam', options: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, l1: 0 } },
  { name: 'Adam + L2 + L1', kind: 'adam', options: { beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, decoupled: false, l1: 2e-3 } },
  { name: 'AdamW', kind: 'adam', options: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true, l1: 0 } },
];

async function runCase(gpu: Gpu, c: Case, count: number, seed: number): Promise<void> {
  const initial = randomArray(count, seed);
  const { buffer: paramBuffer, binding: param } = guardedParam(gpu, initial);
  const grad = storageBuffer(gpu, count * 4, 'grad');
  const hyper = uploadBuffer(gpu, writeHyper(1, 1), 'hyper');
  const clip = uploadBuffer(gpu, new Float32Array(4), 'clip');
  // Momentum must ignore whatever the velocity buffer held before step 1; Adam's moments start at 0.
  const stateNames = c.kind === 'sgd' ? (c.options.momentum > 0 ? ['velocity'] : []) : ['m', 'v'];
  const stateBuffers = Object.fromEntries(stateNames.map((n) => [n, uploadBuffer(gpu, new Float32Array(count).fill(c.kind === 'sgd' ? 123 : 0), n)]));
  const reference = {
    param: Float64Array.from(initial),
    ...Object.fromEntries(stateNames.map((n) => [n, new Float64Array(count)])),
  } as { param: Float64Array; velocity?: Float64Array; m: Float64Array; v: Float64Array };
  const io = { param, grad, count, hyper, clip, ...stateBuffers };
  const dispatches = c.kind === 'sgd'
    ? sgdUpdate(gpu, c.options, io)
    : adamUpdate(gpu, c.options, io as typeof io & { m: GPUBuffer; v: GPUBuffer });
  for (const s of STEPS) {
    const g = randomArray(count, seed * 31 + s.step, -2, 2);
    writeBuffer(gpu, grad, g);
    writeBuffer(gpu, hyper, writeHyper(s.lr, s.step));
    writeBuffer(gpu, clip, new Float32Array([s.clipScale, 0, 0, 0]));
    await runDispatches(gpu, dispatches);
    if (c.kind === 'sgd') sgdStepReference(c.options, reference, g, s);
    else adamStepReference(c.options, reference, g, s);
    const label = `${c.name}, count ${count}, step ${s.step}`;
    const got = await readFloat32(gpu, paramBuffer, count, GUARD / 4);
    expect(maxRelativeError(got, reference.param), label).toBeLessThanOrEqual(PARAM_TOLERANCE);
    for (const name of stateNames) {
      const state = await readFloat32(gpu, stateBuffers[name]!, count);
      expect(maxRelativeError(state, reference[name as 'm']!, STATE_FLOOR[name]), `${label}: ${name}`).toBeLessThanOrEqual(STATE_TOLERANCE);
    }
  }
  await expectGuardsIntact(gpu, paramBuffer, count);
  for (const b of [paramBuffer, grad, hyper, clip, ...Object.values(stateBuffers)]) gpu.destroyBuffer(b);
}

describe('optimizer updates match float64 torch.optim rules over several steps', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const gpu = await testGpu();
    for (const [k, count] of COUNTS.entries()) await runCase(gpu, c, count, 1000 + k);
    gpu.check();
  });

  it('Adam bias correction stays accurate late in training (t = 10 000)', async () => {
    const gpu = await testGpu();
    const options: AdamOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, l1: 0 };
    const count = 129, t = 10_000;
    // Moments as if reached after many steps; the GPU and CPU start from the same f32 values.
    const m0 = randomArray(count, 5, -0.1, 0.1), v0 = randomArray(count, 6, 1e-4, 1e-2);
    const w0 = randomArray(count, 7), g = randomArray(count, 8);
    const param = uploadBuffer(gpu, w0, 'param'), grad = uploadBuffer(gpu, g, 'grad');
    const m = uploadBuffer(gpu, m0, 'm'), v = uploadBuffer(gpu, v0, 'v');
    const hyper = uploadBuffer(gpu, writeHyper(1e-3, t), 'hyper'), clip = uploadBuffer(gpu, new Float32Array([1, 0, 0, 0]), 'clip');
    await runDispatches(gpu, adamUpdate(gpu, options, { param, grad, m, v, count, hyper, clip }));
    const reference = { param: Float64Array.from(w0), m: Float64Array.from(m0), v: Float64Array.from(v0) };
    adamStepReference(options, reference, g, { lr: 1e-3, step: t, clipScale: 1 });
    // Compare the step itself (w − w0), which is ~lr: relative 1e-4 of the step, a sharp test of
    // the bias corrections that a parameter-scale comparison would hide.
    const got = await readFloat32(gpu, param);
    const step = Array.from(got, (x, i) => x - w0[i]!), expected = Array.from(reference.param, (x, i) => x - w0[i]!);
    expect(maxRelativeError(step, expected, 1e-3)).toBeLessThanOrEqual(1e-3);
    for (const b of [param, grad, m, v, hyper, clip]) gpu.destroyBuffer(b);
  });

  it('rejects inconsistent options and step numbers', async () => {
    const gpu = await testGpu();
    const b = storageBuffer(gpu, 16, 'b');
    const io = { param: b, grad: b, count: 4, hyper: b, clip: b };
    expect(() => sgdUpdate(gpu, { momentum: 0.9, nesterov: false, weightDecay: 0, l1: 0 }, io)).toThrow(/velocity buffer is needed/);
    expect(() => sgdUpdate(gpu, { momentum: 0, nesterov: false, weightDecay: 0, l1: 0 }, { ...io, velocity: b })).toThrow(/velocity buffer is needed/);
    expect(() => sgdUpdate(gpu, { momentum: 0, nesterov: true, weightDecay: 0, l1: 0 }, io)).toThrow(/Nesterov/);
    expect(() => sgdUpdate(gpu, { momentum: 0.9, nesterov: true, weightDecay: 0, l1: 0, dampening: 0.1 }, { ...io, velocity: b })).toThrow(/Nesterov/);
    expect(() => adamUpdate(gpu, { beta1: 1, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, l1: 0 }, { ...io, m: b, v: b })).toThrow(/beta1/);
    expect(() => writeHyper(0.1, 0)).toThrow(/step/);
    expect(() => writeHyper(0.1, 2 ** 24 + 1)).toThrow(/step/);
    expect(Array.from(writeHyper(0.5, 3))).toEqual([0.5, 3, 0, 0]);
    gpu.destroyBuffer(b);
  });
});

describe('with a loss-scale state (mixed precision): GradScaler.step semantics', () => {
  // Steps 1 and 3 overflowed: those updates must leave everything as it was, bit for bit, and the
  // others count only applied updates: hyper's step 2 is t = 1 (momentum's first step, which ignores
  // the velocity buffer's 123s; Adam's first bias correction) and step 4 is t = 2.
  const skipCases = CASES.filter((c) => ['SGD', 'SGD momentum', 'Adam + L2 + L1', 'AdamW'].includes(c.name));
  it.each(skipCases.map((c) => [c.name, c] as const))('%s skips a flagged step and counts only applied ones', async (_name, c) => {
    const gpu = await testGpu();
    const count = 257;
    const initial = randomArray(count, 77);
    const param = uploadBuffer(gpu, initial, 'param'), grad = storageBuffer(gpu, count * 4, 'grad');
    const hyper = uploadBuffer(gpu, writeHyper(1, 1), 'hyper'), clip = uploadBuffer(gpu, new Float32Array([1, 0, 0, 0]), 'clip');
    const lossScale = storageBuffer(gpu, 16, 'lossScale');
    const stateNames = c.kind === 'sgd' ? (c.options.momentum > 0 ? ['velocity'] : []) : ['m', 'v'];
    const stateBuffers = Object.fromEntries(stateNames.map((n) => [n, uploadBuffer(gpu, new Float32Array(count).fill(c.kind === 'sgd' ? 123 : 0), n)]));
    const io = { param, grad, count, hyper, clip, lossScale, ...stateBuffers };
    const dispatches = c.kind === 'sgd' ? sgdUpdate(gpu, c.options, io) : adamUpdate(gpu, c.options, io as typeof io & { m: GPUBuffer; v: GPUBuffer });
    const reference = { param: Float64Array.from(initial), ...Object.fromEntries(stateNames.map((n) => [n, new Float64Array(count)])) } as { param: Float64Array; velocity?: Float64Array; m: Float64Array; v: Float64Array };
    const everything = async () => Promise.all([param, ...Object.values(stateBuffers)].map((b) => readFloat32(gpu, b, count).then((x) => [...new Uint32Array(x.buffer)])));
    // [hyper step, found Inf/NaN, skipped before this step]
    const steps = [[1, 1, 0], [2, 0, 1], [3, 1, 1], [4, 0, 2]] as const;
    for (const [step, found, skipped] of steps) {
      const g = randomArray(count, 300 + step, -2, 2);
      writeBuffer(gpu, grad, g);
      writeBuffer(gpu, hyper, writeHyper(0.01, step));
      writeBuffer(gpu, lossScale, new Uint32Array([0x47800000, 0, found, skipped]));
      const before = await everything();
      await runDispatches(gpu, dispatches);
      if (found) {
        expect(await everything(), `step ${step} skipped`).toEqual(before);
        continue;
      }
      const s = { lr: 0.01, step: step - skipped, clipScale: 1 };
      if (c.kind === 'sgd') sgdStepReference(c.options, reference, g, s);
      else adamStepReference(c.options, reference, g, s);
      expect(maxRelativeError(await readFloat32(gpu, param, count), reference.param), `step ${step}`).toBeLessThanOrEqual(PARAM_TOLERANCE);
      for (const name of stateNames) {
        expect(maxRelativeError(await readFloat32(gpu, stateBuffers[name]!, count), reference[name as 'm']!, STATE_FLOOR[name]), `step ${step}: ${name}`).toBeLessThanOrEqual(STATE_TOLERANCE);
      }
    }
    for (const b of [param, grad, hyper, clip, lossScale, ...Object.values(stateBuffers)]) gpu.destroyBuffer(b);
  });
});
