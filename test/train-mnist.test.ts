// End to end: the main script on a 2,000-image MNIST subset, judged on 1,000 held-out test images,
// and the report it leaves carries every field a user (or a dashboard) reads.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

describe('scripts/train-mnist.ts', () => {
  it('trains lenet on 2,000 images to > 90% on 1,000 test images and writes the full report', () => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-smoke-'));
    const report = join(out, 'copy.json');
    // 3,000 training images with a third held out for validation leave 2,000 to train on: 5 epochs of
    // 62 steps of 32.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/train-mnist.ts', '--model', 'lenet', '--epochs', '5', '--batch-size', '32',
      '--lr', '2e-3', '--train-limit', '3000', '--val-split', '0.3334', '--test-limit', '1000', '--out', out, '--report', report, '--quiet'],
    { cwd: root, encoding: 'utf8', timeout: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    const r = JSON.parse(readFileSync(report, 'utf8'));
    expect(r.testAccuracy).toBeGreaterThan(0.9);
    expect(run.stdout).toContain(`test accuracy ${(100 * r.testAccuracy).toFixed(2)}%`);
    expect(r).toMatchObject({ dataset: 'mnist', model: 'lenet', epochs: 5, batchSize: 32, seed: 1 });
    // subgroupSizes is there only where the adapter reports its subgroup size range.
    expect(Object.keys(r.adapter).filter((k) => k !== 'subgroupSizes').sort()).toEqual(['architecture', 'backend', 'description', 'device', 'software', 'vendor']);
    if ('subgroupSizes' in r.adapter) expect(r.adapter.subgroupSizes).toEqual({ min: expect.any(Number), max: expect.any(Number) });
    for (const key of ['trainSeconds', 'imagesPerSecond', 'testAccuracy', 'testLoss']) expect(r[key], key).toBeGreaterThan(0);
    expect(r.perClass).toHaveLength(10);
    for (const c of r.perClass) for (const key of ['precision', 'recall', 'f1', 'support']) expect(typeof c[key], key).toBe('number');
    expect(r.perClass.reduce((sum: number, c: { support: number }) => sum + c.support, 0)).toBe(1000);
    expect(r.confusionMatrix).toHaveLength(10);
    expect(r.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
    const diagonal = r.confusionMatrix.reduce((sum: number, row: number[], i: number) => sum + row[i]!, 0);
    expect(diagonal / 1000).toBeCloseTo(r.testAccuracy, 6);
    expect(r.history).toHaveLength(5);
    for (const h of r.history) for (const key of ['epoch', 'trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'seconds']) expect(typeof h[key], key).toBe('number');
    expect(readFileSync(join(out, 'report.json'), 'utf8')).toBe(readFileSync(report, 'utf8'));
    for (const file of ['checkpoint.safetensors', 'training-curves.svg', 'confusion-matrix.svg', 'misclassified.svg']) expect(existsSync(join(out, file)), file).toBe(true);
  });
});
