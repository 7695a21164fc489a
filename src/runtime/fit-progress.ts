// fit()'s callbacks for a terminal: an EpochProgress bar through each epoch, then its summary line.
//
//   await fit(gpu, model, state, data, { ...options, ...fitProgress({ epochs, batchSize, sink: stdout }) });
import { EpochProgress, formatEpochSummary, type ProgressSink } from '../report/progress.ts';
import type { FitOptions } from './fit.ts';

export interface FitProgressOptions {
  epochs: number;
  batchSize: number;
  sink: ProgressSink;
  /** Steps between bar updates (fit's batchEvery); default 10. */
  batchEvery?: number;
  /** Milliseconds clock; default performance.now. */
  now?: () => number;
}

export function fitProgress(o: FitProgressOptions): Required<Pick<FitOptions, 'batchEvery' | 'onBatchEnd' | 'onEpochEnd'>> {
  const now = o.now ?? (() => performance.now());
  // fit() calls back only every batchEvery steps, so each epoch's bar is timed from when the last one ended.
  let epochStart = now();
  let bar: { epoch: number; progress: EpochProgress; steps: number } | undefined;
  return {
    batchEvery: o.batchEvery ?? 10,
    onBatchEnd: (b) => {
      if (bar?.epoch !== b.epoch) {
        bar = { epoch: b.epoch, steps: b.stepsPerEpoch, progress: new EpochProgress({ label: `epoch ${b.epoch + 1}/${o.epochs}`, totalSteps: b.stepsPerEpoch, sink: o.sink, now, start: epochStart }) };
      }
      bar.progress.update(b.stepInEpoch, b.stepInEpoch * o.batchSize, b.snapshot?.loss);
    },
    onEpochEnd: (r) => {
      bar?.progress.finish();
      const validation = r.valLoss === undefined || r.valAccuracy === undefined ? {} : { validationLoss: r.valLoss, validationAccuracy: r.valAccuracy };
      const images = bar?.epoch === r.epoch - 1 ? { images: bar.steps * o.batchSize } : {};
      o.sink.write(`${formatEpochSummary({ epoch: r.epoch, epochs: o.epochs, trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy, ...validation, seconds: r.seconds, ...images })}\n`);
      epochStart = now();
    },
  };
}
