import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zooModel } from '../src/model/zoo.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { restoreWeights, weightsFromSafetensors } from '../src/io/checkpoint.ts';
import { saveCheckpoint } from '../src/node/checkpoint-file.ts';
import { encodePng } from '../src/report/png.ts';
import { testGpu } from './helpers/gpu.ts';

const REPO = join(import.meta.dirname, '..');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'pytorch-lenet');

let folder: string;
let checkpoint: string;
// The fixture's first MNIST test image (a 7) and PyTorch's logits for it.
const expected = decodeSafetensors(readFileSync(join(FIXTURE, 'expected.safetensors')));
const digit = (expected.tensors.get('images')!.data as Uint8Array).subarray(0, 784);
const logits = Array.from((expected.tensors.get('logits')!.data as Float32Array).subarray(0, 10));

function predict(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('npx', ['tsx', 'scripts/predict.ts', ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'webgrad-predict-'));
  // A small trained network: the PyTorch-trained LeNet fixture, saved as a webgrad checkpoint.
  const gpu = await testGpu();
  const model = zooModel('lenet');
  const state = new ModelState(gpu, model);
  restoreWeights(state, weightsFromSafetensors(decodeSafetensors(readFileSync(join(FIXTURE, 'lenet.safetensors')))));
  checkpoint = join(folder, 'lenet.safetensors');
  await saveCheckpoint(checkpoint, state, { model: { zoo: 'lenet', options: {} }, epoch: 1, normalize: JSON.parse(expected.metadata.normalize!) });
  state.destroy();
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('scripts/predict.ts', () => {
  it('prints the top-3 classes with probabilities, for MNIST-style and for large dark-on-light images', async () => {
    const mnistStyle = join(folder, 'seven.png');
    writeFileSync(mnistStyle, await encodePng(digit, 28, 28));
    // 56×56, dark digit on white paper: predict must resize it and invert it back.
    const paper = new Uint8Array(56 * 56);
    for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) paper[y * 56 + x] = 255 - digit[(y >> 1) * 28 + (x >> 1)]!;
    const onPaper = join(folder, 'seven-on-paper.png');
    writeFileSync(onPaper, await encodePng(paper, 56, 56));

    const run = predict('--ckpt', checkpoint, mnistStyle, onPaper);
    expect(run.stderr).not.toMatch(/predict:/);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n').filter((line) => line.includes('.png: '));
    expect(lines).toHaveLength(2);

    const max = Math.max(...logits);
    const sum = logits.reduce((a, v) => a + Math.exp(v - max), 0);
    const probability = logits.map((v) => Math.exp(v - max) / sum);
    const ranked = [...probability.keys()].sort((a, b) => probability[b]! - probability[a]!).slice(0, 3);
    for (const [line, path] of [[lines[0]!, mnistStyle], [lines[1]!, onPaper]] as const) {
      expect(line.startsWith(`${path}: `)).toBe(true);
      const printed = [...line.slice(path.length + 2).matchAll(/(\S+) ([\d.]+)%/g)].map((m) => ({ label: m[1]!, percent: Number(m[2]) }));
      expect(printed.map((p) => p.label)).toEqual(ranked.map(String));
      // The exact image must give PyTorch's probabilities (to the printed 0.1%); the resized copy only the same ranking.
      if (path === mnistStyle) printed.forEach((p, i) => expect(Math.abs(p.percent - 100 * probability[ranked[i]!]!)).toBeLessThan(0.051));
    }
  });

  it('fails naming a file that is not an image', () => {
    const notes = join(folder, 'notes.png');
    writeFileSync(notes, 'these are not pixels');
    const run = predict('--ckpt', checkpoint, notes);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`predict: ${notes}: not a valid PNG`);
  });

  it('fails naming the checkpoint that is missing, and asks for --ckpt', () => {
    const absent = join(folder, 'absent.safetensors');
    const missing = predict('--ckpt', absent, join(folder, 'seven.png'));
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain(`${absent}: cannot read (ENOENT)`);
    const noImage = predict('--ckpt', checkpoint, join(folder, 'absent.png'));
    expect(noImage.status).toBe(3);
    expect(noImage.stderr).toContain(`${join(folder, 'absent.png')}: cannot read (ENOENT)`);
    const noFlag = predict(join(folder, 'seven.png'));
    expect(noFlag.status).toBe(2);
    expect(noFlag.stderr).toContain('--ckpt');
  });
});
