import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zooModel } from '../src/model/zoo.ts';
import { Model } from '../src/model/model.ts';
import { input } from '../src/layers/layer.ts';
import { AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D } from '../src/layers/layers.ts';
import { add, concat } from '../src/layers/ops.ts';
import { ModelState } from '../src/runtime/runtime.ts';
import { destroyDataset, range, uploadDataset } from '../src/runtime/dataset.ts';
import { predictLogits } from '../src/runtime/logits.ts';
import { tuneGemm } from '../src/kernels/gemm.ts';
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

/** A colour-input graph: a residual add, a concatenation with the input, one Dense applied to two tensors. */
function drawnModel(): Model {
  const x = input([3, 10, 10]);
  const stem = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
  const residual = add(new Conv2D({ filters: 4, kernelSize: 3, padding: 'same' }).apply(stem), stem);
  const features = concat([residual, x]);
  const shared = new Dense({ units: 6, activation: 'relu' });
  const left = shared.apply(new Flatten().apply(new MaxPool2D().apply(features)));
  const right = shared.apply(new Flatten().apply(new AvgPool2D().apply(features)));
  return new Model({ inputs: x, outputs: new Dense({ units: 4 }).apply(concat([left, right])) });
}

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

  it('runs a checkpoint of a drawn model (saved as its graph) to the logits the same model gives in process', async () => {
    const gpu = await testGpu();
    await tuneGemm(gpu);
    const model = drawnModel();
    const state = new ModelState(gpu, model, model.initialValues(9));
    const normalize = { mean: 0.2, std: 0.3 };
    const path = join(folder, 'drawn.safetensors');
    await saveCheckpoint(path, state, { epoch: 0, normalize, classNames: ['a', 'b', 'c', 'd'] });
    // Dark on average, so predict does not invert it; gray, so predict repeats it into the three channels.
    const gray = Uint8Array.from({ length: 100 }, (_, i) => (i * 53) % 200);
    const png = join(folder, 'pattern.png');
    writeFileSync(png, await encodePng(gray, 10, 10));
    const colour = new Uint8Array(300);
    for (let c = 0; c < 3; c++) colour.set(gray, c * 100);
    const data = uploadDataset(gpu, { images: colour, labels: new Uint8Array(1), count: 1, rows: 10, cols: 10, channels: 3 }, 4, 'pattern');
    const inProcess = Array.from(await predictLogits(gpu, model, state, data, range(0, 1), normalize));
    destroyDataset(gpu, data);
    state.destroy();
    expect(inProcess.some((v) => v !== 0)).toBe(true);

    const raw = predict('--ckpt', path, '--logits', png);
    expect(raw.stderr).not.toMatch(/predict:/);
    expect(raw.status).toBe(0);
    expect(raw.stdout.trim().split('\n').filter((line) => line.startsWith(png))).toEqual([`${png}: ${JSON.stringify(inProcess)}`]);
    const top = predict('--ckpt', path, '--top', '4', png);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(new RegExp(`${png}: ([a-d] [\\d.]+%, ){3}[a-d] [\\d.]+%`));
  });

  it('refuses a checkpoint whose model does not take images, saying why', async () => {
    const gpu = await testGpu();
    const x = input([16]);
    const model = new Model({ inputs: x, outputs: new Dense({ units: 3 }).apply(x) });
    const state = new ModelState(gpu, model);
    const path = join(folder, 'flat.safetensors');
    await saveCheckpoint(path, state, { epoch: 0, normalize: { mean: 0, std: 1 } });
    state.destroy();
    const run = predict('--ckpt', path, join(folder, 'seven.png'));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`predict: ${path}: predict classifies images, and the model's input is f32 [16]; an image classifier takes f32 images [channels, height, width]`);
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
