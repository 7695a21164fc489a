// The training command under misuse and interruption: every bad flag is refused before anything
// starts, with a message naming it; SIGINT/SIGTERM save a checkpoint and exit 130/143; resume finishes.
import { describe, expect, it, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../../src/report/png.ts';
import { rng } from '../helpers/random.ts';

const root = new URL('../..', import.meta.url).pathname;
const script = join(root, 'scripts/train-mnist.ts');
// One process (node with tsx's loader), not the tsx CLI, which would stand between the test and the
// trainer and relay signals on its own schedule.
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
    [['--model', 'resnet'], /--model: "resnet" is not one of mlp, mlp2, cnn, lenet/],
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
    expect(code).toBe(1);
  });
});

describe('interruptions', () => {
  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s during training saves a checkpoint, exits %i, and --resume finishes the run', async (signal, exitCode) => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-signal-'));
    const child = spawn(...node(['--dataset', `folder:${folder}`, '--model', 'mlp', '--epochs', '400', '--batch-size', '8', '--out', out]), { cwd: root });
    let output = '';
    let signalled = false;
    const sent = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        // Signal once, when training is under way; a second signal means "quit at once".
        if (!signalled && /epoch +2\/400/.test(output)) { signalled = true; child.kill(signal); resolve(); }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await sent;
    expect(output).toMatch(new RegExp(`stopped by ${signal} after \\d+ steps; saved .*checkpoint\\.safetensors \\(\\d+ epochs complete`));
    expect(code).toBe(exitCode);
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(true);
    const resumed = train(['--dataset', `folder:${folder}`, '--model', 'mlp', '--epochs', '3', '--out', out, '--resume', join(out, 'checkpoint.safetensors'), '--quiet']);
    expect(resumed.out).toMatch(/test accuracy \d+\.\d+%/);
    expect(resumed.code).toBe(0);
  });
});
