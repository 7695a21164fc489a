// CPU reference for src/kernels/loss_scale.ts: GradScaler's unscale, Inf/NaN check and update, in
// f32 as the GPU computes them (the scale is an f32; gradients are f32).
import type { LossScaleState } from '../../src/kernels/loss_scale.ts';

export interface LossScaleRule { growthFactor: number; backoffFactor: number; growthInterval: number }

/** Gradients divided by the scale, and whether any (before or after) was Inf or NaN. */
export function unscaleReference(scale: number, grads: Float32Array[]): { grads: Float32Array[]; foundNonFinite: boolean } {
  const inverse = Math.fround(1 / scale);
  let found = false;
  const out = grads.map((g) => g.map((x) => {
    const y = Math.fround(x * inverse);
    if (!Number.isFinite(x) || !Number.isFinite(y)) found = true;
    return y;
  }));
  return { grads: out, foundNonFinite: found };
}

/** The state after one update_scale; the flag is cleared. */
export function updateReference(state: LossScaleState, rule: LossScaleRule): LossScaleState {
  if (state.foundNonFinite) {
    return { scale: Math.fround(state.scale * Math.fround(rule.backoffFactor)), goodSteps: 0, foundNonFinite: false, skippedSteps: state.skippedSteps + 1 };
  }
  const good = state.goodSteps + 1;
  if (good < rule.growthInterval) return { ...state, goodSteps: good };
  const grown = Math.fround(state.scale * Math.fround(rule.growthFactor));
  return { scale: Number.isFinite(grown) ? grown : state.scale, goodSteps: 0, foundNonFinite: false, skippedSteps: state.skippedSteps };
}
