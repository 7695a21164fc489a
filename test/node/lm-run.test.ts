// The run record train-lm keeps in its checkpoints: read back field by field (a missing or malformed
// one names the file and the field), the flags a resume takes from a checkpoint, and the schedule
// each --schedule names.
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/io/checkpoint.ts';
import { LM_RUN_KEY, lmRunRecord, lmSchedule, recordedLmFlags, type LmRunRecord } from '../../src/node/lm-run.ts';

const RECORD: LmRunRecord = {
  corpus: 'moby-dick', path: '/data/text/moby-dick.txt', sha256: 'f'.repeat(64), valFraction: 0.1, evalBatches: 8,
  layers: 2, heads: 4, width: 64, context: 64, tieWeights: false,
  history: [{ step: 100, trainLoss: 2.5, trainAccuracy: 0.3, valLoss: 2.6, valAccuracy: 0.28, learningRate: 9e-4 }],
};

function checkpoint(extra: Record<string, string>): Checkpoint {
  return {
    source: 'run.safetensors', webgradVersion: '0', model: { zoo: 'mlp', options: {} }, epoch: 0, step: 100, seed: 7, normalize: { mean: 0, std: 1 },
    tokenizer: { kind: 'byte' }, extra, weights: new Map(), moments: new Map(),
    training: { batchSize: 16, seed: 7, optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0.1, decay: 'matrices' }, schedule: { kind: 'warmup-cosine', warmupSteps: 20, minLr: 1e-4 }, clipNorm: 1, stepsPerEpoch: 1000, totalSteps: 400 },
  };
}

describe('lmRunRecord', () => {
  it('reads back what train-lm writes', () => {
    expect(lmRunRecord(checkpoint({ [LM_RUN_KEY]: JSON.stringify(RECORD) }))).toEqual(RECORD);
  });

  const bad: [string, unknown, string][] = [
    ['not JSON', '{corpus', 'run.safetensors: metadata lm_run is not valid JSON'],
    ['a held-out fraction of 0', { ...RECORD, valFraction: 0 }, 'run.safetensors: metadata lm_run.valFraction is 0; must be a finite number > 0 and < 1'],
    ['a missing size', { ...RECORD, width: undefined }, 'run.safetensors: metadata lm_run.width is missing'],
    ['an unknown field', { ...RECORD, dropout: 0.1 }, 'run.safetensors: metadata lm_run has unknown field "dropout"'],
    ['a loss that was NaN', { ...RECORD, history: [{ ...RECORD.history[0], valLoss: null }] }, 'run.safetensors: metadata lm_run.history[0].valLoss is null; must be a finite number'],
  ];
  it.each(bad)('refuses %s, naming the field', (_, value, message) => {
    const stored = typeof value === 'string' ? value : JSON.stringify(value);
    expect(() => lmRunRecord(checkpoint({ [LM_RUN_KEY]: stored }))).toThrow(message);
  });

  it('says a checkpoint without a record was not written by train-lm', () => {
    expect(() => lmRunRecord(checkpoint({}))).toThrow('run.safetensors: metadata lm_run is missing; it was not written by train-lm');
  });
});

describe('the flags a checkpoint fixes', () => {
  it('are read from the trainer options, the tokenizer and the record', () => {
    expect(recordedLmFlags(checkpoint({}), RECORD)).toEqual({
      layers: 2, heads: 4, width: 64, context: 64, 'tie-weights': false, 'val-fraction': 0.1, 'eval-batches': 8, tokenizer: 'byte', 'batch-size': 16, lr: 3e-3, 'weight-decay': 0.1, decay: 'matrices',
      'clip-norm': 1, 'mixed-precision': false, schedule: 'warmup-cosine', warmup: 20, 'min-lr': 1e-4, seed: 7,
    });
    const mixed = checkpoint({});
    mixed.training!.mixedPrecision = { initScale: 1024 };
    expect(recordedLmFlags(mixed, RECORD)['mixed-precision']).toBe(true);
  });

  it('map back to the schedule they came from', () => {
    expect(lmSchedule({ schedule: 'warmup-cosine', warmup: 20, 'min-lr': 1e-4 })).toEqual({ kind: 'warmup-cosine', warmupSteps: 20, minLr: 1e-4 });
    expect(lmSchedule({ schedule: 'cosine', warmup: 20, 'min-lr': 1e-4 })).toEqual({ kind: 'cosine', minLr: 1e-4 });
    expect(lmSchedule({ schedule: 'constant', warmup: 20, 'min-lr': 1e-4 })).toEqual({ kind: 'constant' });
  });
});
