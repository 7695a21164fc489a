// Training-step throughput of the zoo models: images/s, ms per step, the CPU's time to record a step,
// and peak GPU bytes; the default cnn also side by side with TF.js WebGPU on the same adapter and
// with PyTorch on the CPU when a python3 with torch is present.
//   npx tsx bench/train-step.ts [--models cnn,mlp] [--batches 32,64] [--steps 30] [--profile cnn] [--precision f32,mixed] [--out FILE]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { timeDispatches } from './helpers/time.ts';
import { tfjsWebgpu } from './tfjs.ts';
import type * as TfCore from '@tensorflow/tfjs-core';
import { Session, ZOO_NAMES, zooModel, ModelState, Trainer, destroyDataset, range, uploadDataset, type Gpu } from 'webgrad';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const models = arg('models', ZOO_NAMES.join(',')).split(',');
const batches = arg('batches', '32,64,128,256').split(',').map(Number);
const steps = Number(arg('steps', '20'));
const profile = arg('profile', '');
// 'mixed': mixedPrecision (f16 products, dynamic loss scaling); each model and batch runs once per precision listed.
const precisions = arg('precision', 'f32').split(',');
for (const p of precisions) if (p !== 'f32' && p !== 'mixed') throw new Error(`--precision: expected f32 or mixed, got ${JSON.stringify(p)}`);
const outFile = arg('out', '') || new URL('results/train-step.json', import.meta.url);

function fakeMnist(count: number) {
  const images = new Uint8Array(count * 784).map((_, i) => (i * 2654435761) >>> 24);
  const labels = new Uint8Array(count).map((_, i) => i % 10);
  return { images, labels, count, rows: 28, cols: 28 };
}

interface Row { model: string; batch: number; precision: string; imagesPerSecond: number; msPerStep: number; recordMicros: number; recordShare: number; peakBytes: number }

async function measure(gpu: Gpu, name: string, batch: number, precision: string): Promise<{ row: Row; trainer: Trainer; release: () => void }> {
  const model = zooModel(name);
  const data = uploadDataset(gpu, fakeMnist(Math.max(1024, batch * 4)), 10, 'fake');
  const state = new ModelState(gpu, model, model.initialValues(1));
  const trainer = new Trainer(gpu, model, state, data, new Map(), { batchSize: batch, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize: { mean: 0.13, std: 0.31 }, stepsPerEpoch: 1000, totalSteps: 1000, ...(precision === 'mixed' ? { mixedPrecision: true } : {}) });
  const indices = (s: number) => range((s % 4) * batch, (s % 4 + 1) * batch);
  for (let s = 0; s < 3; s++) await trainer.step(indices(s));
  await trainer.totals();
  trainer.recordMs = 0;
  const start = performance.now();
  for (let s = 0; s < steps; s++) await trainer.step(indices(s));
  await trainer.totals();
  const ms = (performance.now() - start) / steps;
  const row = {
    model: name, batch, precision, imagesPerSecond: (batch * 1000) / ms, msPerStep: ms,
    recordMicros: (trainer.recordMs * 1000) / steps, recordShare: trainer.recordMs / steps / ms, peakBytes: trainer.memory.peakBytes,
  };
  return { row, trainer, release: () => { trainer.destroy(); destroyDataset(gpu, data); state.destroy(); } };
}

/** The same cnn (Conv32-Pool-Conv64-Pool-Dense10, Adam, batch 64) trained by TF.js's WebGPU backend. */
async function tfjsCnn(batch: number): Promise<{ imagesPerSecond: number; adapter: string }> {
  const { tf, adapter } = await tfjsWebgpu();
  // tfjs-core alone registers no gradients; the union package registers them on the same engine.
  await import('@tensorflow/tfjs');
  const v = <R extends TfCore.Rank>(shape: number[]) => tf.variable(tf.randomUniform(shape, -0.1, 0.1)) as unknown as TfCore.Variable<R>;
  const w1 = v<TfCore.Rank.R4>([3, 3, 1, 32]), b1 = v([32]), w2 = v<TfCore.Rank.R4>([3, 3, 32, 64]), b2 = v([64]), w3 = v<TfCore.Rank.R2>([1600, 10]), b3 = v([10]);
  const x = tf.randomUniform([batch, 28, 28, 1]) as TfCore.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);
  const optimizer = tf.train.adam(1e-3);
  const loss = () => {
    const h1 = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w1, 1, 'valid'), b1)) as TfCore.Tensor4D, 2, 2, 'valid');
    const h2 = tf.maxPool(tf.relu(tf.add(tf.conv2d(h1, w2, 1, 'valid'), b2)) as TfCore.Tensor4D, 2, 2, 'valid');
    const logits = tf.add(tf.matMul(tf.reshape(h2, [batch, 1600]), w3), b3);
    return tf.losses.softmaxCrossEntropy(y, logits) as ReturnType<typeof tf.scalar>;
  };
  const run = async (n: number) => {
    const start = performance.now();
    let last;
    for (let i = 0; i < n; i++) last = optimizer.minimize(loss, true);
    await last!.data();
    return performance.now() - start;
  };
  await run(2);
  const n = Math.max(3, Math.ceil(steps / 4));
  const ms = (await run(n)) / n;
  return { imagesPerSecond: (batch * 1000) / ms, adapter };
}

