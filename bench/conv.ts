// Convolution benchmark on the MNIST CNN's layers (batch 64): webgrad's forward, input gradient and
// weight gradient against TensorFlow.js WebGPU on the same adapter, in the same process.
// `npx tsx bench/conv.ts` prints a table and writes bench/results/conv.json.
import { writeFileSync } from 'node:fs';
import { timeDispatches } from './helpers/time.ts';
import { convPasses } from './helpers/conv-passes.ts';
import { tfjsWebgpu, timeTfjs, type Tf } from './tfjs.ts';
import type * as TfCore from '@tensorflow/tfjs-core';
import { createGpu, conv2dOutputSize, convAlgorithm, tuneGemm, type Gpu, type Dispatch, type Conv2dShape, type ConvAlgorithm } from 'webgrad';

const LAYERS: { name: string; shape: Conv2dShape }[] = [
  { name: 'conv1 1→32 3×3 28×28', shape: { batch: 64, inChannels: 1, height: 28, width: 28, outChannels: 32, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0 } },
  { name: 'conv2 32→64 3×3 13×13', shape: { batch: 64, inChannels: 32, height: 13, width: 13, outChannels: 64, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0 } },
];

interface Timings { forward: number; backwardInput: number; backwardWeight: number }
interface Breakdown { [op: string]: { label: string; ms: number }[] }

async function webgrad(gpu: Gpu, s: Conv2dShape, algorithm?: ConvAlgorithm): Promise<{ ms: Timings; breakdown: Breakdown }> {
  const { ops, destroy } = convPasses(gpu, s, algorithm);
  const ms = {} as Timings;
  const breakdown: Breakdown = {};
  for (const [op, dispatches] of Object.entries(ops) as [keyof Timings, Dispatch[]][]) {
    ms[op] = await timeDispatches(gpu, dispatches);
    breakdown[op] = [];
    for (const d of dispatches) breakdown[op].push({ label: d.label, ms: await timeDispatches(gpu, [d]) });
  }
  destroy();
  return { ms, breakdown };
}

/** The same three operations in TF.js (NHWC, its native layout), with the same bias and relu work. */
async function tfjs(tf: Tf, s: Conv2dShape): Promise<Timings> {
  const { outH, outW } = conv2dOutputSize(s);
  const strides: [number, number] = [s.strideH, s.strideW];
  const pad = s.padH === 0 && s.padW === 0 ? 'valid' as const : [[0, 0], [s.padH, s.padH], [s.padW, s.padW], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]];
  const x = tf.randomUniform([s.batch, s.height, s.width, s.inChannels], -1, 1) as TfCore.Tensor4D;
  const filter = tf.randomUniform([s.kernelH, s.kernelW, s.inChannels, s.outChannels], -1, 1) as TfCore.Tensor4D;
  const bias = tf.randomUniform([s.outChannels], -1, 1) as TfCore.Tensor1D;
  const dy = tf.randomUniform([s.batch, outH, outW, s.outChannels], -1, 1) as TfCore.Tensor4D;
  const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1] };
  const runKernel = (name: string, inputs: Record<string, TfCore.Tensor>, extra: object): TfCore.Tensor =>
    tf.engine().runKernel(name, inputs as never, { ...attrs, ...extra } as never) as TfCore.Tensor;
  const ms: Timings = {
    forward: await timeTfjs(() => tf.fused.conv2d({ x, filter, bias, strides, pad, activation: 'relu' }), 10),
    backwardInput: await timeTfjs(() => runKernel('Conv2DBackpropInput', { dy, filter }, { inputShape: x.shape }), 10),
    backwardWeight: await timeTfjs(() => {
      // The bias gradient is queued too, to match webgrad's launcher; disposing it early only
      // defers the release of its buffer until the GPU is done.
      tf.sum(dy, [0, 1, 2]).dispose();
      return runKernel('Conv2DBackpropFilter', { x, dy }, { filterShape: filter.shape });
    }, 10),
  };
  for (const t of [x, filter, bias, dy]) t.dispose();
  return ms;
}

async function main(): Promise<void> {
  const gpu = await createGpu();
  // The GEMM variants training uses: fit() tunes before it compiles.
  await tuneGemm(gpu);
  const { tf, adapter: tfAdapter } = await tfjsWebgpu();
  console.log(`webgrad adapter: ${gpu.describe()}`);
  console.log(`TF.js ${tf.version_core} WebGPU adapter: ${tfAdapter}`);
  console.log('best of several trials, milliseconds per call; the machine is shared, so expect noise');
  const results = [];
  for (const { name, shape } of LAYERS) {
    const direct = await webgrad(gpu, shape, 'direct');
    const columns = await webgrad(gpu, shape, 'columns');
    const theirs = await tfjs(tf, shape);
    console.log(`\n${name} (batch ${shape.batch})`);
    const speedups = {} as Timings;
    const webgradMs = {} as Timings;
    const chosen = {} as Record<keyof Timings, ConvAlgorithm>;
    for (const op of ['forward', 'backwardInput', 'backwardWeight'] as const) {
      chosen[op] = convAlgorithm(shape, op);
      const ours = chosen[op] === 'direct' ? direct : columns;
      webgradMs[op] = ours.ms[op];
      speedups[op] = theirs[op] / ours.ms[op];
      const parts = ours.breakdown[op]!.map((p) => `${p.label} ${p.ms.toFixed(2)}`).join(', ');
      console.log(`  ${op.padEnd(15)} direct ${direct.ms[op].toFixed(2).padStart(7)} ms   columns ${columns.ms[op].toFixed(2).padStart(7)} ms   TF.js ${theirs[op].toFixed(2).padStart(7)} ms   ` +
        `default (${chosen[op]}) ${speedups[op].toFixed(1).padStart(5)}× TF.js   [${parts}]`);
    }
    results.push({
      layer: name, shape, algorithm: chosen, webgradMs, tfjsMs: theirs, speedup: speedups,
      directMs: direct.ms, columnsMs: columns.ms, webgradBreakdownMs: { direct: direct.breakdown, columns: columns.breakdown },
    });
  }
  writeFileSync(new URL('./results/conv.json', import.meta.url), `${JSON.stringify({ webgradAdapter: gpu.describe(), tfjsAdapter: tfAdapter, tfjsVersion: tf.version_core, command: 'npx tsx bench/conv.ts', date: new Date().toISOString(), results }, null, 2)}\n`);
  gpu.destroy();
}

await main();
