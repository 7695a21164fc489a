// End to end in a real browser: Debian's Chromium (headless, SwiftShader's WebGPU) opens the demo
// as built for release (`npm run build:web`) and served by Vite's preview server, trains the MLP
// for 100 steps, predicts a drawn digit, saves and reloads the model, trains the CNN for a few steps,
// checks its losses equal the same steps in Node, generates text from a gpt checkpoint as Node does,
// runs the kernel checks page (the subgroup row variants among them, since SwiftShader offers
// subgroups), and on lm.html samples from a gpt trained in Node (the same characters as Node
// samples) and saves and reloads it. A screenshot lands in test-artifacts/demo.png.
//
// Why the MLP learns here and the CNN only runs: on SwiftShader the CNN trains at ~10 images/s
// (the MLP at ~700), so 100 CNN steps would take over ten minutes of CI.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preview, type PreviewServer } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildWeb, repoRoot, viteConfig } from './build.ts';
import { testGpu } from '../helpers/gpu.ts';
import { maxRelativeError } from '../helpers/random.ts';
import { ROW_COUNTS, ROW_KERNELS, ROW_LENGTHS } from '../helpers/row-checks.ts';
import { loadDataset } from '../../src/node/datasets.ts';
import { pixelStats } from '../../src/data/split.ts';
import { zooModel } from '../../src/model/zoo.ts';
import { ModelState, Trainer } from '../../src/runtime/runtime.ts';
import { destroyDataset, uploadDataset, uploadTokens } from '../../src/runtime/dataset.ts';
import { demoTrainerOptions, trainSteps } from '../../web/training.ts';
import { generateText } from '../../web/lm-generation.ts';
import { spreadWeights } from '../helpers/gpt-weights.ts';
import { gptModel } from '../../src/model/gpt.ts';
import { CharTokenizer } from '../../src/data/text.ts';
import { encodeCheckpoint } from '../../src/io/checkpoint.ts';
import { KvCacheDecoder } from '../../src/generate/kv-decoder.ts';
import { generateTokens } from '../../src/generate/generate.ts';

const CHROMIUM = '/usr/bin/chromium';
const artifacts = join(repoRoot, 'test-artifacts');
const STEPS = 100;
const BATCH = 64;
const CNN_STEPS = 4;
const CNN_BATCH = 16;
const LM_SIZES = { layers: 1, heads: 1, width: 16, context: 16 };
const LM_STEPS = 20;
const LM_CHARACTERS = 24;
const LM_SAMPLING = { temperature: 0.8, topK: 5, seed: 3 };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

let server: PreviewServer;
let outDir: string;
let browser: Browser;
let base: string;
const pageErrors: string[] = [];

