// Fused optimizer updates: one dispatch per parameter tensor per step, PyTorch semantics and defaults.
// Options are fixed at compile time (a uniform); the learning rate and step number live in the
// `hyper` buffer and the clipping scale in `clip`, both read by the kernel, so the dispatches are
// recorded once and replayed every step.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

export interface SgdOptions {
  momentum: number;
  nesterov: boolean;
  /** Coupled L2: weightDecay·w is added to the gradient, as torch.optim.SGD does. */
  weightDecay: number;
  /** l1·sign(w) is added to the gradient. */
  l1: number;
  dampening?: number;
}

export interface AdamOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** true = AdamW (w ← w − lr·λ·w before the Adam step); false = Adam with λ·w added to the gradient. */
  decoupled: boolean;
  l1: number;
}

const WORKGROUP_SIZE = 256;
/** Elements each invocation updates (strided), so per-step setup is amortized; see optimizer.wgsl. */
const ELEMENTS_PER_INVOCATION = 16;
/** Steps are stored as f32 in `hyper`; past 2^24 consecutive integers are no longer representable. */
const MAX_STEP = 2 ** 24;

/**
 * The 16 bytes the executor writes into `hyper` before each submit: [lr, step, 0, 0].
 * `step` is 1-based; Adam's bias correction and SGD's first momentum step depend on it.
 */
export function writeHyper(lr: number, step: number): Float32Array {
  if (!Number.isFinite(lr)) throw new Error(`writeHyper: learning rate must be finite, got ${lr}`);
  if (!Number.isInteger(step) || step < 1 || step > MAX_STEP) throw new Error(`writeHyper: step must be an integer in [1, ${MAX_STEP}], got ${step}`);
  return new Float32Array([lr, step, 0, 0]);
}

/** The entry that skips on overflow when a loss-scale state is given. */
function entryFor<E extends 'sgd' | 'sgd_momentum' | 'adam'>(entry: E, io: SkipOnOverflow): E | `${E}_scaled` {
  return io.lossScale === undefined ? entry : `${entry}_scaled`;
}

function skipBinding(io: SkipOnOverflow): { loss_scale?: BufferRef } {
  return io.lossScale === undefined ? {} : { loss_scale: io.lossScale };
}

function updateGrid(gpu: Gpu, count: number): readonly [number, number, number] {
  return grid1d(gpu, Math.ceil(count / ELEMENTS_PER_INVOCATION), WORKGROUP_SIZE);
}

function checkCount(name: string, count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new Error(`${name}: count must be a positive integer, got ${count}`);
}

function checkFinite(name: string, values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!Number.isFinite(value)) throw new Error(`${name}: ${key} must be finite, got ${value}`);
  }
}

/**
 * Mixed precision's loss-scale state (src/kernels/loss_scale.ts). Given, the update is skipped while
 * its Inf/NaN flag is set, and the step number counts only updates applied (hyper's step less the
 * skipped steps), as GradScaler.step skips optimizer.step() and so Adam's step count.
 */
export interface SkipOnOverflow { lossScale?: BufferRef }

/** torch.optim.SGD. `velocity` (count floats) is needed iff momentum > 0; its contents before step 1 are ignored. */
export function sgdUpdate(gpu: Gpu, o: SgdOptions, io: { param: BufferRef; grad: BufferRef; velocity?: BufferRef; count: number; hyper: BufferRef; clip: BufferRef } & SkipOnOverflow): Dispatch[] {
  const dampening = o.dampening ?? 0;
  checkCount('sgdUpdate', io.count);
  checkFinite('sgdUpdate', { momentum: o.momentum, dampening, weightDecay: o.weightDecay, l1: o.l1 });
  if (o.momentum < 0) throw new Error(`sgdUpdate: momentum must be ≥ 0, got ${o.momentum}`);
  // The same rule torch.optim.SGD enforces: Nesterov needs momentum and no dampening.
  if (o.nesterov && (o.momentum <= 0 || dampening !== 0)) throw new Error('sgdUpdate: Nesterov momentum requires momentum > 0 and dampening = 0');
  const withMomentum = o.momentum > 0;
  if (withMomentum !== (io.velocity !== undefined)) {
    throw new Error(`sgdUpdate: a velocity buffer is needed iff momentum > 0 (momentum ${o.momentum}, velocity ${io.velocity ? 'given' : 'missing'})`);
  }
  const sgdParams = {
    n: io.count, momentum: o.momentum, dampening, weight_decay: o.weightDecay, l1: o.l1, nesterov: o.nesterov ? 1 : 0,
  };
  const resources = { param: io.param, grad: io.grad, hyper: io.hyper, clip: io.clip, sgd_params: sgdParams, ...skipBinding(io) };
  const grid = updateGrid(gpu, io.count);
  if (withMomentum) return [kernel(gpu, 'optimizer', entryFor('sgd_momentum', io)).dispatch({ ...resources, velocity: io.velocity! }, grid, 'sgdUpdate')];
  return [kernel(gpu, 'optimizer', entryFor('sgd', io)).dispatch(resources, grid, 'sgdUpdate')];
}

/** torch.optim.Adam / AdamW (amsgrad off). `m` and `v` (count floats each) must be zero before step 1. */
export function adamUpdate(gpu: Gpu, o: AdamOptions, io: { param: BufferRef; grad: BufferRef; m: BufferRef; v: BufferRef; count: number; hyper: BufferRef; clip: BufferRef } & SkipOnOverflow): Dispatch[] {
  checkCount('adamUpdate', io.count);
  checkFinite('adamUpdate', { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, l1: o.l1 });
  for (const [name, beta] of [['beta1', o.beta1], ['beta2', o.beta2]] as const) {
    if (!(beta >= 0 && beta < 1)) throw new Error(`adamUpdate: ${name} must be in [0, 1), got ${beta}`);
  }
  const adamParams = {
    n: io.count, beta1: o.beta1, beta2: o.beta2, one_minus_beta1: 1 - o.beta1, one_minus_beta2: 1 - o.beta2,
    eps: o.eps, weight_decay: o.weightDecay, l1: o.l1, decoupled: o.decoupled ? 1 : 0,
  };
  const k = kernel(gpu, 'optimizer', entryFor('adam', io));
  return [k.dispatch({ param: io.param, grad: io.grad, m: io.m, v: io.v, hyper: io.hyper, clip: io.clip, adam_params: adamParams, ...skipBinding(io) }, updateGrid(gpu, io.count), 'adamUpdate')];
}
