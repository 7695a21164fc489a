// End to end: scripts/train-lm.ts on small texts written here, with a 1-layer width-32 gpt and tens
// of steps. A run leaves a checkpoint (whose tokenizer rebuilds the text's vocabulary), a report and
// a picture; a run stopped by SIGTERM and resumed ends bit for bit where an uninterrupted run does;
// flags and texts it cannot use are refused naming the flag or the file; divergence keeps the last
// good checkpoint.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CharTokenizer } from '../src/data/text.ts';
import { gptModel } from '../src/model/gpt.ts';
import { readCheckpoint, readModel } from '../src/node/checkpoint-file.ts';

const root = new URL('..', import.meta.url).pathname;
const folder = mkdtempSync(join(tmpdir(), 'webgrad-train-lm-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

// 12,000 characters of Moby-Dick: 10,800 to train on, 1,200 held out.
const MOBY = readFileSync(join(root, '../shared/data/text/moby-dick.txt'), 'utf8');
const textFile = join(folder, 'moby-12k.txt');
writeFileSync(textFile, [...MOBY].slice(0, 12_000).join(''));
const TINY = ['--layers', '1', '--heads', '2', '--width', '32', '--context', '16', '--batch-size', '8', '--eval-batches', '2'];

function trainLm(args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/train-lm.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const report = (out: string) => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

describe('scripts/train-lm.ts refuses what it cannot use', () => {
  const cases: [string, string[], number, string][] = [
    ['a misspelt flag', ['--widht', '32'], 2, 'unknown flag --widht (did you mean --width?)'],
    ['zero steps', ['--steps', '0'], 2, '--steps: must be a positive number, got "0"'],
    ['a held-out fraction of 1', ['--val-fraction', '1'], 2, '--val-fraction: must be in (0, 1), got "1"'],
    ['a width the heads do not divide', ['--width', '30', '--heads', '4'], 2, '--width 30 must be a multiple of --heads 4'],
    ['an unknown tokenizer', ['--tokenizer', 'bpe'], 2, '--tokenizer: "bpe" is not one of char, byte'],
    ['both --text and --dataset', ['--text', textFile, '--dataset', 'moby-dick'], 2, '--text and --dataset: give one of them, not both'],
    ['a text file that is not there', ['--text', join(folder, 'missing.txt')], 3, `--text ${join(folder, 'missing.txt')}: cannot read (ENOENT)`],
  ];
  it.each(cases)('%s', (_, args, code, message) => {
    const run = trainLm([...args, '--out', join(folder, 'refused')]);
    expect(run.stderr).toContain(message);
    expect(run.code).toBe(code);
    expect(existsSync(join(folder, 'refused', 'checkpoint.safetensors'))).toBe(false);
  });

  it('an empty text, one too short for the context, and bytes that are not UTF-8 each name the file', () => {
    const empty = join(folder, 'empty.txt');
    const short = join(folder, 'short.txt');
    const binary = join(folder, 'binary.txt');
    writeFileSync(empty, '');
    writeFileSync(short, 'Call me Ishmael. Some years ago.');
    writeFileSync(binary, Uint8Array.from([0x43, 0x61, 0xff, 0xfe, 0x6c, 0x6c]));
    const checks: [string, string[], string][] = [
      [empty, [], `${empty}: the text is empty`],
      [short, ['--context', '16'], `${short}: too short: 32 tokens split into 28 to train on and 4 held out; each part needs at least 17 (a window of context 16 and its next token)`],
      [binary, [], `${binary}: not valid UTF-8 text; --tokenizer byte trains on any bytes`],
    ];
    for (const [file, extra, message] of checks) {
      const run = trainLm(['--text', file, ...extra, '--out', join(folder, 'refused')]);
      expect(run.stderr, file).toContain(message);
      expect(run.code, file).toBe(2);
    }
  });
});

describe('a run', () => {
  const out = join(folder, 'run');
  let run: ReturnType<typeof trainLm>;

  it('prints the bigram baseline and each evaluation, and writes checkpoint, report and picture', () => {
    run = trainLm(['--text', textFile, ...TINY, '--steps', '30', '--eval-every', '10', '--warmup', '5', '--lr', '3e-3', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const r = report(out);
    expect(r).toMatchObject({ corpus: 'moby-12k.txt', tokenizer: 'char', tokens: { train: 10_800, validation: 1200 }, steps: 30, batchSize: 8, seed: 1, charactersPerToken: 1 });
    expect(r.model).toMatchObject({ layers: 1, heads: 2, width: 32, context: 16 });
    expect(r.vocab).toBe(CharTokenizer.fromCorpus(readFileSync(textFile, 'utf8')).vocab);
    expect(r.history.map((h: { step: number }) => h.step)).toEqual([10, 20, 30]);
    expect(r.final.valLoss).toBe(r.history[2].valLoss);
    // Trained for 30 steps, it is better than a uniform guess but not yet at the bigram's loss.
    expect(r.final.valLoss).toBeLessThan(Math.log(r.vocab));
    expect(r.bigram.valLoss).toBeGreaterThan(1.5);
    expect(r.bigram.valLoss).toBeLessThan(Math.log(r.vocab));
    expect(r.tokensPerSecond).toBeGreaterThan(0);
    expect(run.stdout).toContain(`bigram baseline (add-one counts over the training tokens): val ${r.bigram.valLoss.toFixed(4)} nats/char`);
    expect(run.stdout).toMatch(new RegExp(`step 10/30  train \\d\\.\\d{4} nats/char  val ${r.history[0].valLoss.toFixed(4)} nats/char`));
    expect(run.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^val loss ${r.final.valLoss.toFixed(4)} nats/char \\(bigram baseline ${r.bigram.valLoss.toFixed(4)}\\)`));
    const svg = readFileSync(join(out, 'training-curves.svg'), 'utf8');
    expect(svg).toContain('<svg');
    // Loss: train, validation and the bigram's level; accuracy: train and validation.
    expect(svg.match(/class="series"/g)).toHaveLength(5);
    expect(svg).toContain('data-name="bigram"');
    expect(svg).toContain('>step</text>');
  });

  it('the checkpoint carries the tokenizer, which rebuilds the text\'s vocabulary', async () => {
    const loaded = await readModel(join(out, 'checkpoint.safetensors'));
    const text = readFileSync(textFile, 'utf8');
    expect(loaded.checkpoint.tokenizer).toEqual({ kind: 'char', chars: CharTokenizer.fromCorpus(text).chars });
    expect(loaded.tokenizer!.decode(loaded.tokenizer!.encode(text))).toBe(text);
    expect(loaded.checkpoint.step).toBe(30);
    expect(loaded.model.outputShape).toEqual([16, loaded.tokenizer!.vocab]);
  });

  it('a fresh run into that folder is refused; --resume of the finished run needs more --steps; a conflicting flag names both values', () => {
    const before = sha256(join(out, 'checkpoint.safetensors'));
    const fresh = trainLm(['--text', textFile, ...TINY, '--steps', '30', '--out', out]);
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toContain(`--out: ${out} already holds checkpoint.safetensors from another run`);
    const finished = trainLm(['--resume', join(out, 'checkpoint.safetensors'), '--out', out]);
    expect(finished.code).toBe(2);
    expect(finished.stderr).toContain('the checkpoint has done all 30 of its steps; give --steps above 30 to train further');
    const conflict = trainLm(['--resume', join(out, 'checkpoint.safetensors'), '--steps', '40', '--lr', '0.01', '--width', '64', '--out', out]);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('--width 64 differs from the checkpoint\'s 32');
    expect(conflict.stderr).toContain('--lr 0.01 differs from the checkpoint\'s 0.003');
    expect(sha256(join(out, 'checkpoint.safetensors'))).toBe(before);
  });

  it('a diverging run exits 1 and leaves the last good checkpoint as it was', () => {
    const before = sha256(join(out, 'checkpoint.safetensors'));
    // A factor below 1 puts the limit under the loss of a uniform guess, so the first reading trips it.
    const diverged = trainLm(['--text', textFile, ...TINY, '--steps', '30', '--eval-every', '5', '--divergence-factor', '0.5', '--overwrite', '--out', out]);
    expect(diverged.code).toBe(1);
    expect(diverged.stderr).toContain('the training loss diverged');
    expect(diverged.stderr).toContain(`${join(out, 'checkpoint.safetensors')} is untouched`);
    expect(sha256(join(out, 'checkpoint.safetensors'))).toBe(before);
  });
});

describe('--resume after SIGTERM', () => {
  it('continues to the same final loss and weights, bit for bit, as an uninterrupted run of the same steps', async () => {
    const flags = ['--text', textFile, ...TINY, '--steps', '160', '--eval-every', '20', '--warmup', '10', '--quiet'];
    const whole = join(folder, 'whole');
    const parts = join(folder, 'parts');
    expect(trainLm([...flags, '--out', whole]).code).toBe(0);

    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/train-lm.ts', ...flags.filter((f) => f !== '--quiet'), '--out', parts], { cwd: root });
    let output = '';
    const firstEvaluation = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => { output += chunk.toString(); if (/step +20\/160/.test(output)) resolve(); };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await Promise.race([firstEvaluation, exited]);
    child.kill('SIGTERM');
    expect(await exited, output).toBe(143);
    const stopped = (await readCheckpoint(join(parts, 'checkpoint.safetensors'))).step;
    expect(stopped).toBeGreaterThanOrEqual(20);
    expect(stopped).toBeLessThan(160);

    const resumed = trainLm(['--resume', join(parts, 'checkpoint.safetensors'), '--out', parts, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(report(parts).final).toEqual(report(whole).final);
    expect(report(parts).resumedFrom).toEqual({ checkpoint: join(parts, 'checkpoint.safetensors'), step: stopped });
    const [a, b] = [await readCheckpoint(join(whole, 'checkpoint.safetensors')), await readCheckpoint(join(parts, 'checkpoint.safetensors'))];
    expect(b.step).toBe(160);
    for (const [name, tensor] of a.weights) expect(Buffer.from(b.weights.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer)), name).toBe(true);
    for (const [name, tensor] of a.moments) expect(Buffer.from(b.moments.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer)), name).toBe(true);
  });
});

describe('--tokenizer byte', () => {
  it('trains on any bytes (characters outside the BMP, bytes that are not UTF-8) and reports nats per byte and per character', async () => {
    const file = join(folder, 'bytes.txt');
    const text = new TextEncoder().encode('Whales 🐋 and ships ⛵ at sea; '.repeat(120));
    const bytes = new Uint8Array(text.length + 64);
    bytes.set(text);
    for (let i = 0; i < 64; i++) bytes[text.length + i] = (i * 37 + 128) % 256; // not UTF-8
    writeFileSync(file, bytes);
    const out = join(folder, 'byte-run');
    // Tied weights and nanoGPT's decay groups ride along: the head adds no parameters of its own.
    const run = trainLm(['--text', file, '--tokenizer', 'byte', ...TINY, '--tie-weights', '--decay', 'matrices', '--steps', '10', '--eval-every', '10', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const r = report(out);
    expect(r).toMatchObject({ tokenizer: 'byte', vocab: 256, tokens: { train: Math.floor(bytes.length * 0.9), validation: bytes.length - Math.floor(bytes.length * 0.9) } });
    expect(r.model).toMatchObject({ tieWeights: true });
    expect(r.decay).toBe('matrices');
    const sizes = { vocab: 256, context: 16, layers: 1, heads: 2, width: 32 };
    expect(r.model.parameters).toBe(gptModel({ ...sizes, tieWeights: true }).parameterCount());
    expect(r.model.parameters).toBe(gptModel(sizes).parameterCount() - 256 * 32);
    expect(r.charactersPerToken).toBeLessThan(1);
    expect(r.final.valNatsPerCharacter).toBeCloseTo(r.final.valLoss / r.charactersPerToken, 10);
    expect(run.stdout).toMatch(/step 10\/10  train \d\.\d{4} nats\/byte \(\d\.\d{4} nats\/char\)  val \d\.\d{4} nats\/byte \(\d\.\d{4} nats\/char\)/);
    expect((await readModel(join(out, 'checkpoint.safetensors'))).checkpoint.tokenizer).toEqual({ kind: 'byte' });
  });
});
