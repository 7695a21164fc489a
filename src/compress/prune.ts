// Magnitude pruning of Dense and Conv2D weights (never biases or batch-norm tensors) to an exact
// sparsity, globally (one threshold over all of them) or per layer, and keeping the pruned weights
// at zero through a recovery fine-tune: a masking dispatch is appended to the compiled training
// step after the optimizer updates, so every step ends with them exactly zero (their Adam moments
// keep moving, but the weights are re-zeroed within the same submit).
import type { Gpu } from '../gpu/device.ts';
import { uploadBuffer } from '../gpu/buffers.ts';
import { applyMask, packMask } from '../kernels/prune.ts';
import type { Model } from '../model/model.ts';
import type { Trainer } from '../runtime/runtime.ts';
import { linearWeightNames } from './quantize.ts';

export type PruneScope = 'global' | 'layer';

/** Per pruned tensor: 1 = kept, 0 = pruned. */
export type Masks = Map<string, Uint8Array>;

/**
 * Zeroes exactly round(sparsity × count) of the smallest-magnitude weights: of the whole set
 * (global) or of each tensor (layer). Equal magnitudes are broken by tensor order then index, so
 * ties never make the count miss the target.
 */
export function magnitudeMasks(weights: ReadonlyMap<string, Float32Array>, names: readonly string[], sparsity: number, scope: PruneScope = 'global'): Masks {
  if (!(sparsity >= 0 && sparsity <= 1)) throw new Error(`prune: sparsity must be in [0, 1], got ${sparsity}`);
  const tensors = names.map((name) => {
    const values = weights.get(name);
    if (!values) throw new Error(`prune: no weights named ${name}`);
    return { name, values };
  });
  const masks: Masks = new Map(tensors.map((t) => [t.name, new Uint8Array(t.values.length).fill(1)]));
  const groups = scope === 'global' ? [tensors] : tensors.map((t) => [t]);
  for (const group of groups) {
    const entries: { tensor: number; index: number; magnitude: number }[] = [];
    group.forEach((t, tensor) => t.values.forEach((v, index) => entries.push({ tensor, index, magnitude: Math.abs(v) })));
    // Array.prototype.sort is stable: equal magnitudes keep tensor-then-index order.
    entries.sort((a, b) => a.magnitude - b.magnitude);
    const pruned = Math.round(sparsity * entries.length);
    for (let i = 0; i < pruned; i++) masks.get(group[entries[i]!.tensor]!.name)![entries[i]!.index] = 0;
  }
  return masks;
}

/** The masks for a model's Dense and Conv2D weights. */
export function pruneModelMasks(model: Model, weights: ReadonlyMap<string, Float32Array>, sparsity: number, scope: PruneScope = 'global'): Masks {
  return magnitudeMasks(weights, linearWeightNames(model), sparsity, scope);
}

/** A copy of `weights` with the masked entries set to zero. */
export function applyMasks(weights: ReadonlyMap<string, Float32Array>, masks: Masks): Map<string, Float32Array> {
  const out = new Map(weights);
  for (const [name, mask] of masks) {
    const pruned = Float32Array.from(weights.get(name)!);
    for (let i = 0; i < mask.length; i++) if (!mask[i]) pruned[i] = 0;
    out.set(name, pruned);
  }
  return out;
}

/** Fraction of zeros over the named tensors. */
export function sparsityOf(weights: ReadonlyMap<string, Float32Array>, names: readonly string[]): number {
  let zeros = 0, total = 0;
  for (const name of names) {
    const values = weights.get(name)!;
    for (const v of values) if (v === 0) zeros++;
    total += values.length;
  }
  return total ? zeros / total : 0;
}

/**
 * Appends one masking dispatch per pruned tensor to the trainer's recorded step (after its
 * optimizer updates, for every batch size it trains). Returns the mask buffers, to destroy with the trainer.
 */
export function keepPrunedAtZero(gpu: Gpu, trainer: Trainer, masks: Masks): GPUBuffer[] {
  const buffers: GPUBuffer[] = [];
  for (const [name, mask] of masks) {
    const weight = trainer.state.buffers.get(name);
    if (!weight) throw new Error(`keepPrunedAtZero: the model has no parameter ${name}`);
    const buffer = uploadBuffer(gpu, packMask(mask), `${name}.mask`);
    buffers.push(buffer);
    trainer.afterUpdate.push(...applyMask(gpu, { weight, mask: buffer, count: mask.length, label: `prune.mask ${name}` }));
  }
  return buffers;
}
