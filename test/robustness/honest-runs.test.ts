// The training command never does silent damage: a diverging run fails and keeps the good
// checkpoint byte for byte; a fresh run does not replace a checkpoint it did not write; a resume
// either agrees with its checkpoint or names the conflict; paths are checked before any training;
// bad values are refused; temp files of killed writes are cleared. Every input is built here.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBandFolder } from '../helpers/png-folder.ts';
import { gzip, idxBytes, tinySplit } from '../helpers/idx.ts';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts';

const root = new URL('../..', import.meta.url).pathname;

function runScript(name: string, args: string[]): { code: number | null; out: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, `scripts/${name}.ts`), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}
const train = (args: string[]) => runScript('train-mnist', args);

const hash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const scratch = (name: string) => mkdtempSync(join(tmpdir(), `webgrad-${name}-`));

let folder = '';
let good = '';
let base: string[] = [];
/** A plain file, for paths that would need a folder where it stands. */
let file = '';
/** A copy of the good run's folder, and its checkpoint's path and hash. */
function goodCopy(): { out: string; checkpoint: string; digest: string } {
  const out = scratch('good-copy');
  cpSync(good, out, { recursive: true });
  const checkpoint = join(out, 'checkpoint.safetensors');
  return { out, checkpoint, digest: hash(checkpoint) };
}

beforeAll(async () => {
  // 3 classes × 40 images: 24 test, 87 train, 9 validation; batch 8 gives 10 steps per epoch.
  folder = await writeBandFolder({ classes: ['top', 'middle', 'bottom'], perClass: 40, seed: 4 });
  base = ['--dataset', `folder:${folder}`, '--model', 'mlp', '--batch-size', '8'];
  file = join(scratch('file'), 'plain.txt');
  writeFileSync(file, 'not a folder');
  good = scratch('good');
  // Non-default lr and seed, so a resume that reports them must have read them from the checkpoint.
  const run = train([...base, '--epochs', '2', '--lr', '0.002', '--seed', '3', '--out', good, '--quiet']);
  expect(run.code, run.out).toBe(0);
});

describe('divergence', () => {
  // Plain SGD at lr 0.5 on these images: the epoch-1 loss is about 1e9, finite.
  const diverging = ['--optimizer', 'sgd', '--lr', '0.5', '--schedule', 'constant', '--quiet'];

  it('a loss that explodes but stays finite exits 1 and leaves the good checkpoint in --out byte for byte', () => {
    const { out, checkpoint, digest } = goodCopy();
    const report = hash(join(out, 'report.json'));
    const run = train([...base, ...diverging, '--epochs', '2', '--out', out, '--overwrite']);
    expect(run.out).toMatch(/the training loss diverged: \d\.\d{3}e\+\d+ \(mean over epoch 1\), more than 100× the chance-level loss ln\(3\) = 1\.099/);
    expect(run.out).toContain(`${checkpoint} is untouched`);
    expect(run.code).toBe(1);
    expect(hash(checkpoint)).toBe(digest);
    expect(hash(join(out, 'report.json'))).toBe(report);
  });

  it('unchecked, the same run "succeeds" with a finite loss far past chance: the check is what stops it', () => {
    const out = scratch('unchecked');
    const run = train([...base, ...diverging, '--epochs', '1', '--out', out, '--divergence-factor', '1e30']);
    expect(run.code, run.out).toBe(0);
    const loss = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).history[0].trainLoss;
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeGreaterThan(100 * Math.log(3));
  });
});

describe('a checkpoint the run did not write is not replaced', () => {
  it('a fresh run into a folder holding one refuses, saying how to go on', () => {
    const { out, checkpoint, digest } = goodCopy();
    const run = train([...base, '--epochs', '1', '--out', out]);
    expect(run.out).toContain(`--out: ${out} already holds checkpoint.safetensors from another run; --resume ${checkpoint} continues it, --overwrite replaces it, or choose another --out`);
    expect(run.code).toBe(2);
    expect(hash(checkpoint)).toBe(digest);
  });

  it('resuming another checkpoint into that folder refuses too', () => {
    const { out, checkpoint, digest } = goodCopy();
    const other = goodCopy();
    const run = train(['--resume', other.checkpoint, '--epochs', '3', '--out', out, '--quiet']);
    expect(run.out).toContain(`and is not the checkpoint this run starts from (${other.checkpoint})`);
    expect(run.code).toBe(2);
    expect(hash(checkpoint)).toBe(digest);
  });

  it('--overwrite replaces it', () => {
    const { out, checkpoint, digest } = goodCopy();
    const run = train([...base, '--epochs', '1', '--seed', '7', '--out', out, '--overwrite', '--quiet']);
    expect(run.code, run.out).toBe(0);
    expect(hash(checkpoint)).not.toBe(digest);
  });
});

