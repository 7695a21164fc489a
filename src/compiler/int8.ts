// The int8 form of a program's Dense and Conv2D layers: an int8 GEMM on int8 weights with
// per-output-channel scales. Activations stay f32 between layers and each int8 layer quantizes its
// input on the fly, one scale per row (per sample for Dense, per output pixel's im2col column for
// Conv2D): no calibration pass is needed, an outlier only coarsens its own row, and the pools/ReLU
// between layers need no int8 versions. Every other layer runs its ordinary forward ops.
import type { BufferRef } from '../gpu/kernel.ts';
import { activationForward, type ActivationKind } from '../kernels/activation.ts';
import { int8Conv2d, int8Conv2dScratchBytes, int8Dense, int8DenseScratchBytes, type Int8Options } from '../kernels/int8.ts';
import { elementCount } from '../graph/graph.ts';
import { Conv2D, Dense } from '../layers/layers.ts';
import type { BuildContext, Layer } from '../layers/layer.ts';

/** One quantized weight on the GPU: rows × int8Words(depth) packed codes and one f32 scale per row. */
export interface Int8Tensor { packed: GPUBuffer; scales: GPUBuffer; rows: number }

/** What an inference program needs to run its Dense/Conv2D layers in int8 (ProgramOptions.int8). */
export interface Int8Weights {
  /** By weight name (`<layer>.weight`); every Dense and Conv2D of the model needs one. */
  tensors: ReadonlyMap<string, Int8Tensor>;
  /** Kernel choices (e.g. packedDot), as int8Dense/int8Conv2d take them. */
  kernel?: Int8Options;
}

export function runsInInt8(layer: Layer): layer is Dense | Conv2D {
  return layer instanceof Dense || layer instanceof Conv2D;
}

/** Adds the int8 ops of `layer` applied to `x` (shape [batch, ...input]) to ctx.graph; returns its output. */
export function int8LayerForward(ctx: BuildContext, weights: Int8Weights, layer: Dense | Conv2D, input: readonly number[], output: readonly number[],
  x: number, external: Map<number, BufferRef>): number {
  const { graph, batch } = ctx;
  const q = weights.tensors.get(`${layer.name}.weight`);
  if (!q) throw new Error(`int8 program: layer ${layer.name} has no quantized weight ${layer.name}.weight`);
  if (layer instanceof Dense && input.length !== 1) throw new Error(`int8 program: layer ${layer.name} is a Dense over a sequence ${JSON.stringify(input)}; the int8 path takes flat Dense inputs only`);
  const bind = (name: string, shape: number[], dtype: 'u32' | 'f32', buffer: GPUBuffer): number => {
    const t = graph.tensor(name, shape, 'param', dtype);
    external.set(t, buffer);
    return t;
  };
  const weight = bind(`${layer.name}.weight.int8`, [q.packed.size / 4], 'u32', q.packed);
  const scale = bind(`${layer.name}.weight.scale`, [q.rows], 'f32', q.scales);
  const bias = layer.useBias ? ctx.param(layer, 'bias') : undefined;
  const reads = bias === undefined ? [x, weight, scale] : [x, weight, scale, bias];
  // The kernels fuse ReLU; any other activation runs as its own op after.
  const fused = layer.activation === 'relu' || layer.activation === 'none';
  const activation = layer.activation === 'relu' ? 'relu' as const : 'none' as const;
  const z = graph.tensor(`${layer.name}.${fused ? 'out' : 'preact'}`, [batch, ...output]);
  const kernel = weights.kernel ?? {};
  const biasArg = (b: (t: number) => BufferRef) => (bias === undefined ? {} : { bias: b(bias) });
  if (layer instanceof Dense) {
    const inFeatures = input[0]!;
    const scratch = graph.tensor(`${layer.name}.scratch`, [Math.ceil(int8DenseScratchBytes(batch, inFeatures) / 4)]);
    graph.add({
      name: `${layer.name}.int8`, reads, writes: [z, scratch],
      emit: (g, b) => int8Dense(g, {
        ...kernel, x: b(x), weight: b(weight), weightScale: b(scale), y: b(z), scratch: b(scratch),
        batch, inFeatures, outFeatures: layer.units, activation, ...biasArg(b),
      }),
    });
  } else {
    const s = layer.convShape(input, batch);
    const scratch = graph.tensor(`${layer.name}.scratch`, [Math.ceil(int8Conv2dScratchBytes(s) / 4)]);
    graph.add({
      name: `${layer.name}.int8`, reads, writes: [z, scratch],
      emit: (g, b) => int8Conv2d(g, s, { ...kernel, x: b(x), weight: b(weight), weightScale: b(scale), y: b(z), scratch: b(scratch), activation, ...biasArg(b) }),
    });
  }
  if (fused) return z;
  const y = graph.tensor(`${layer.name}.out`, [batch, ...output]);
  const kind = layer.activation as ActivationKind;
  const count = batch * elementCount(output);
  graph.add({ name: `${layer.name}.${kind}`, reads: [z], writes: [y], emit: (g, b) => activationForward(g, kind, { x: b(z), y: b(y), count }) });
  return y;
}
