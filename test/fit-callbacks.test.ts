// fit()'s epoch callbacks that act on a monitored value: early stopping and Keras's
// ReduceLROnPlateau. A minDelta larger than any change makes every epoch after the first a
// non-improvement, so the epochs at which they act follow from the rules alone.
import { describe, expect, it } from 'vitest';
import { Dense } from '../src/layers/layers.ts';
import { Sequential } from '../src/model/model.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { destroyDataset, range, tensorDataset } from '../src/runtime/dataset.ts';
import { fit, type FitOptions } from '../src/runtime/fit.ts';
import { testGpu } from './helpers/gpu.ts';
import { randomArray } from './helpers/random.ts';

async function run(extra: Partial<FitOptions>, epochs: number) {
  const gpu = await testGpu();
  const n = 24;
  const data = tensorDataset(gpu, { x: { data: randomArray(n * 3, 5), shape: [n, 3] }, y: { data: randomArray(n * 2, 6), shape: [n, 2] } }, 'plateau');
  const model = new Sequential([3], [new Dense({ units: 2 })]);
  const state = new ModelState(gpu, model, model.initialValues(1));
  const result = await fit(gpu, model, state, data, {
    epochs, batchSize: 8, seed: 1, loss: 'mse', optimizer: { kind: 'sgd', lr: 0.01 },
    trainIndices: range(0, 16), validationIndices: range(16, n), ...extra,
  });
  const lrs = result.history.map((h) => h.learningRate);
  const after = result.trainer.learningRate();
  result.trainer.destroy(); state.destroy(); destroyDataset(gpu, data);
  return { result, lrs, after };
}

describe('fit callbacks on a monitored value', () => {
  it('early stopping ends the run after `patience` epochs without improvement', async () => {
    const { result } = await run({ earlyStopping: { monitor: 'valLoss', patience: 2, minDelta: 1e9 } }, 6);
    expect(result.stoppedBy).toBe('early-stopping');
    expect(result.history.length).toBe(3);
  });

  it('reduceLrOnPlateau multiplies the rate by factor after `patience` flat epochs, never below minLr', async () => {
    const { lrs, after } = await run({ reduceLrOnPlateau: { monitor: 'trainLoss', patience: 1, factor: 0.5, minDelta: 1e9, minLr: 0.002 } }, 6);
    // Epoch 1 sets the best; every later epoch is flat, so each one's end lowers the next one's rate.
    expect(lrs.map((lr) => Number(lr.toPrecision(6)))).toEqual([0.01, 0.01, 0.005, 0.0025, 0.002, 0.002]);
    expect(after).toBeCloseTo(0.002, 12);
  });

  it('cooldown waits that many epochs before counting again', async () => {
    const { lrs } = await run({ reduceLrOnPlateau: { monitor: 'valLoss', patience: 2, factor: 0.1, minDelta: 1e9, cooldown: 2 } }, 7);
    // Lowered at the end of epoch 3 (2 flat epochs); epoch 4 is cooldown; as in Keras, the epoch whose
    // end finishes the cooldown (5) already counts, so epoch 6's end lowers it again.
    expect(lrs.map((lr) => Number(lr.toPrecision(6)))).toEqual([0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0001]);
  });

  it('scheduleSteps sets the schedule\'s length apart from the epochs, and its last rate holds after it', async () => {
    // 16 training rows at batch 8: 2 steps per epoch; a rate is reported at each epoch's first step.
    const whole = await run({ schedule: { kind: 'cosine' } }, 3);
    expect(whole.lrs.map((lr) => Number(lr.toPrecision(6)))).toEqual([0.01, 0.0075, 0.0025]);
    const short = await run({ schedule: { kind: 'cosine' }, scheduleSteps: 2 }, 3);
    expect(short.lrs.map((lr) => Number(lr.toPrecision(6)))).toEqual([0.01, 0, 0]);
    await expect(run({ scheduleSteps: 1.5 }, 1)).rejects.toThrow(/fit: scheduleSteps must be a positive integer, got 1.5/);
  });

  it('refuses a monitor the run cannot report and a factor outside (0, 1)', async () => {
    await expect(run({ validationIndices: new Uint32Array(0), reduceLrOnPlateau: { monitor: 'valLoss', patience: 1 } }, 2)).rejects.toThrow(/reduceLrOnPlateau monitors valLoss, which needs validation data/);
    await expect(run({ reduceLrOnPlateau: { monitor: 'valLoss', patience: 1, factor: 1.5 } }, 2)).rejects.toThrow(/reduceLrOnPlateau.factor must be in \(0, 1\), got 1.5/);
  });
});
