// Resuming against a checkpoint: flags left out take its values, flags given must agree, --epochs
// may only grow, and a longer run gets a schedule rebuilt for its new total.
import { describe, expect, it } from 'vitest';
import { resumedFlags, resumedTrainerOptions, type ResumableFlags } from '../../src/node/resume.ts';
import { refusal } from '../helpers/refusal.ts';
import { learningRate } from '../../src/optim/optim.ts';
import type { Checkpoint } from '../../src/io/checkpoint.ts';
import type { TrainerOptions } from '../../src/runtime/runtime.ts';

function checkpoint(training: Partial<TrainerOptions> = {}, extra: Record<string, string> = {}): Checkpoint {
  const normalize = { mean: 0.13, std: 0.31 };
  return {
    source: 'c.st', webgradVersion: 'test', model: { zoo: 'lenet', options: { classes: 10 } }, epoch: 3, step: 300, seed: 5, normalize,
    training: {
      batchSize: 32, seed: 5, normalize, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 1e-4 },
      schedule: { kind: 'step', stepSize: 1, gamma: 0.1 }, stepsPerEpoch: 100, totalSteps: 300, labelSmoothing: 0.1, ...training,
    },
    extra: { dataset: 'fashion-mnist', val_split: '0.2', ...extra }, weights: new Map(), moments: new Map(),
  };
}

const defaults: ResumableFlags & { quiet: boolean } = {
  model: 'cnn', dataset: 'mnist', epochs: 5, 'batch-size': 64, lr: 1e-3, optimizer: 'adam', momentum: 0.9, schedule: 'cosine',
  'weight-decay': 0, decay: 'all', l1: 0, dropout: undefined, 'label-smoothing': 0, 'clip-norm': undefined, 'mixed-precision': false, 'val-split': 0.1, 'train-limit': undefined,
  augment: false, standardize: true, seed: 1, quiet: true,
};

