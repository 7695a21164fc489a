// Float64 references for one optimizer step, written from the update rules in the torch.optim docs
// (SGD, Adam, AdamW). State arrays are updated in place.
import type { AdamOptions, SgdOptions } from '../../src/kernels/optimizer.ts';

export interface StepInputs { lr: number; step: number; clipScale: number }

function penalizedGradient(g: number, w: number, weightDecay: number, l1: number, clipScale: number): number {
  return g * clipScale + weightDecay * w + l1 * Math.sign(w);
}

export function sgdStepReference(o: SgdOptions, state: { param: Float64Array; velocity?: Float64Array }, grad: ArrayLike<number>, s: StepInputs): void {
  const dampening = o.dampening ?? 0;
  for (let i = 0; i < state.param.length; i++) {
    const w = state.param[i]!;
    let d = penalizedGradient(grad[i]!, w, o.weightDecay, o.l1, s.clipScale);
    if (o.momentum !== 0) {
      const velocity = state.velocity!;
      const buf = s.step === 1 ? d : o.momentum * velocity[i]! + (1 - dampening) * d;
      velocity[i] = buf;
      d = o.nesterov ? d + o.momentum * buf : buf;
    }
    state.param[i] = w - s.lr * d;
  }
}

export function adamStepReference(o: AdamOptions, state: { param: Float64Array; m: Float64Array; v: Float64Array }, grad: ArrayLike<number>, s: StepInputs): void {
  const correction1 = 1 - o.beta1 ** s.step;
  const correction2 = 1 - o.beta2 ** s.step;
  for (let i = 0; i < state.param.length; i++) {
    const original = state.param[i]!;
    const w = o.decoupled ? original * (1 - s.lr * o.weightDecay) : original;
    const g = penalizedGradient(grad[i]!, original, o.decoupled ? 0 : o.weightDecay, o.l1, s.clipScale);
    const m = o.beta1 * state.m[i]! + (1 - o.beta1) * g;
    const v = o.beta2 * state.v[i]! + (1 - o.beta2) * g * g;
    state.m[i] = m;
    state.v[i] = v;
    const denom = Math.sqrt(v) / Math.sqrt(correction2) + o.eps;
    state.param[i] = w - (s.lr / correction1) * (m / denom);
  }
}