const PYTORCH_CNN = `
import time, torch, torch.nn as nn
torch.manual_seed(0); torch.set_num_threads(int(__import__('os').cpu_count()))
batch, steps = BATCH, STEPS
m = nn.Sequential(nn.Conv2d(1,32,3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32,64,3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600,10))
opt = torch.optim.Adam(m.parameters(), 1e-3); x = torch.rand(batch,1,28,28); y = torch.randint(0,10,(batch,))
def step():
    opt.zero_grad(); loss = nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()
for _ in range(3): step()
t = time.perf_counter()
for _ in range(steps): step()
print(batch * steps / (time.perf_counter() - t), torch.__version__)
`;

/** Debian's python3-torch lives under /usr/bin/python3, which a pyenv python3 on PATH may hide. */
function pytorchCnn(batch: number): { imagesPerSecond: number; version: string } | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      const out = execFileSync(python, ['-c', PYTORCH_CNN.replace('BATCH', String(batch)).replace('STEPS', String(steps * 2))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const [ips, version] = out.trim().split(/\s+/);
      return { imagesPerSecond: Number(ips), version: version ?? '?' };
    } catch {
      // try the next interpreter
    }
  }
  return null;
}

// The session tunes GEMM for this adapter before anything compiles.
const { gpu } = await Session.create();
console.log(`adapter: ${gpu.describe()}\n${steps} timed steps each, Adam; the machine is shared, so expect noise`);
const rows: Row[] = [];
for (const name of models) {
  for (const batch of batches) for (const precision of precisions) {
    const { row, trainer, release } = await measure(gpu, name, batch, precision);
    rows.push(row);
    console.log(`${name.padEnd(10)} ${precision.padEnd(5)} batch ${String(batch).padStart(3)}  ${row.imagesPerSecond.toFixed(0).padStart(6)} img/s  ${row.msPerStep.toFixed(1).padStart(7)} ms/step  record ${row.recordMicros.toFixed(0).padStart(5)} µs (${(100 * row.recordShare).toFixed(2)}%)  peak ${(row.peakBytes / 2 ** 20).toFixed(1)} MiB`);
    if (profile === name && batch === batches[0]) {
      const perOp: { label: string; ms: number }[] = [];
      for (const d of trainer.program.dispatches) perOp.push({ label: `${d.label} ${d.workgroups.join('×')}`, ms: await timeDispatches(gpu, [d], 3, 3) });
      for (const p of perOp.sort((a, b) => b.ms - a.ms)) console.log(`    ${p.ms.toFixed(3).padStart(8)} ms  ${p.label}`);
    }
    release();
  }
}

const comparisons: Record<string, unknown> = {};
if (models.includes('cnn') && batches.includes(64) && precisions.includes('f32')) {
  const ours = rows.find((r) => r.model === 'cnn' && r.batch === 64 && r.precision === 'f32')!;
  const tf = await tfjsCnn(64);
  comparisons.tfjsWebgpu = { ...tf, ratio: ours.imagesPerSecond / tf.imagesPerSecond };
  console.log(`cnn batch 64: TF.js WebGPU ${tf.imagesPerSecond.toFixed(0)} img/s on ${tf.adapter} → webgrad is ${(ours.imagesPerSecond / tf.imagesPerSecond).toFixed(1)}×`);
  const torch = pytorchCnn(64);
  if (torch) {
    comparisons.pytorchCpu = { ...torch, ratio: ours.imagesPerSecond / torch.imagesPerSecond };
    console.log(`cnn batch 64: PyTorch ${torch.version} CPU ${torch.imagesPerSecond.toFixed(0)} img/s → webgrad is ${(ours.imagesPerSecond / torch.imagesPerSecond).toFixed(2)}× PyTorch`);
  } else {
    console.log('PyTorch: no python3 with torch here (apt-get install python3-torch to compare)');
  }
}
writeFileSync(outFile, `${JSON.stringify({ adapter: gpu.describe(), command: `npx tsx bench/train-step.ts ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), steps, rows, comparisons }, null, 2)}\n`);
process.exit(0);
