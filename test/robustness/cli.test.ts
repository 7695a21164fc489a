// The training command under misuse: every bad flag is refused before anything starts, with a
// message naming it (signals: signals.test.ts).
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../../src/report/png.ts';
import { rng } from '../helpers/random.ts';

const root = new URL('../..', import.meta.url).pathname;
const script = join(root, 'scripts/train-mnist.ts');
// The README's form: one process, node with tsx's loader.
const node = (args: string[]) => [process.execPath, ['--import', 'tsx', script, ...args]] as const;

function train(args: string[]) {
  const run = spawnSync(...node(args), { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

let folder = '';
beforeAll(async () => {
  // A tiny three-class PNG dataset: bright bands at different heights.
  folder = mkdtempSync(join(tmpdir(), 'webgrad-cli-'));
  const next = rng(4);
  for (const [c, name] of ['top', 'middle', 'bottom'].entries()) {
    mkdirSync(join(folder, name));
    for (let i = 0; i < 40; i++) {
      const pixels = new Uint8Array(28 * 28).map((_, p) => (Math.floor(Math.floor(p / 28) / 10) === c ? 255 : Math.floor(next() * 30)));
      writeFileSync(join(folder, name, `${i}.png`), await encodePng(pixels, 28, 28));
    }
  }
});

describe('bad configuration is refused before anything starts', () => {
  it.each([
    [['--model', 'vgg16'], /--model: "vgg16" is not one of mlp, mlp2, cnn, lenet/],
    [['--optimizer', 'rmsprop'], /--optimizer: "rmsprop" is not one of sgd, momentum, adam, adamw/],
    [['--schedule', 'linear'], /--schedule: "linear" is not one of constant, step, exponential, cosine, onecycle/],
    [['--lr', '-1'], /--lr: must be a positive number, got "-1"/],
    [['--epochs', '0'], /--epochs: must be a positive number, got "0"/],
    [['--batch-size', '2.5'], /--batch-size: must be an integer, got "2.5"/],
    [['--val-split', '1'], /--val-split: must be in \[0, 1\), got "1"/],
    [['--epoch', '3'], /unknown flag --epoch \(did you mean --epochs\?\)/],
    [['--dataset', 'cifar'], /--dataset: "cifar" is not one of mnist, fashion-mnist, folder:PATH/],
  ])('%j', (args, message) => {
    const { code, out } = train(args);
    expect(out).toMatch(message);
    expect(code).toBe(2);
  });

  it('a batch larger than the training set', () => {
    const { code, out } = train(['--dataset', `folder:${folder}`, '--batch-size', '500']);
    expect(out).toMatch(/--batch-size: 500 is larger than the 87 training images/);
    expect(code).toBe(2);
  });

  it('a data folder that does not hold the files', () => {
    const empty = mkdtempSync(join(tmpdir(), 'webgrad-nodata-'));
    const { code, out } = train(['--data', empty]);
    expect(out).toMatch(new RegExp(`${empty}`));
    expect(code).toBe(3);
  });
});
