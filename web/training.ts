// The demo's training loop, shared by the worker and the end-to-end test (which runs it in Node to
// check the browser computes the same losses): shuffled batches, with loss and accuracy averaged
// over each window of `every` steps.
import { epochPermutation, type Trainer, type TrainerOptions, type Normalization } from 'webgrad';

/** Adam at a constant rate, the way the demo trains. */
export function demoTrainerOptions(o: { batchSize: number; seed: number; lr: number; steps: number }, count: number, normalize: Normalization): TrainerOptions {
  return {
    batchSize: o.batchSize, seed: o.seed, optimizer: { kind: 'adam', lr: o.lr }, normalize,
    stepsPerEpoch: Math.floor(count / o.batchSize), totalSteps: o.steps,
  };
}

export interface TrainingWindow { step: number; loss: number; accuracy: number; imagesPerSecond: number }

/** Runs `steps` steps over a dataset of `count` images; returns the seconds taken. */
export async function trainSteps(trainer: Trainer, count: number, steps: number, every: number,
  onWindow: (window: TrainingWindow) => void): Promise<number> {
  const { batchSize, seed, stepsPerEpoch } = trainer.options;
  const batch = new Uint32Array(batchSize);
  const started = performance.now();
  let windowStart = started;
  let order = epochPermutation(count, seed, 0);
  for (let step = 0; step < steps; step++) {
    const inEpoch = step % stepsPerEpoch;
    if (step > 0 && inEpoch === 0) order = epochPermutation(count, seed, step / stepsPerEpoch);
    for (let i = 0; i < batchSize; i++) batch[i] = order[inEpoch * batchSize + i]!;
    await trainer.step(batch);
    if ((step + 1) % every === 0 || step + 1 === steps) {
      // Reading the totals waits for the GPU: the average of exactly this window's steps.
      const totals = await trainer.totals();
      trainer.resetTotals();
      const now = performance.now();
      onWindow({ step: step + 1, loss: totals.loss, accuracy: totals.accuracy, imagesPerSecond: totals.rows / ((now - windowStart) / 1000) });
      windowStart = now;
    }
  }
  return (performance.now() - started) / 1000;
}
