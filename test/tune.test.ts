// Hyperparameter search: which trials run, how results rank, CSV escaping, and one short search end
// to end on a generated PNG-folder dataset.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvField, gridTrials, randomTrials, rankTrials, toCsv, trialsCsv, type SearchSpace, type TrialResult } from '../src/node/tune.ts';
import { writeBandFolder } from './helpers/png-folder.ts';

const space: SearchSpace = { lr: [1e-3, 3e-3, 1e-2], batchSize: [16, 32], dropout: [0, 0.25], optimizer: ['adam', 'momentum', 'sgd'] };
const key = (t: object) => JSON.stringify(t);

describe('trial generation', () => {
  it('the grid is the full product, each combination once', () => {
    const grid = gridTrials(space);
    expect(grid).toHaveLength(3 * 2 * 2 * 3);
    expect(new Set(grid.map(key)).size).toBe(grid.length);
    for (const lr of space.lr) for (const batchSize of space.batchSize) for (const dropout of space.dropout) for (const optimizer of space.optimizer) {
      expect(grid).toContainEqual({ lr, batchSize, dropout, optimizer });
    }
  });

  it('a single value per list is one trial', () => {
    expect(gridTrials({ lr: [0.1], batchSize: [8], dropout: [0], optimizer: ['sgd'] })).toEqual([{ lr: 0.1, batchSize: 8, dropout: 0, optimizer: 'sgd' }]);
  });

  it('random search is deterministic for a seed, draws from the lists and never repeats a combination', () => {
    const first = randomTrials(space, 10, 7);
    expect(randomTrials(space, 10, 7)).toEqual(first);
    expect(first).toHaveLength(10);
    expect(new Set(first.map(key)).size).toBe(10);
    for (const t of first) {
      expect(space.lr).toContain(t.lr);
      expect(space.batchSize).toContain(t.batchSize);
      expect(space.dropout).toContain(t.dropout);
      expect(space.optimizer).toContain(t.optimizer);
    }
    expect(randomTrials(space, 10, 8).map(key)).not.toEqual(first.map(key));
  });

  it('random search refuses more trials than there are combinations', () => {
    expect(randomTrials(space, 36, 1)).toHaveLength(36);
    expect(() => randomTrials(space, 37, 1)).toThrow(/37 random trials asked for, but the candidate values make only 36/);
  });
});

describe('ranking', () => {
  const result = (trial: number, valAccuracy: number, valLoss: number, failure?: string): TrialResult => ({
    trial, config: { lr: 1e-3, batchSize: 8, dropout: 0, optimizer: 'adam' }, valAccuracy, valLoss, trainLoss: 0, trainAccuracy: 0, epochs: 1, seconds: 1,
    ...(failure ? { failure } : {}),
  });

  it('by validation accuracy, then loss, then trial order; failed trials last', () => {
    const ranked = rankTrials([
      result(1, 0.8, 0.5), result(2, NaN, NaN, 'loss became NaN/Inf'), result(3, 0.9, 0.7), result(4, 0.9, 0.3), result(5, 0.8, 0.5), result(6, 0.1, 2),
    ]);
    expect(ranked.map((r) => r.trial)).toEqual([4, 3, 1, 5, 6, 2]);
  });
});

describe('CSV', () => {
  it('quotes fields with commas, quotes or line breaks and doubles quotes', () => {
    expect(csvField('adam')).toBe('adam');
    expect(csvField(0.001)).toBe('0.001');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(toCsv(['x', 'y'], [[1, 'a,b'], [2, '']])).toBe('x,y\r\n1,"a,b"\r\n2,\r\n');
  });

  it('a failed trial has empty metrics and its reason, quoted when it needs to be', () => {
    const config = { lr: 10, batchSize: 8, dropout: 0, optimizer: 'sgd' } as const;
    const csv = trialsCsv([{ trial: 2, config, valAccuracy: NaN, valLoss: NaN, trainLoss: NaN, trainAccuracy: NaN, epochs: 0, seconds: 0.5, failure: 'diverged, "NaN"' }]);
    expect(csv.split('\r\n')[1]).toBe('1,2,10,8,0,sgd,,,,,0,0.5,"diverged, ""NaN"""');
  });
});

describe('scripts/tune.ts end to end', () => {
  it('a random search on a PNG folder writes one ranked row per trial to JSON and CSV', async () => {
    const folder = await writeBandFolder({ classes: ['top', 'middle', 'bottom'], perClass: 30, seed: 5 });
    const out = mkdtempSync(join(tmpdir(), 'webgrad-tune-'));
    const root = new URL('..', import.meta.url).pathname;
    const run = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/tune.ts'),
      '--dataset', `folder:${folder}`, '--model', 'mlp', '--search', 'random', '--trials', '3', '--seed', '3',
      '--lr', '1e-3,1e-2', '--batch-size', '8,16', '--optimizer', 'adam,momentum', '--epochs', '2', '--val-split', '0.25', '--out', out, '--quiet',
    ], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'tune.json'), 'utf8')) as { trials: (TrialResult & { rank: number })[]; trainImages: number; validationImages: number };
    // 90 images, 20% held out as the folder's test set → 72, of which the last 25% validate.
    expect([json.trainImages, json.validationImages]).toEqual([54, 18]);
    expect(json.trials).toHaveLength(3);
    expect(json.trials.map((t) => t.rank)).toEqual([1, 2, 3]);
    expect(json.trials.map((t) => t.trial).sort()).toEqual([1, 2, 3]);
    expect(rankTrials(json.trials).map((t) => t.trial)).toEqual(json.trials.map((t) => t.trial));
    for (const t of json.trials) expect(t.valAccuracy).toBeGreaterThanOrEqual(0);
    const lines = readFileSync(join(out, 'tune.csv'), 'utf8').trimEnd().split('\r\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]!.startsWith('rank,trial,lr,batch_size,dropout,optimizer,val_accuracy,val_loss')).toBe(true);
    expect(lines.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(json.trials.map((t) => t.trial));
    expect(run.stdout).toMatch(/^rank +trial +lr/m);
  });
});