async function openPage(path: string): Promise<Page> {
  const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 1000 } });
  page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(`${path}: console: ${message.text()}`); });
  await page.goto(`${base}${path}`);
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium), as .ci/run does`);
  }
  const port = await freePort();
  outDir = (await buildWeb()).outDir;
  server = await preview({ configFile: viteConfig, logLevel: 'warn', build: { outDir }, preview: { port, strictPort: true } });
  base = `http://127.0.0.1:${port}`;
  // --disable-gpu keeps Chromium off host GL; WebGPU still comes up on SwiftShader (checked).
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-gpu'],
  });
  mkdirSync(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('the demo in headless Chromium', () => {
  it('trains the MLP, predicts a drawn digit, saves and reloads the model', async () => {
    const page = await openPage(`/index.html?model=mlp&steps=${STEPS}&batch=${BATCH}&every=10&autostart=1`);
    await page.waitForFunction(() => ['trained', 'error'].includes(window.webgradDemo?.status), undefined, { timeout: 200_000, polling: 500 });
    const trained = await page.evaluate(() => window.webgradDemo);
    expect(trained.error).toBeNull();
    console.log(`[demo] ${trained.adapter}: ${trained.imagesPerSecond?.toFixed(0)} images/s, losses ${trained.losses.map((l) => l.toFixed(3)).join(' ')}, test accuracy ${trained.testAccuracy}`);
    expect(trained.steps.at(-1)).toBe(STEPS);
    expect(trained.losses.length).toBe(STEPS / 10);
    // Loss averaged over the first 10 steps vs the last 10: Adam at 1e-3 more than halves it by step 100
    // (about 1.5 → 0.4 here).
    expect(trained.losses.at(-1)!).toBeLessThan(trained.losses[0]! * 0.5);
    expect(trained.accuracies.at(-1)!).toBeGreaterThan(trained.accuracies[0]!);
    // Chance is 10%; 100 steps of 64 images reach far more, so 30% only fails when training is broken.
    expect(trained.testAccuracy!).toBeGreaterThan(0.3);
    expect(await page.locator('[data-testid=grid] figure').count()).toBe(32);

    // A "1": one vertical stroke down the middle of the pad.
    const pad = (await page.getByTestId('pad').boundingBox())!;
    await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height * (0.15 + 0.7 * i / 20));
    await page.mouse.up();
    await page.waitForFunction(() => window.webgradDemo.predictions > 0 || window.webgradDemo.status === 'error', undefined, { timeout: 60_000 });
    const prediction = await page.evaluate(() => window.webgradDemo.prediction);
    expect(prediction).toHaveLength(3);
    const probabilities = prediction!.map((p) => p.probability);
    expect(probabilities[0]!).toBeGreaterThanOrEqual(probabilities[1]!);
    expect(probabilities[1]!).toBeGreaterThanOrEqual(probabilities[2]!);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-6);
    expect(await page.locator('[data-testid=top3] li').count()).toBe(3);
    console.log(`[demo] drawn stroke predicted as ${prediction!.map((p) => `${p.digit} ${(100 * p.probability).toFixed(1)}%`).join(', ')}`);
    await page.screenshot({ path: `${artifacts}/demo.png`, fullPage: true });

    // Save, then load the file back: the same weights give the same test accuracy.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()]);
    const saved = `${artifacts}/demo.safetensors`;
    await download.saveAs(saved);
    await page.evaluate(() => { window.webgradDemo.testAccuracy = null; });
    await page.getByTestId('load').setInputFiles(saved);
    await page.waitForFunction(() => window.webgradDemo.testAccuracy !== null || window.webgradDemo.status === 'error', undefined, { timeout: 60_000 });
    const reloaded = await page.evaluate(() => window.webgradDemo);
    expect(reloaded.error).toBeNull();
    expect(reloaded.testAccuracy).toBe(trained.testAccuracy);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('trains the CNN a few steps to the same losses as Node', async () => {
    const page = await openPage(`/index.html?model=cnn&steps=${CNN_STEPS}&batch=${CNN_BATCH}&every=2&test=32&autostart=1`);
    await page.waitForFunction(() => ['trained', 'error'].includes(window.webgradDemo?.status), undefined, { timeout: 200_000, polling: 500 });
    const trained = await page.evaluate(() => window.webgradDemo);
    expect(trained.error).toBeNull();
    console.log(`[demo] cnn ${trained.adapter}: ${trained.imagesPerSecond?.toFixed(1)} images/s, losses ${trained.losses.map((l) => l.toFixed(3)).join(' ')}`);
    expect(trained.steps).toEqual([2, 4]);
    expect(trained.testAccuracy).not.toBeNull();
    await page.close();

    // The same steps in Node (Dawn on llvmpipe here) give the same losses: the browser runs the
    // library unchanged. Two fp32 implementations sum in different orders, so 1e-3 relative.
    const gpu = await testGpu();
    const { train } = await loadDataset('mnist');
    const stats = pixelStats(train.images);
    const data = uploadDataset(gpu, train, 10, 'mnist.train');
    const model = zooModel('cnn', { classes: 10 });
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(),
      demoTrainerOptions({ batchSize: CNN_BATCH, seed: 1, lr: 1e-3, steps: CNN_STEPS }, train.count, { mean: stats.mean / 255, std: stats.std / 255 }));
    const nodeLosses: number[] = [];
    try {
      await trainSteps(trainer, train.count, CNN_STEPS, 2, (window) => nodeLosses.push(window.loss));
    } finally {
      trainer.destroy();
      state.destroy();
      destroyDataset(gpu, data);
    }
    console.log(`[demo] cnn losses in Node: ${nodeLosses.map((l) => l.toFixed(4)).join(' ')}; in Chromium: ${trained.losses.map((l) => l.toFixed(4)).join(' ')}`);
    expect(maxRelativeError(trained.losses, nodeLosses)).toBeLessThan(1e-3);
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('generates from a gpt trained in Node, as Node does, and saves and reloads it', async () => {
    // Train the tiny gpt in Node on the text the page serves, and sample from it there.
    const text = await (await fetch(`${base}/data/text/sample.txt`)).text();
    expect([...text].length).toBeGreaterThan(1000);
    const gpu = await testGpu();
    const tokenizer = CharTokenizer.fromCorpus(text);
    const stream = tokenizer.encode(text);
    const model = gptModel({ vocab: tokenizer.vocab, ...LM_SIZES });
    const data = uploadTokens(gpu, stream, { vocab: tokenizer.vocab, context: LM_SIZES.context, name: 'lm.sample' });
    const state = new ModelState(gpu, model, model.initialValues(1));
    const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: 8, seed: 1, optimizer: { kind: 'adamw', lr: 1e-2 }, stepsPerEpoch: LM_STEPS, totalSteps: LM_STEPS });
    const saved = `${artifacts}/lm-node.safetensors`;
    let nodeText = '';
    try {
      for (let step = 0; step < LM_STEPS; step++) await trainer.step(Uint32Array.from({ length: 8 }, (_, i) => (step * 811 + i * 1979) % (stream.length - LM_SIZES.context)));
      writeFileSync(saved, await encodeCheckpoint(state, { epoch: 0, normalize: { mean: 0, std: 1 }, tokenizer: tokenizer.describe() }, trainer));
      await generateText(gpu, state, tokenizer, 'Call', LM_CHARACTERS, LM_SAMPLING, (piece) => { nodeText += piece; });
    } finally {
      trainer.destroy();
      state.destroy();
      destroyDataset(gpu, data);
    }

    const page = await openPage(`/lm.html?characters=${LM_CHARACTERS}&prompt=Call&temperature=${LM_SAMPLING.temperature}&topK=${LM_SAMPLING.topK}&seed=${LM_SAMPLING.seed}`);
    const generate = async () => {
      // Submitted directly, as the MNIST page's generation test does: a loaded machine rendering in
      // software may not hold the button still long enough for a click.
      await page.locator('#generate-form').evaluate((element) => (element as HTMLFormElement).requestSubmit());
      await page.waitForFunction(() => ['generated', 'error'].includes(window.webgradLm.status), undefined, { timeout: 120_000, polling: 250 });
      return page.evaluate(() => window.webgradLm);
    };
    await page.getByTestId('load').setInputFiles(saved);
    await page.waitForFunction(() => ['loaded', 'error'].includes(window.webgradLm?.status), undefined, { timeout: 200_000, polling: 500 });
    expect(await page.evaluate(() => window.webgradLm.error)).toBeNull();
    const first = await generate();
    expect(first.error).toBeNull();
    console.log(`[lm] ${first.adapter}: generated ${JSON.stringify(first.generated)} at ${first.generateTokensPerSecond?.toFixed(1)} tokens/s; Node: ${JSON.stringify(nodeText)}`);
    expect([...first.generated]).toHaveLength(LM_CHARACTERS);
    expect(await page.getByTestId('sample').textContent()).toBe(`Call${first.generated}`);
    // The same weights, tokenizer, seed and sampling: the same characters as Node picked.
    expect(first.generated).toBe(nodeText);

    // Saved from the page and loaded back, the model samples the same text again.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()]);
    const resaved = `${artifacts}/lm.safetensors`;
    await download.saveAs(resaved);
    await page.getByTestId('load').setInputFiles(resaved);
    await page.waitForFunction(() => ['loaded', 'error'].includes(window.webgradLm.status), undefined, { timeout: 60_000, polling: 250 });
    const again = await generate();
    expect(again.error).toBeNull();
    expect(again.generated).toBe(first.generated);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('trains a tiny gpt on the sample text in headless Chromium, whose SwiftShader binds 10 storage buffers per stage', async () => {
    const page = await openPage(`/lm.html?layers=${LM_SIZES.layers}&heads=${LM_SIZES.heads}&width=${LM_SIZES.width}&context=${LM_SIZES.context}&steps=${LM_STEPS}&batch=8&lr=0.01&every=5&autostart=1`);
    await page.waitForFunction(() => ['trained', 'error'].includes(window.webgradLm?.status), undefined, { timeout: 200_000, polling: 500 });
    const trained = await page.evaluate(() => window.webgradLm);
    const limit = await page.evaluate(async () => (await navigator.gpu.requestAdapter())!.limits.maxStorageBuffersPerShaderStage);
    console.log(`[lm] ${trained.adapter} (${limit} storage buffers per stage): ${trained.status}, ${trained.tokensPerSecond?.toFixed(0)} tokens/s; train ${trained.trainLosses.map((l) => l.toFixed(3)).join(' ')}; held-out ${trained.heldOutLosses.map((l) => l.toFixed(3)).join(' ')}; ${trained.error ?? ''}`);
    await page.close();
    expect(trained.error).toBeNull();
    expect(trained.steps).toEqual([5, 10, 15, 20]);
    for (const loss of [...trained.trainLosses, ...trained.heldOutLosses]) expect(Number.isFinite(loss)).toBe(true);
    expect(trained.trainLosses.at(-1)!).toBeLessThan(trained.trainLosses[0]!);
    expect(trained.heldOutLosses.at(-1)!).toBeLessThan(trained.heldOutLosses[0]!);
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('generates from a gpt checkpoint the greedy text Node generates', async () => {
    const gpu = await testGpu();
    const tokenizer = CharTokenizer.fromCorpus('call me ishmael.');
    const model = gptModel({ vocab: tokenizer.vocab, context: 8, layers: 2, heads: 2, width: 16 });
    const state = new ModelState(gpu, model, spreadWeights(model, 6));
    const checkpoint = `${artifacts}/gpt.safetensors`;
    writeFileSync(checkpoint, await encodeCheckpoint(state, { epoch: 1, normalize: { mean: 0, std: 1 }, tokenizer: tokenizer.describe() }));
    const decoder = new KvCacheDecoder(gpu, state);
    const ids = await generateTokens(decoder, tokenizer.encode('call'), { tokens: 14, temperature: 0, seed: 1 });
    decoder.destroy();
    state.destroy();

    const page = await openPage('/index.html');
    await page.getByTestId('gpt-file').setInputFiles(checkpoint);
    await page.getByTestId('prompt').fill('call');
    const form = page.locator('#generate-form');
    await form.locator('input[name=tokens]').fill('14');
    await form.locator('input[name=temperature]').fill('0');
    // Submitted directly: a click waits for the button to hold still over two animation frames, which a
    // loaded machine, rendering in software while the worker tunes, may not draw within the click's timeout.
    await form.evaluate((element) => (element as HTMLFormElement).requestSubmit());
    // The worker times the GEMM variants on SwiftShader first, as it does before training.
    await page.waitForFunction(() => window.webgradDemo.generated !== null || window.webgradDemo.status === 'error', undefined, { timeout: 400_000, polling: 250 });
    const demo = await page.evaluate(() => window.webgradDemo);
    expect(demo.error).toBeNull();
    console.log(`[demo] generated ${JSON.stringify(demo.generated)}`);
    expect(demo.generated).toBe(`call${tokenizer.decode(ids)}`);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 450_000);

  it('passes every GPU-vs-CPU kernel check on the browser\'s WebGPU', async () => {
    const page = await openPage('/kernels.html');
    await page.waitForFunction(() => window.webgradKernelChecks?.done, undefined, { timeout: 120_000, polling: 250 });
    const { results, error, adapter, subgroups, subgroupSizes } = await page.evaluate(() => window.webgradKernelChecks);
    expect(error).toBeNull();
    expect(results.length).toBeGreaterThanOrEqual(9);
    for (const result of results) expect(result, `${result.name}: ${result.detail}`).toMatchObject({ pass: true });
    // SwiftShader offers subgroups, so the subgroup row variants must have run here: every row
    // kernel over every odd length and row count (test/helpers/row-checks.ts).
    const ran = results.filter((r) => r.variant === 'subgroup');
    const seconds = (list: typeof results) => (list.reduce((sum, r) => sum + (r.ms ?? 0), 0) / 1000).toFixed(1);
    console.log(`[kernels] ${adapter}: subgroups ${subgroups} (sizes ${JSON.stringify(subgroupSizes)}); ${ran.length} subgroup-variant checks ran in ${seconds(ran)} s `
      + `(all ${results.length} in ${seconds(results)} s): ${[...new Set(ran.map((r) => r.name.split(' ')[0]))].join(', ')}`);
    expect(adapter).toMatch(/swiftshader/i);
    expect(subgroups, 'SwiftShader listed subgroups when this test was written; without it no subgroup variant is checked anywhere').toBe(true);
    for (const kernel of ROW_KERNELS) expect(ran.filter((r) => r.name.startsWith(`${kernel} `)).length, kernel).toBe(ROW_COUNTS.length * ROW_LENGTHS.length);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