describe('resume is honest', () => {
  it.each([
    [['--model', 'mlp2'], '--model mlp2 differs from the checkpoint\'s mlp'],
    [['--optimizer', 'sgd'], '--optimizer sgd differs from the checkpoint\'s adam'],
    [['--lr', '0.01'], '--lr 0.01 differs from the checkpoint\'s 0.002'],
    [['--batch-size', '4'], '--batch-size 4 differs from the checkpoint\'s 8'],
    [['--dataset', 'fashion-mnist'], '--dataset fashion-mnist differs from the checkpoint\'s folder:'],
    [['--seed', '1'], '--seed 1 differs from the checkpoint\'s 3'],
    [['--schedule', 'constant'], '--schedule constant differs from the checkpoint\'s cosine'],
    [['--augment'], '--augment true differs from the checkpoint\'s false'],
    [['--no-standardize'], '--standardize false differs from the checkpoint\'s true'],
    [['--epochs', '2'], '--epochs 2: the checkpoint has already completed 2 epochs; give more to train further'],
    [[], 'the checkpoint has completed all 2 of its epochs; give --epochs above 2 to train further'],
    [['--train-limit', '50'], '--train-limit 50 differs from the checkpoint\'s unset'],
    [['--val-split', '0.2'], '--val-split 0.2 differs from the checkpoint\'s 0.1'],
  ])('%j is refused, naming both values', (flags, message) => {
    const { out, checkpoint, digest } = goodCopy();
    const run = train(['--resume', checkpoint, '--out', out, '--quiet', ...(flags.includes('--epochs') || flags.length === 0 ? [] : ['--epochs', '3']), ...flags]);
    expect(run.out).toContain(`--resume ${checkpoint}: `);
    expect(run.out).toContain(message);
    expect(run.code).toBe(2);
    expect(hash(checkpoint)).toBe(digest);
  });

  it('data whose classes are not the checkpoint\'s is refused, even under the same --dataset', async () => {
    const renamed = await writeBandFolder({ classes: ['top', 'middle', 'bottom'], perClass: 40, seed: 4 });
    const out = scratch('renamed');
    expect(train(['--dataset', `folder:${renamed}`, '--model', 'mlp', '--batch-size', '8', '--epochs', '1', '--out', out, '--quiet']).code).toBe(0);
    renameSync(join(renamed, 'bottom'), join(renamed, 'low'));
    const checkpoint = join(out, 'checkpoint.safetensors');
    const run = train(['--resume', checkpoint, '--out', out, '--epochs', '2', '--quiet']);
    expect(run.out).toContain(`--resume ${checkpoint}: the data's classes [low, middle, top] are not the checkpoint's [bottom, middle, top]`);
    expect(run.code).toBe(2);
  });

  it('a checkpoint without the split record still refuses a different epoch length', () => {
    const { out, checkpoint } = goodCopy();
    // As written before checkpoints recorded --val-split and --train-limit. A short last batch is a step: 45 images at batch 8 are 6.
    const file = decodeSafetensors(new Uint8Array(readFileSync(checkpoint)), checkpoint);
    const { val_split: _, ...metadata } = file.metadata;
    writeFileSync(checkpoint, encodeSafetensors(file.tensors, metadata));
    const run = train(['--resume', checkpoint, '--out', out, '--epochs', '3', '--train-limit', '50', '--quiet']);
    expect(run.out).toContain(`--resume ${checkpoint}: 45 training images make 6 steps per epoch, the checkpoint's run made 11`);
    expect(run.code).toBe(2);
  });

  it('every conflict is named at once', () => {
    const { out, checkpoint } = goodCopy();
    const run = train(['--resume', checkpoint, '--out', out, '--epochs', '3', '--lr', '0.01', '--model', 'cnn']);
    expect(run.out).toMatch(/--model cnn differs from the checkpoint's mlp; --lr 0\.01 differs from the checkpoint's 0\.002/);
    expect(run.code).toBe(2);
  });

  it('more epochs rebuild the schedule for the new total, and the report states the values used', () => {
    const { out, checkpoint } = goodCopy();
    const run = train(['--resume', checkpoint, '--out', out, '--epochs', '4']);
    expect(run.out).toContain('schedule rebuilt for 4 epochs (the checkpoint\'s run planned 2)');
    expect(run.code, run.out).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({
      model: 'mlp', dataset: `folder:${folder}`, epochs: 4, batchSize: 8, seed: 3, optimizer: 'adam', learningRate: 0.002, schedule: 'cosine',
      resumedFrom: { checkpoint, epoch: 2 },
    });
    // Cosine over 40 steps, epoch 3 starting at step 20: half the peak. The old total would give 0.
    expect(report.history.map((h: { epoch: number }) => h.epoch)).toEqual([3, 4]);
    expect(report.history[0].learningRate).toBeCloseTo(0.001, 12);
  });
});