describe('resumedFlags', () => {
  it('fills every flag left out from the checkpoint, and leaves the others alone', () => {
    const flags = resumedFlags({ ...defaults, epochs: 6 }, new Set(['epochs', 'quiet']), checkpoint(), 'c.st');
    expect(flags).toEqual({
      model: 'lenet', dataset: 'fashion-mnist', epochs: 6, 'batch-size': 32, lr: 0.05, optimizer: 'momentum', momentum: 0.8, schedule: 'step',
      'weight-decay': 1e-4, decay: 'all', l1: 0, dropout: undefined, 'label-smoothing': 0.1, 'clip-norm': undefined, 'mixed-precision': false, 'val-split': 0.2, 'train-limit': undefined,
      augment: false, standardize: true, seed: 5, quiet: true,
    });
  });

  it('takes --mixed-precision from the checkpoint and refuses one that differs', () => {
    const mixed = checkpoint({ mixedPrecision: true });
    expect(resumedFlags({ ...defaults, epochs: 4 }, new Set(['epochs']), mixed, 'c.st')['mixed-precision']).toBe(true);
    expect(refusal(() => resumedFlags({ ...defaults, epochs: 4 }, new Set(['epochs', 'mixed-precision']), mixed, 'c.st')))
      .toContain("--mixed-precision false differs from the checkpoint's true");
    expect(refusal(() => resumedFlags({ ...defaults, 'mixed-precision': true, epochs: 4 }, new Set(['epochs', 'mixed-precision']), checkpoint(), 'c.st')))
      .toContain("--mixed-precision true differs from the checkpoint's false");
  });

  it('without --epochs, runs to the checkpoint\'s own total', () => {
    const unfinished = { ...checkpoint(), epoch: 2 };
    expect(resumedFlags(defaults, new Set(), unfinished, 'c.st').epochs).toBe(3);
  });

  it('accepts a given flag that agrees, and names every one that does not', () => {
    expect(resumedFlags({ ...defaults, lr: 0.05, epochs: 4 }, new Set(['lr', 'epochs']), checkpoint(), 'c.st').lr).toBe(0.05);
    const message = refusal(() => resumedFlags({ ...defaults, lr: 0.1, model: 'cnn', 'clip-norm': 1, epochs: 4 },
      new Set(['lr', 'model', 'clip-norm', 'epochs']), checkpoint(), 'c.st'));
    expect(message).toBe('--resume c.st: --model cnn differs from the checkpoint\'s lenet; --lr 0.1 differs from the checkpoint\'s 0.05; '
      + '--clip-norm 1 differs from the checkpoint\'s unset. Leave a conflicting flag out to continue with the checkpoint\'s value, or start a fresh run');
  });

  it('takes the decay groups from the checkpoint and refuses a --decay that differs', () => {
    const matrices = checkpoint({ optimizer: { kind: 'adamw', lr: 0.05, weightDecay: 0.1, decay: 'matrices' } });
    expect(resumedFlags({ ...defaults, epochs: 4 }, new Set(['epochs']), matrices, 'c.st').decay).toBe('matrices');
    expect(refusal(() => resumedFlags({ ...defaults, epochs: 4 }, new Set(['epochs', 'decay']), matrices, 'c.st')))
      .toContain("--decay all differs from the checkpoint's matrices");
    expect(refusal(() => resumedFlags({ ...defaults, decay: 'matrices', epochs: 4 }, new Set(['epochs', 'decay']), checkpoint(), 'c.st')))
      .toContain("--decay matrices differs from the checkpoint's all");
  });

  it('--epochs must exceed the epochs done; a finished run needs it', () => {
    expect(refusal(() => resumedFlags({ ...defaults, epochs: 3 }, new Set(['epochs']), checkpoint(), 'c.st')))
      .toContain('--epochs 3: the checkpoint has already completed 3 epochs; give more to train further');
    expect(refusal(() => resumedFlags(defaults, new Set(), checkpoint(), 'c.st')))
      .toContain('the checkpoint has completed all 3 of its epochs; give --epochs above 3 to train further');
  });

  it('a split record that is not a fraction and a positive integer is refused, naming the file', () => {
    const bad = (extra: Record<string, string>) => () => resumedFlags({ ...defaults, epochs: 4 }, new Set(['epochs']), checkpoint({}, extra), 'c.st');
    expect(bad({ val_split: '0x1' })).toThrow('c.st: metadata val_split is "0x1", not a number in [0, 1)');
    expect(bad({ val_split: '1' })).toThrow('c.st: metadata val_split is "1", not a number in [0, 1)');
    expect(bad({ train_limit: '-5' })).toThrow('c.st: metadata train_limit is "-5", not a positive integer');
  });

  it('a checkpoint without the split record does not pin --val-split or --train-limit', () => {
    const old = checkpoint({}, {});
    delete (old.extra as Record<string, string>).val_split;
    const flags = resumedFlags({ ...defaults, 'val-split': 0.3, 'train-limit': 500, epochs: 4 }, new Set(['val-split', 'train-limit', 'epochs']), old, 'c.st');
    expect([flags['val-split'], flags['train-limit']]).toEqual([0.3, 500]);
  });
});

describe('resumedTrainerOptions', () => {
  it('keeps the checkpoint\'s options when the total is unchanged', () => {
    const c = checkpoint();
    expect(resumedTrainerOptions(c, 'step', 3)).toBe(c.training);
  });

  it('rebuilds the schedule for a longer run, keeping what the name does not carry', () => {
    const step = resumedTrainerOptions(checkpoint(), 'step', 9);
    expect(step.totalSteps).toBe(900);
    expect(step.schedule).toEqual({ kind: 'step', stepSize: 3, gamma: 0.1 });
    const cosine = resumedTrainerOptions(checkpoint({ schedule: { kind: 'cosine', minLr: 1e-5 } }), 'cosine', 6);
    expect(cosine.schedule).toEqual({ kind: 'cosine', minLr: 1e-5 });
    // The finished cosine run sat at its floor; over the new total it continues from mid-schedule.
    const at = (o: TrainerOptions) => learningRate(o.schedule!, 0.05, 300, o.stepsPerEpoch, o.totalSteps);
    expect(at(checkpoint({ schedule: { kind: 'cosine', minLr: 1e-5 } }).training!)).toBeCloseTo(1e-5, 12);
    expect(at(cosine)).toBeCloseTo(1e-5 + (0.05 - 1e-5) / 2, 12);
  });
});
