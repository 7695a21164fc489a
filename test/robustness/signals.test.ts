// Signals sent the way users send them, to the command form the README documents
// (`node --import tsx scripts/<name>.ts`): by `timeout` (which signals its child and that child's
// process group), to the top process alone (docker stop, systemd's main process, `kill PID`), twice,
// and as SIGINT. Training stops after its current step, saves it, exits 143 / 130, and --resume
// continues from that step; the commands with nothing to save exit at once with 143 / 130.
import { describe, expect, it, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/node/checkpoint-file.ts';
import { writeBandFolder } from '../helpers/png-folder.ts';

const root = new URL('../..', import.meta.url).pathname;
/** The README's form: the script runs in the process the user starts, tsx only as its loader. */
const documented = (script: string, args: string[]) => [process.execPath, '--import', 'tsx', `scripts/${script}`, ...args];

interface Exit { code: number | null; signal: NodeJS.Signals | null; output: string }

/** Starts `argv` in its own process group, as a shell starts a job; `waitFor` resolves on the first output matching. */
function start(argv: string[]) {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: root, detached: true });
  let output = '';
  const waiting: { pattern: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of waiting.filter((x) => x.pattern.test(output))) { waiting.splice(waiting.indexOf(w), 1); w.resolve(); }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, output })));
  const waitFor = (pattern: RegExp) => new Promise<void>((resolve, reject) => {
    if (pattern.test(output)) { resolve(); return; }
    waiting.push({ pattern, resolve });
    void exited.then(() => reject(new Error(`exited before printing ${pattern}:\n${output}`)));
  });
  return { pid: child.pid!, waitFor, exited };
}

function run(argv: string[]) {
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

// 3 classes × 40 images, a fifth of them the test set, 10% of the rest held out: 87 training
// images, 11 steps per epoch: ten of 8 and a short last one of 7.
const STEPS_PER_EPOCH = 11;
let folder = '';
const training = (out: string, epochs: number, extra: string[] = []) =>
  documented('train-mnist.ts', ['--dataset', `folder:${folder}`, '--model', 'mlp', '--epochs', String(epochs), '--batch-size', '8', '--test-limit', '30', '--out', out, ...extra]);
const TSX_CLI_WARNING = /train-mnist: started by tsx's CLI .* run node --import tsx scripts\/train-mnist\.ts to stop cleanly/;
const interrupted = /stopped by (SIG\w+) after (\d+) steps; saved (.*checkpoint\.safetensors) \((\d+) epochs complete/;

beforeAll(async () => {
  folder = await writeBandFolder({ classes: ['top', 'middle', 'bottom'], perClass: 40, seed: 4 });
});

/** The checkpoint the interrupted run reported, checked to hold the step it stopped after. */
async function interruptedCheckpoint(output: string, signal: string) {
  const match = interrupted.exec(output);
  expect(match, output).not.toBeNull();
  const [, by, steps, path, epochs] = match!;
  expect(by).toBe(signal);
  const checkpoint = await readCheckpoint(path!);
  expect(checkpoint.step).toBe(Number(steps));
  expect(checkpoint.epoch).toBe(Number(epochs));
  // Mid-epoch: more steps than the completed epochs hold, so the step in progress was kept.
  expect(checkpoint.step).toBeGreaterThan(checkpoint.epoch * STEPS_PER_EPOCH);
  return { path: path!, checkpoint };
}

describe('train-mnist under signals', () => {
  it('SIGTERM from `timeout` saves the step in progress, exits 143, and --resume continues from that step', async () => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-timeout-'));
    // `timeout` answers a SIGTERM of its own exactly as it answers its deadline (the signal goes to
    // its child and the child's process group), so the test sends it when training is under way
    // instead of guessing a deadline; --preserve-status reports the child's status, not 124.
    const job = start(['timeout', '--preserve-status', '-s', 'TERM', '300', ...training(out, 400)]);
    await job.waitFor(/epoch +1\/400/);
    process.kill(job.pid, 'SIGTERM');
    const { code, output } = await job.exited;
    expect(output).toMatch(/SIGTERM: finishing the current step, then saving a checkpoint/);
    expect(code).toBe(143);
    const { path, checkpoint } = await interruptedCheckpoint(output, 'SIGTERM');

    const resumed = run(training(out, checkpoint.epoch + 2, ['--resume', path]));
    expect(resumed.output).toContain(`resumed from ${path}: ${checkpoint.epoch} epochs (${checkpoint.step} steps) done`);
    expect(resumed.output).toMatch(/test accuracy \d+\.\d+%/);
    expect(resumed.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { history: unknown[] };
    expect(report.history).toHaveLength(2);
    const finished = await readCheckpoint(join(out, 'checkpoint.safetensors'));
    expect(finished.epoch).toBe(checkpoint.epoch + 2);
    expect(finished.step).toBe(checkpoint.step + 2 * STEPS_PER_EPOCH);
  });

  it.each([['SIGTERM', 143], ['SIGINT', 130]] as const)('%s to the top process alone saves the step in progress and exits %i', async (signal, exitCode) => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-signal-'));
    const job = start(training(out, 400));
    await job.waitFor(/epoch +1\/400/);
    process.kill(job.pid, signal);
    const { code, output } = await job.exited;
    expect(output).toMatch(new RegExp(`${signal}: finishing the current step, then saving a checkpoint`));
    expect(code).toBe(exitCode);
    await interruptedCheckpoint(output, signal);
    expect(output).not.toMatch(TSX_CLI_WARNING);
  });

  it('warns when tsx\'s CLI stands between the user and the trainer', () => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-tsx-cli-'));
    const result = run([join(root, 'node_modules/.bin/tsx'), ...training(out, 1).slice(3)]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(TSX_CLI_WARNING);
  });

  it('a second signal before the step ends quits at once with its own code and keeps the last completed epoch', async () => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-twice-'));
    const job = start(training(out, 400));
    await job.waitFor(/epoch +1\/400/);
    // Paused, the trainer cannot finish a step between the two signals (two different ones: the
    // kernel keeps only one pending signal of each kind), so on SIGCONT it sees both back to back.
    process.kill(job.pid, 'SIGSTOP');
    process.kill(job.pid, 'SIGTERM');
    process.kill(job.pid, 'SIGINT');
    process.kill(job.pid, 'SIGCONT');
    const { code, output } = await job.exited;
    expect(output.match(/finishing the current step/g)).toHaveLength(1);
    const quit = /train-mnist: (SIG\w+): quitting at once, without saving/.exec(output);
    expect(quit, output).not.toBeNull();
    expect(code).toBe({ SIGTERM: 143, SIGINT: 130 }[quit![1]!]);
    expect(output).not.toMatch(interrupted);
    const kept = await readCheckpoint(join(out, 'checkpoint.safetensors'));
    expect(kept.epoch).toBeGreaterThanOrEqual(1);
    expect(kept.step).toBe(kept.epoch * STEPS_PER_EPOCH);
  });
});

