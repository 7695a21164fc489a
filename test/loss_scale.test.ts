import { describe, expect, it } from 'vitest';
import {
  applyLossScale, createLossScaleState, lossScaleOptions, readLossScale, unscaleGradients, updateLossScale,
  LOSS_SCALE_DEFAULTS, type LossScaleState,
} from '../src/kernels/loss_scale.ts';
import { readFloat32, runDispatches, writeBuffer } from '../src/gpu/buffers.ts';
import { unscaleReference, updateReference } from './reference/loss_scale.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { randomArray } from './helpers/random.ts';

// Gradient lengths on both sides of the 256-wide workgroup.
const SIZES = [1, 255, 257, 4099];

describe('loss scaling primitives', () => {
  it('apply multiplies by the scale and unscale divides, exactly for power-of-two scales, with no flag on finite gradients', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const state = createLossScaleState(gpu, { initScale: 2 ** 10 });
    const grads = SIZES.map((n, i) => randomArray(n, 40 + i, -1e3, 1e3));
    const bound = grads.map((g, i) => ({ buffer: buffers.upload(g, `grad${i}`), count: g.length }));
    await runDispatches(gpu, [...bound.flatMap((g) => applyLossScale(gpu, state, g)), ...unscaleGradients(gpu, state, bound)]);
    // Scaling by 2^10 and back is exact for these magnitudes, so the round trip returns the input.
    for (const [i, g] of bound.entries()) expect([...await readFloat32(gpu, g.buffer as GPUBuffer)]).toEqual([...grads[i]!]);
    expect(await readLossScale(gpu, state)).toEqual({ scale: 2 ** 10, goodSteps: 0, foundNonFinite: false, skippedSteps: 0 });
    gpu.destroyBuffer(state);
    buffers.destroy();
  });

  it.each([['Inf', Infinity], ['-Inf', -Infinity], ['NaN', NaN], ['a finite value that overflows once unscaled', 3e38]] as const)(
    'flags %s in the last element of one gradient of several and unscales the rest', async (_name, bad) => {
      const gpu = await testGpu();
      const buffers = new TestBuffers(gpu);
      // A scale under 1 (after many backoffs) is where unscaling itself can overflow.
      const scale = 2 ** -4;
      const state = createLossScaleState(gpu, { initScale: scale });
      const grads = SIZES.map((n, i) => randomArray(n, 60 + i));
      grads[2]![grads[2]!.length - 1] = bad;
      const bound = grads.map((g, i) => ({ buffer: buffers.upload(g, `grad${i}`), count: g.length }));
      await runDispatches(gpu, unscaleGradients(gpu, state, bound));
      const expected = unscaleReference(scale, grads);
      expect(expected.foundNonFinite).toBe(true);
      for (const [i, g] of bound.entries()) expect([...await readFloat32(gpu, g.buffer as GPUBuffer)]).toEqual([...expected.grads[i]!]);
      // The optimizer reads the flag before update_scale clears it.
      expect((await readLossScale(gpu, state)).foundNonFinite).toBe(true);
      await runDispatches(gpu, updateLossScale(gpu, state));
      expect(await readLossScale(gpu, state)).toEqual({ scale: scale / 2, goodSteps: 0, foundNonFinite: false, skippedSteps: 1 });
      gpu.destroyBuffer(state);
      buffers.destroy();
    });

  it('follows the reference over a run of clean and overflowing steps: back off, count, grow, never grow past f32', async () => {
    const gpu = await testGpu();
    const buffers = new TestBuffers(gpu);
    const rule = { growthFactor: 4, backoffFactor: 0.25, growthInterval: 3 };
    // Starting near f32's largest power of two, so that growing to Inf must be refused.
    const state = createLossScaleState(gpu, { ...rule, initScale: 2 ** 124 });
    let expected: LossScaleState = { scale: 2 ** 124, goodSteps: 0, foundNonFinite: false, skippedSteps: 0 };
    const grad = buffers.upload(new Float32Array(300), 'grad');
    const overflowAt = new Set([4, 5, 9, 16]);
    const seen: LossScaleState[] = [], want: LossScaleState[] = [];
    for (let step = 0; step < 23; step++) {
      const values = randomArray(300, 100 + step);
      if (overflowAt.has(step)) values[step * 7] = Infinity;
      writeBuffer(gpu, grad, values);
      await runDispatches(gpu, [...unscaleGradients(gpu, state, [{ buffer: grad, count: 300 }]), ...updateLossScale(gpu, state, rule)]);
      expected = updateReference({ ...expected, foundNonFinite: unscaleReference(expected.scale, [values]).foundNonFinite }, rule);
      seen.push(await readLossScale(gpu, state));
      want.push(expected);
    }
    expect(seen).toEqual(want);
    // The run did every kind of update: grew, refused to grow past f32, backed off.
    // Steps 20–22 are clean from 2^126: growing would give 2^128 = Inf, so the scale stays.
    expect(want[19]).toEqual({ scale: 2 ** 126, goodSteps: 0, foundNonFinite: false, skippedSteps: 4 });
    expect(want[22]).toEqual({ scale: 2 ** 126, goodSteps: 0, foundNonFinite: false, skippedSteps: 4 });
    expect(want.map((s) => s.scale)).toContain(2 ** 122);
    gpu.destroyBuffer(state);
    buffers.destroy();
  });

  it("GradScaler's defaults: 2^16, doubled after exactly 2000 clean steps", async () => {
    const gpu = await testGpu();
    expect(LOSS_SCALE_DEFAULTS).toEqual({ initScale: 65536, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000 });
    const state = createLossScaleState(gpu);
    const update = updateLossScale(gpu, state);
    await runDispatches(gpu, Array.from({ length: 1999 }, () => update).flat());
    expect(await readLossScale(gpu, state)).toEqual({ scale: 65536, goodSteps: 1999, foundNonFinite: false, skippedSteps: 0 });
    await runDispatches(gpu, update);
    expect(await readLossScale(gpu, state)).toEqual({ scale: 131072, goodSteps: 0, foundNonFinite: false, skippedSteps: 0 });
    gpu.destroyBuffer(state);
  });

  it('refuses bad options and counts, naming the field', async () => {
    const gpu = await testGpu();
    expect(() => lossScaleOptions({ growthFactor: 1 })).toThrow(/growthFactor must be a finite number above 1, got 1/);
    expect(() => lossScaleOptions({ backoffFactor: 1 })).toThrow(/backoffFactor must be between 0 and 1/);
    expect(() => lossScaleOptions({ growthInterval: 0.5 })).toThrow(/growthInterval must be a positive integer/);
    expect(() => lossScaleOptions({ initScale: 1e39 })).toThrow(/initScale must be a positive finite f32/);
    const state = createLossScaleState(gpu);
    expect(() => unscaleGradients(gpu, state, [{ buffer: state, count: 0 }])).toThrow(/lossScale.unscale\[0\]: count must be a positive integer/);
    gpu.destroyBuffer(state);
  });
});
