// Dynamic loss scaling (PyTorch GradScaler's rule and defaults) as GPU-resident primitives for a
// mixed-precision step: scale the loss gradient, unscale and check every parameter gradient, then
// update the scale. The state lives in one 16-byte buffer the optimizer can read to skip a step.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { entryInfo } from '../gpu/reflect.ts';
import { readBytes, uploadBuffer } from '../gpu/buffers.ts';

export interface LossScaleOptions {
  /** The first scale; default 2^16. */
  initScale?: number;
  /** Multiplies the scale after growthInterval clean steps in a row; default 2. */
  growthFactor?: number;
  /** Multiplies the scale after a step with Inf/NaN gradients; default 0.5. */
  backoffFactor?: number;
  /** Clean steps before the scale grows; default 2000. */
  growthInterval?: number;
}

export const LOSS_SCALE_DEFAULTS: Required<LossScaleOptions> = { initScale: 2 ** 16, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000 };

/** [scale f32, good steps u32, found Inf/NaN u32, skipped steps u32], as shaders/loss_scale.wgsl's State. */
export const LOSS_SCALE_STATE_BYTES = 16;

export interface LossScaleState {
  scale: number;
  /** Clean steps since the scale last changed. */
  goodSteps: number;
  /** Whether a gradient checked since the last update was Inf or NaN: the step to skip. */
  foundNonFinite: boolean;
  skippedSteps: number;
}

export function lossScaleOptions(options: LossScaleOptions = {}): Required<LossScaleOptions> {
  const o = { ...LOSS_SCALE_DEFAULTS, ...options };
  const check = (ok: boolean, field: keyof LossScaleOptions, rule: string) => {
    if (!ok) throw new Error(`loss scaling: ${field} must be ${rule}, got ${o[field]}`);
  };
  check(o.initScale > 0 && Number.isFinite(o.initScale) && Math.fround(o.initScale) < Infinity, 'initScale', 'a positive finite f32');
  check(o.growthFactor > 1 && Number.isFinite(o.growthFactor), 'growthFactor', 'a finite number above 1');
  check(o.backoffFactor > 0 && o.backoffFactor < 1, 'backoffFactor', 'between 0 and 1');
  check(Number.isInteger(o.growthInterval) && o.growthInterval >= 1 && o.growthInterval < 2 ** 32, 'growthInterval', 'a positive integer');
  return o;
}

/** A state buffer holding the initial scale, no clean steps, no Inf/NaN seen. */
/** The state buffer's words for a scale, its clean-step count and the skipped steps (the overflow flag clear). */
export function encodeLossScaleState(state: Omit<LossScaleState, 'foundNonFinite'>): Uint32Array {
  const words = new Uint32Array(LOSS_SCALE_STATE_BYTES / 4);
  new Float32Array(words.buffer, 0, 1)[0] = state.scale;
  words[1] = state.goodSteps;
  words[3] = state.skippedSteps;
  return words;
}

export function createLossScaleState(gpu: Gpu, options: LossScaleOptions = {}, label = 'lossScale.state'): GPUBuffer {
  return uploadBuffer(gpu, encodeLossScaleState({ scale: lossScaleOptions(options).initScale, goodSteps: 0, skippedSteps: 0 }), label);
}

export async function readLossScale(gpu: Gpu, state: GPUBuffer): Promise<LossScaleState> {
  const bytes = await readBytes(gpu, state, LOSS_SCALE_STATE_BYTES);
  const words = new Uint32Array(bytes);
  return { scale: new Float32Array(bytes, 0, 1)[0]!, goodSteps: words[1]!, foundNonFinite: words[2] !== 0, skippedSteps: words[3]! };
}

export interface LossScaleValues { buffer: BufferRef; count: number }

function valuesDispatch(gpu: Gpu, entry: 'scale_values' | 'unscale_check', state: BufferRef, values: LossScaleValues, label: string): Dispatch {
  if (!Number.isInteger(values.count) || values.count < 1) throw new Error(`${label}: count must be a positive integer, got ${values.count}`);
  const size = entryInfo('loss_scale', entry).workgroupSize[0];
  return kernel(gpu, 'loss_scale', entry).dispatch({ state, values: values.buffer, params: { count: values.count } }, grid1d(gpu, values.count, size), label);
}

/** values *= scale, in place: the loss gradient before the backward pass. */
export function applyLossScale(gpu: Gpu, state: BufferRef, values: LossScaleValues): Dispatch[] {
  return [valuesDispatch(gpu, 'scale_values', state, values, 'lossScale.apply')];
}

/** Each gradient *= 1 / scale, in place, flagging the state when any is Inf or NaN (before or after). */
export function unscaleGradients(gpu: Gpu, state: BufferRef, grads: LossScaleValues[]): Dispatch[] {
  return grads.map((g, i) => valuesDispatch(gpu, 'unscale_check', state, g, `lossScale.unscale[${i}]`));
}

/** GradScaler.update(): back off (and count a skipped step) or grow, then clear the flag. After the optimizer. */
export function updateLossScale(gpu: Gpu, state: BufferRef, options: LossScaleOptions = {}): Dispatch[] {
  const o = lossScaleOptions(options);
  return [kernel(gpu, 'loss_scale', 'update_scale').dispatch(
    { state, update: { growth_factor: o.growthFactor, backoff_factor: o.backoffFactor, growth_interval: o.growthInterval } },
    [1, 1, 1], 'lossScale.update',
  )];
}