describe('the commands with nothing to save exit at once', () => {
  // 'folder:' stands for the band folder, 'band-mlp' / 'mnist-mlp' for a checkpoint trained on it / on MNIST.
  it.each([
    ['tune.ts', 'SIGTERM', 143, ['--dataset', 'folder:', '--epochs', '400', '--batch-size', '8'], /data: .* 400 epochs/],
    ['finetune.ts', 'SIGINT', 130, ['--target', 'folder:', '--fractions', '0.5', '--epochs', '400', '--batch-size', '8', '--pretrained', 'band-mlp'], /target: .* 400 epochs per variant/],
    ['compress.ts', 'SIGTERM', 143, ['--ckpt', 'mnist-mlp', '--recover-epochs', '400'], /adapter: /],
  ] as const)('%s: %s exits %i', async (script, signal, exitCode, args, underWay) => {
    const out = mkdtempSync(join(tmpdir(), 'webgrad-quit-'));
    const fill = async (a: string) => (a === 'folder:' ? `folder:${folder}` : a === 'band-mlp' ? trainedCheckpoint(`folder:${folder}`) : a === 'mnist-mlp' ? trainedCheckpoint('mnist') : a);
    const outFlag = script === 'compress.ts' ? join(out, 'compress.json') : out;
    const job = start(documented(script, [...await Promise.all(args.map(fill)), '--out', outFlag]));
    await job.waitFor(underWay);
    const sent = performance.now();
    process.kill(job.pid, signal);
    const { code, output } = await job.exited;
    expect(output).toContain(`${script.replace('.ts', '')}: ${signal}: stopped`);
    expect(code).toBe(exitCode);
    expect(performance.now() - sent).toBeLessThan(5_000);
  });
});

const trained = new Map<string, string>();
/** The checkpoint of a short finished train-mnist run of the mlp on `dataset`, for finetune and compress to start from. */
async function trainedCheckpoint(dataset: string): Promise<string> {
  const known = trained.get(dataset);
  if (known) return known;
  const out = mkdtempSync(join(tmpdir(), 'webgrad-trained-'));
  const result = run(documented('train-mnist.ts', ['--dataset', dataset, '--model', 'mlp', '--epochs', '1', '--train-limit', '640', '--test-limit', '100', '--out', out, '--quiet']));
  expect(result.code, result.output).toBe(0);
  const path = join(out, 'checkpoint.safetensors');
  trained.set(dataset, path);
  return path;
}
