import { describe, expect, it } from 'vitest';
import { EpochProgress, formatDuration, formatEpochSummary } from '../../src/report/progress.ts';
import { fitProgress } from '../../src/runtime/fit-progress.ts';
import type { BatchInfo, EpochResult } from '../../src/runtime/fit.ts';

/** A sink that records writes and a clock the test moves by hand. */
function fakeTerminal(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  let time = 0;
  return {
    writes,
    sink: { isTTY, columns, write: (text: string) => writes.push(text) },
    now: () => time,
    advance: (ms: number) => (time += ms),
  };
}

describe('EpochProgress on a TTY', () => {
  it('redraws one line with \\r at most every 100 ms and clears it at the end', () => {
    const term = fakeTerminal(true);
    const bar = new EpochProgress({ label: 'epoch 1/2', totalSteps: 10, sink: term.sink, now: term.now });
    term.advance(1000);
    bar.update(5, 500, 0.5);
    expect(term.writes).toEqual(['\repoch 1/2  [##########..........]   5/10  500 img/s  loss 0.5000  ETA 0:01']);
    term.advance(50);
    bar.update(6, 600, 0.4);
    expect(term.writes.length).toBe(1); // throttled
    term.advance(60);
    bar.update(7, 700);
    expect(term.writes.length).toBe(2);
    term.advance(1);
    bar.update(10, 1000, 0.25); // the last step always draws
    expect(term.writes[2]).toBe('\repoch 1/2  [####################]  10/10  900 img/s  loss 0.2500  ETA 0:00');
    bar.finish();
    expect(term.writes[3]).toBe('\r\x1b[2K');
  });

  it('fits the line to the terminal width', () => {
    const term = fakeTerminal(true, 30);
    const bar = new EpochProgress({ label: 'epoch 1/2', totalSteps: 10, sink: term.sink, now: term.now });
    term.advance(10);
    bar.update(1, 10);
    expect(term.writes[0]!.length).toBe(30); // "\r" + 29 characters
  });
});

describe('EpochProgress elsewhere', () => {
  it('prints plain lines periodically, never carriage returns', () => {
    const term = fakeTerminal(false);
    const bar = new EpochProgress({ label: 'epoch 2/2', totalSteps: 100, sink: term.sink, now: term.now, plainEveryMs: 5000 });
    for (let step = 1; step <= 100; step++) {
      term.advance(200);
      bar.update(step, step * 64, 1 / step);
    }
    bar.finish();
    // 20 s in total, a line every 5 s: at steps 25, 50, 75, 100.
    expect(term.writes).toEqual([
      'epoch 2/2   25/100  320 img/s  loss 0.0400  ETA 0:15\n',
      'epoch 2/2   50/100  320 img/s  loss 0.0200  ETA 0:10\n',
      'epoch 2/2   75/100  320 img/s  loss 0.0133  ETA 0:05\n',
      'epoch 2/2  100/100  320 img/s  loss 0.0100  ETA 0:00\n',
    ]);
  });
});

describe('formatting', () => {
  it('formats durations', () => {
    expect([formatDuration(0), formatDuration(59.6), formatDuration(61), formatDuration(3725), formatDuration(Infinity)]).toEqual(['0:00', '1:00', '1:01', '1:02:05', '?']);
  });

  it('formats the epoch summary with and without validation', () => {
    expect(formatEpochSummary({ epoch: 3, epochs: 10, trainLoss: 0.23144, trainAccuracy: 0.93125, validationLoss: 0.2011, validationAccuracy: 0.9405, seconds: 12.34, images: 54000 })).toBe(
      'epoch  3/10  train loss 0.2314 acc 93.13%  val loss 0.2011 acc 94.05%  12.3 s  4376 img/s',
    );
    expect(formatEpochSummary({ epoch: 1, epochs: 1, trainLoss: 2, trainAccuracy: 0.1, seconds: 1 })).toBe('epoch 1/1  train loss 2.0000 acc 10.00%  1.0 s');
    expect(formatEpochSummary({ epoch: 1, epochs: 1, trainLoss: 2, trainAccuracy: NaN, validationLoss: 1.5, validationAccuracy: NaN, seconds: 1 })).toBe('epoch 1/1  train loss 2.0000  val loss 1.5000  1.0 s');
  });
});

describe('fitProgress', () => {
  const batch = (epoch: number, stepInEpoch: number, loss: number): BatchInfo => ({
    epoch, stepInEpoch, stepsPerEpoch: 20, imagesPerSecond: 0, snapshot: { loss, accuracy: 0.5, rows: 100, nonFinite: 0, metrics: { accuracy: 0.5 }, step: stepInEpoch },
  });
  const epochEnd = (epoch: number): EpochResult => ({ epoch, trainLoss: 0.25, trainAccuracy: 0.9, valLoss: 0.3, valAccuracy: 0.875, metrics: { accuracy: 0.9 }, seconds: 25, imagesPerSecond: 8, learningRate: 1e-3 });

  it('times each epoch from its start, not from the first callback, and prints the summary after it', () => {
    const term = fakeTerminal(false);
    const callbacks = fitProgress({ epochs: 2, batchSize: 10, sink: term.sink, now: term.now });
    expect(callbacks.batchEvery).toBe(10);
    term.advance(12_000);
    callbacks.onBatchEnd(batch(0, 10, 0.5));
    expect(term.writes).toEqual(['epoch 1/2  10/20  8 img/s  loss 0.5000  ETA 0:12\n']);
    callbacks.onEpochEnd(epochEnd(1), undefined as never);
    expect(term.writes[1]).toBe(`${formatEpochSummary({ epoch: 1, epochs: 2, trainLoss: 0.25, trainAccuracy: 0.9, validationLoss: 0.3, validationAccuracy: 0.875, seconds: 25, images: 200 })}\n`);
    term.advance(11_000);
    callbacks.onBatchEnd(batch(1, 10, 0.125));
    expect(term.writes[2]).toBe('epoch 2/2  10/20  9 img/s  loss 0.1250  ETA 0:11\n');
  });

  it('clears a terminal bar before the summary', () => {
    const term = fakeTerminal(true);
    const callbacks = fitProgress({ epochs: 1, batchSize: 10, sink: term.sink, now: term.now, batchEvery: 5 });
    expect(callbacks.batchEvery).toBe(5);
    term.advance(1000);
    callbacks.onBatchEnd(batch(0, 5, 0.5));
    callbacks.onEpochEnd({ ...epochEnd(1), valLoss: undefined, valAccuracy: undefined } as EpochResult, undefined as never);
    expect(term.writes.slice(1)).toEqual(['\r\x1b[2K', `${formatEpochSummary({ epoch: 1, epochs: 1, trainLoss: 0.25, trainAccuracy: 0.9, seconds: 25, images: 200 })}\n`]);
  });
});
