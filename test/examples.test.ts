// Every example in examples/ runs end to end in its --quick mode, exits 0, and ends with its metric
// line; the metric must clear a bar that a working example reaches in quick mode and a broken one
// (chance is 0.1 on MNIST's ten classes) does not.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** Quick-mode bars, under what each example reached in quick runs here (0.66–0.78). */
const EXAMPLES: Record<string, number> = {
  'keras-cnn.ts': 0.5,
  'torch-loop.ts': 0.5,
  'resnet.ts': 0.5,
  'rgb32.ts': 0.5,
  'multilabel.ts': 0.75,
};

/**
 * Examples whose last line is an error, "test mse 0.NNNN", and the bar it must stay under in quick
 * mode: autoencoder reaches 0.045 (predicting the mean image scores about 0.11); regression's
 * synthetic target has variance about 2.2 and quick runs reach 0.1.
 */
const ERROR_EXAMPLES: Record<string, number> = {
  'autoencoder.ts': 0.08,
  'regression.ts': 0.6,
};

function lastLineError(stdout: string): number {
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  const match = /^test mse (\d+\.\d{4})$/.exec(last);
  if (!match) throw new Error(`the last line is not "test mse N.NNNN": ${JSON.stringify(last)}`);
  return Number(match[1]);
}

function lastLineMetric(stdout: string): number {
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  const match = /^test accuracy (\d\.\d{4})$/.exec(last);
  if (!match) throw new Error(`the last line is not "test accuracy 0.NNNN": ${JSON.stringify(last)}`);
  return Number(match[1]);
}

describe('examples', () => {
  it('lists every example file here', () => {
    expect(readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.ts')).sort()).toEqual([...Object.keys(EXAMPLES), ...Object.keys(ERROR_EXAMPLES)].sort());
  });

  it('reads the metric from the last line only', () => {
    expect(lastLineMetric('epoch 1/1\ntest loss 0.3000\ntest accuracy 0.9871\n')).toBe(0.9871);
    expect(() => lastLineMetric('test accuracy 0.9871\ndone\n')).toThrow(/"done"/);
    expect(() => lastLineMetric('test accuracy 98.71%\n')).toThrow(/not "test accuracy/);
  });

  for (const [file, bar] of Object.entries(EXAMPLES)) {
    it(`${file} --quick ends with a test accuracy above ${bar}`, () => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', join('examples', file), '--quick'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout.split('\n').length, 'progress lines before the metric').toBeGreaterThan(2);
      expect(lastLineMetric(run.stdout)).toBeGreaterThan(bar);
    }, 300_000);
  }

  it('reads the error from the last line only', () => {
    expect(lastLineError('test mae 0.2\ntest mse 0.0453\n')).toBe(0.0453);
    expect(() => lastLineError('test mse 0.0453\ndone\n')).toThrow(/"done"/);
  });

  for (const [file, bar] of Object.entries(ERROR_EXAMPLES)) {
    it(`${file} --quick ends with a test mse below ${bar}`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'webgrad-example-')), 'picture.png');
      const run = spawnSync(process.execPath, ['--import', 'tsx', join('examples', file), '--quick', ...(file === 'autoencoder.ts' ? ['--out', out] : [])], { cwd: root, encoding: 'utf8', timeout: 240_000 });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout.split('\n').length, 'progress lines before the metric').toBeGreaterThan(2);
      expect(lastLineError(run.stdout)).toBeLessThan(bar);
      if (file === 'autoencoder.ts') expect(readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
    }, 300_000);
  }
});
