// The per-adapter convolution tuner: on the zoo cnn's layers at batch 64, times each pass's default
// algorithm (direct or columns, conv.ts's shape rule) against implicit GEMM and records, per pass and
// default, whether implicit GEMM won. The answer is cached per adapter like tuneGemm's; a new
// implicit tile or tuning layer is a new candidate list, so a version that changes them retunes.
import type { Gpu } from '../gpu/device.ts';
import type { Dispatch } from '../gpu/kernel.ts';
import { storageBuffer } from '../gpu/buffers.ts';
import {
  conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize, conv2dScratchBytes, convAlgorithm, convTuningKey, setConvTuning,
  type Conv2dShape, type ConvAlgorithm, type ConvPass,
} from './conv.ts';
import { describeImplicitVariant } from './conv_implicit.ts';
import { fastestDispatches, keepTuning, readTuning, type TuningCachePolicy, type TuningOutcome } from './tuning.ts';

const cnnLayer = (inChannels: number, size: number, outChannels: number): Conv2dShape => ({
  batch: 64, inChannels, height: size, width: size, outChannels, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0,
});

/**
 * The zoo cnn's conv1 and conv2 at batch 64. Between them they cover every pass's defaults except a
 * direct input gradient (fewer than 32 output channels), which keeps its default untimed.
 */
const TUNING_LAYERS: readonly Conv2dShape[] = [cnnLayer(1, 28, 32), cnnLayer(32, 13, 64)];
const PASSES: readonly ConvPass[] = ['forward', 'backwardInput', 'backwardWeight'];

interface ConvChoices { implicitWins: string[] }

function candidateNames(): string[] {
  const layer = (s: Conv2dShape) => `layer[${Object.values(s).join(',')}]`;
  return [describeImplicitVariant(), ...TUNING_LAYERS.map(layer)];
}

/** One layer's tensors (contents do not matter for timing) and its passes run by a given algorithm. */
function layerPasses(gpu: Gpu, s: Conv2dShape): { run(pass: ConvPass, algorithm: ConvAlgorithm): Dispatch[]; destroy(): void } {
  const { outH, outW } = conv2dOutputSize(s);
  const floats = (count: number, label: string) => storageBuffer(gpu, count * 4, `conv.tune.${label}`);
  const x = floats(s.batch * s.inChannels * s.height * s.width, 'x'), dx = floats(s.batch * s.inChannels * s.height * s.width, 'dx');
  const y = floats(s.batch * s.outChannels * outH * outW, 'y'), dy = floats(s.batch * s.outChannels * outH * outW, 'dy');
  const weights = s.outChannels * s.inChannels * s.kernelH * s.kernelW;
  const weight = floats(weights, 'weight'), dweight = floats(weights, 'dweight'), bias = floats(s.outChannels, 'bias'), dbias = floats(s.outChannels, 'dbias');
  const scratch = conv2dScratchBytes(s).map((bytes, i) => storageBuffer(gpu, bytes, `conv.tune.scratch${i}`));
  return {
    run: (pass, algorithm) => {
      if (pass === 'forward') return conv2dForward(gpu, s, { x, weight, bias, y, scratch, activation: 'relu', algorithm });
      if (pass === 'backwardInput') return conv2dBackwardInput(gpu, s, { dy, weight, dx, scratch, algorithm });
      return conv2dBackwardWeight(gpu, s, { x, dy, dweight, dbias, scratch, algorithm });
    },
    destroy: () => { for (const b of [x, dx, y, dy, weight, dweight, bias, dbias, ...scratch]) gpu.destroyBuffer(b); },
  };
}

/**
 * Decides, per pass and default algorithm, whether implicit GEMM replaces the default on this
 * adapter (conv.ts's chooseConvAlgorithm reads the answer when a program is compiled).
 */
export async function tuneConv(gpu: Gpu, options: { cache?: TuningCachePolicy } = {}): Promise<TuningOutcome> {
  const names = candidateNames();
  const cached = await readTuning<ConvChoices>(gpu, 'conv', names);
  if (cached && Array.isArray(cached.implicitWins)) {
    setConvTuning(gpu, cached.implicitWins);
    return 'cached';
  }
  const layers = TUNING_LAYERS.map((s) => ({ s, passes: layerPasses(gpu, s) }));
  // Passes that share a key are timed together: the winner must win on all of them summed.
  const keys = [...new Set(layers.flatMap(({ s }) => PASSES.map((pass) => convTuningKey(s, pass))))];
  const implicitWins: string[] = [];
  let steady = true;
  for (const key of keys) {
    const members = layers.flatMap(({ s, passes }) => PASSES.filter((pass) => convTuningKey(s, pass) === key).map((pass) => ({ s, pass, passes })));
    const byDefault = members.flatMap(({ s, pass, passes }) => passes.run(pass, convAlgorithm(s, pass)));
    const byImplicit = members.flatMap(({ pass, passes }) => passes.run(pass, 'implicit'));
    const race = await fastestDispatches(gpu, [byDefault, byImplicit]);
    if (race.winner === 1) implicitWins.push(key);
    steady &&= race.steady;
  }
  for (const { passes } of layers) passes.destroy();
  setConvTuning(gpu, implicitWins);
  return keepTuning(gpu, 'conv', names, { implicitWins } satisfies ConvChoices, steady, options.cache);
}
