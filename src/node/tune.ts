// Hyperparameter search bookkeeping for scripts/tune.ts: which trials to run (the full grid, or a
// seeded random sample of it), how to rank their results, and the ranked table as text and CSV.
import { seededPermutation } from '../data/split.ts';
import type { OptimizerName } from './optimizer-flags.ts';

/** Candidate values per hyperparameter. */
export interface SearchSpace {
  lr: readonly number[];
  batchSize: readonly number[];
  dropout: readonly number[];
  optimizer: readonly OptimizerName[];
}

export interface TrialConfig {
  lr: number;
  batchSize: number;
  dropout: number;
  optimizer: OptimizerName;
}

export interface TrialResult {
  /** 1-based position in the order the trials ran. */
  trial: number;
  config: TrialConfig;
  valAccuracy: number;
  valLoss: number;
  trainLoss: number;
  trainAccuracy: number;
  epochs: number;
  seconds: number;
  /** Why the trial has no result (e.g. the loss became NaN); such trials rank last. */
  failure?: string;
}

/** Every combination, lr varying slowest and optimizer fastest. */
export function gridTrials(space: SearchSpace): TrialConfig[] {
  const trials: TrialConfig[] = [];
  for (const lr of space.lr) {
    for (const batchSize of space.batchSize) {
      for (const dropout of space.dropout) {
        for (const optimizer of space.optimizer) trials.push({ lr, batchSize, dropout, optimizer });
      }
    }
  }
  return trials;
}

/**
 * `count` distinct combinations drawn by a seeded shuffle of the grid: the same seed gives the same
 * trials, and no combination is trained twice (a repeat would only cost time).
 */
export function randomTrials(space: SearchSpace, count: number, seed: number): TrialConfig[] {
  const grid = gridTrials(space);
  if (!Number.isInteger(count) || count < 1) throw new Error(`random search needs a positive trial count, got ${count}`);
  if (count > grid.length) throw new Error(`${count} random trials asked for, but the candidate values make only ${grid.length} distinct combinations (use the grid search)`);
  return Array.from(seededPermutation(grid.length, seed).subarray(0, count), (i) => grid[i]!);
}

/** Best first: higher validation accuracy, then lower validation loss, then the earlier trial; failures last. */
export function rankTrials(results: readonly TrialResult[]): TrialResult[] {
  const score = (r: TrialResult) => (r.failure === undefined && Number.isFinite(r.valAccuracy) ? r.valAccuracy : -Infinity);
  const loss = (r: TrialResult) => (r.failure === undefined && Number.isFinite(r.valLoss) ? r.valLoss : Infinity);
  return [...results].sort((a, b) => score(b) - score(a) || loss(a) - loss(b) || a.trial - b.trial);
}

/** RFC 4180: a field with a comma, quote or line break is quoted, with quotes doubled. */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

const COLUMNS = ['rank', 'trial', 'lr', 'batch_size', 'dropout', 'optimizer', 'val_accuracy', 'val_loss', 'train_accuracy', 'train_loss', 'epochs', 'seconds', 'failure'];

function row(r: TrialResult, rank: number): (string | number)[] {
  const { lr, batchSize, dropout, optimizer } = r.config;
  const metrics = r.failure === undefined ? [r.valAccuracy, r.valLoss, r.trainAccuracy, r.trainLoss] : ['', '', '', ''];
  return [rank, r.trial, lr, batchSize, dropout, optimizer, ...metrics, r.epochs, r.seconds, r.failure ?? ''];
}

/** The ranked results as CSV, one row per trial, best first. */
export function trialsCsv(ranked: readonly TrialResult[]): string {
  return toCsv(COLUMNS, ranked.map((r, i) => row(r, i + 1)));
}

export function formatTrialTable(ranked: readonly TrialResult[]): string {
  const header = ['rank', 'trial', 'lr', 'batch', 'dropout', 'optimizer', 'val acc', 'val loss', 'train acc', 'seconds'];
  const lines = ranked.map((r, i) => [
    String(i + 1), String(r.trial), String(r.config.lr), String(r.config.batchSize), String(r.config.dropout), r.config.optimizer,
    r.failure === undefined ? `${(100 * r.valAccuracy).toFixed(2)}%` : 'failed', r.failure === undefined ? r.valLoss.toFixed(4) : r.failure,
    r.failure === undefined ? `${(100 * r.trainAccuracy).toFixed(2)}%` : '', r.seconds.toFixed(1),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  return [header, ...lines].map((cells) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}