describe('preflight: nothing starts when a path or value is wrong', () => {
  it.each([
    ['--out', 3, () => join(file, 'run'), (p: string) => `--out: cannot create the folder ${p}: ${file} is a file`],
    ['--report', 3, () => scratch('report-dir'), (p: string) => `--report: ${p} is a folder; give a file name`],
    ['--report', 3, () => join(file, 'report.json'), () => `--report: cannot create the folder ${file}: ${file} is a file`],
    ['--logdir', 3, () => join(file, 'logs'), (p: string) => `--logdir: cannot create the folder ${p}: ${file} is a file`],
  ])('%s that cannot be written exits %i before any data is read', (flag, code, path, message) => {
    const target = path();
    const run = train([...base, '--epochs', '1', ...(flag === '--out' ? [] : ['--out', scratch('preflight')]), flag, target]);
    expect(run.out).toContain(message(target));
    expect(run.out).not.toContain('adapter:');
    expect(run.code).toBe(code);
  });

  it.each([
    [['--dataset', 'folder:'], 2, '--dataset: "folder:" names no folder; give folder:PATH'],
    [['--dataset', 'folder:/nonexistent/webgrad'], 3, '--dataset: /nonexistent/webgrad is not a folder'],
    [['--lr', '0x10'], 2, '--lr: must be a number, got "0x10"'],
    [['--seed', '4294967296'], 2, '--seed: must be in [0, 4294967295], got "4294967296"'],
    [['--epochs', '9007199254740993'], 2, '--epochs: must be an integer within ±9007199254740991 (2^53 − 1), got "9007199254740993"'],
    [['--train-limit', '1e3'], 2, '--train-limit: must be an integer, got "1e3"'],
  ])('%j exits %i', (flags, code, message) => {
    const run = train(['--out', scratch('flags'), ...flags]);
    expect(run.out).toContain(message);
    expect(run.code).toBe(code);
  });

  it('an empty test set is refused', () => {
    const data = scratch('no-test');
    const train10 = tinySplit(40, 28, 28, 10);
    const files: Record<string, Uint8Array> = {
      'train-images-idx3-ubyte.gz': train10.images, 'train-labels-idx1-ubyte.gz': train10.labels,
      't10k-images-idx3-ubyte.gz': idxBytes([0, 28, 28], []), 't10k-labels-idx1-ubyte.gz': idxBytes([0], []),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(data, name), gzip(bytes));
    const run = train(['--data', data, '--model', 'mlp', '--batch-size', '8', '--out', scratch('no-test-out')]);
    expect(run.out).toContain('--dataset: mnist');
    expect(run.out).toContain('has no test images to evaluate on');
    expect(run.code).toBe(2);
  });
});

describe('the other entry points that write', () => {
  it.each([
    ['tune', ['--dataset', 'folder:/unused', '--out', '<file>/tune'], 3, '--out: cannot create the folder <file>/tune: <file> is a file'],
    ['tune', ['--lr', '1e-3,,1e-2'], 2, '--lr: "1e-3,,1e-2" has an empty item'],
    ['tune', ['--batch-size', '0x20'], 2, '--batch-size: "0x20" is not an integer'],
    ['finetune', ['--target', 'folder:', '--out', '<scratch>'], 2, '--target: "folder:" names no folder'],
    ['finetune', ['--fractions', '0.1,', '--out', '<scratch>'], 2, '--fractions: "0.1," has an empty item'],
    ['finetune', ['--seed', '4294967296'], 2, '--seed: must be in [0, 4294967295]'],
    ['compress', ['--ckpt', '<file>', '--sparsity', '0.5,,0.9'], 2, '--sparsity: "0.5,,0.9" has an empty item'],
    ['compress', ['--ckpt', '<file>', '--out', '<file>/compress.json'], 3, '--out: cannot create the folder <file>: <file> is a file'],
    ['compress', ['--ckpt', '/nonexistent/webgrad.safetensors', '--out', '<scratch>/compress.json'], 3, '/nonexistent/webgrad.safetensors: cannot read (ENOENT)'],
  ])('%s %j exits %i', (name, args, code, message) => {
    const out = scratch('other');
    const fill = (text: string) => text.replaceAll('<file>', file).replaceAll('<scratch>', out);
    const run = runScript(name, args.map(fill));
    expect(run.out).toContain(fill(message));
    expect(run.code).toBe(code);
  });

  it('finetune does not replace a pretrained checkpoint another run left in --out', () => {
    const out = scratch('finetune-out');
    const pretrained = join(out, 'pretrained-mnist.safetensors');
    cpSync(join(good, 'checkpoint.safetensors'), pretrained);
    const digest = hash(pretrained);
    const run = runScript('finetune', ['--target', `folder:${folder}`, '--out', out, '--quiet']);
    expect(run.out).toContain(`--out: ${out} already holds pretrained-mnist.safetensors from another run; --pretrained ${pretrained} uses it, --overwrite replaces it`);
    expect(run.code).toBe(2);
    expect(hash(pretrained)).toBe(digest);
  });
});

describe('temp files of killed writes', () => {
  it('are removed on the next run into the folder; those of a live writer are kept', () => {
    const { out, checkpoint } = goodCopy();
    // A process that has exited stands in for a writer killed mid-write.
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = join(out, `.checkpoint.safetensors.${gone}.0badc0de.tmp`);
    const live = join(out, `.report.json.${process.pid}.00c0ffee.tmp`);
    writeFileSync(stale, 'half a checkpoint');
    writeFileSync(live, 'a write in progress');
    const run = train(['--resume', checkpoint, '--out', out, '--epochs', '3']);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`removed temp files left by interrupted writes: .checkpoint.safetensors.${gone}.0badc0de.tmp`);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});
