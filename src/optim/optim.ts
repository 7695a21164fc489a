// Optimizer choices and learning-rate schedules. Schedules run on the CPU: each step the executor
// writes the current rate into a 16-byte buffer, so changing it costs nothing on the GPU.

/**
 * Which parameters weight decay applies to: 'all' (the default, as torch.optim given
 * model.parameters()), or 'matrices', nanoGPT's configure_optimizers rule: only tensors of two or
 * more dimensions (Dense and attention weights, embedding tables) decay; biases and LayerNorm
 * weights and biases do not.
 */
export type DecayGroups = 'all' | 'matrices';
export const DECAY_GROUPS: readonly DecayGroups[] = ['all', 'matrices'];

export type OptimizerConfig =
  | { kind: 'sgd'; lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number; l1?: number; decay?: DecayGroups }
  | { kind: 'adam' | 'adamw'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; l1?: number; decay?: DecayGroups };

/** The weight decay one parameter of `shape` gets: the optimizer's (AdamW defaults to 0.01, as PyTorch), or 0 outside its decay group. */
export function parameterWeightDecay(optimizer: OptimizerConfig, shape: readonly number[]): number {
  if (optimizer.decay === 'matrices' && shape.length < 2) return 0;
  return optimizer.weightDecay ?? (optimizer.kind === 'adamw' ? 0.01 : 0);
}

export type Schedule =
  | { kind: 'constant' }
  | { kind: 'step'; stepSize: number; gamma: number }          // every stepSize epochs, lr *= gamma
  | { kind: 'exponential'; gamma: number }                      // per epoch
  | { kind: 'cosine'; minLr?: number }                          // over all steps
  | { kind: 'onecycle'; maxLr?: number; pctStart?: number }     // per step, cosine warmup then anneal
  | { kind: 'warmup-cosine'; warmupSteps: number; minLr?: number }; // per step, linear warm-up then cosine (GPT-2/nanoGPT)

export const SCHEDULES = ['constant', 'step', 'exponential', 'cosine', 'onecycle'] as const;

/** Learning rate at a step (0-based) given the base rate; `stepsPerEpoch` converts epoch-based schedules. */
export function learningRate(schedule: Schedule, baseLr: number, step: number, stepsPerEpoch: number, totalSteps: number): number {
  const epoch = Math.floor(step / Math.max(1, stepsPerEpoch));
  const progress = Math.min(1, step / Math.max(1, totalSteps));
  switch (schedule.kind) {
    case 'constant': return baseLr;
    case 'step': return baseLr * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
    case 'exponential': return baseLr * schedule.gamma ** epoch;
    case 'cosine': {
      const min = schedule.minLr ?? 0;
      return min + (baseLr - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
    case 'onecycle': {
      // PyTorch's OneCycleLR defaults: start at max/25, end at start/1e4, 30% warmup.
      const maxLr = schedule.maxLr ?? baseLr;
      const pct = schedule.pctStart ?? 0.3;
      const start = maxLr / 25;
      const end = start / 1e4;
      const cos = (from: number, to: number, t: number) => to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * t));
      return progress < pct ? cos(start, maxLr, progress / pct) : cos(maxLr, end, (progress - pct) / (1 - pct));
    }
    case 'warmup-cosine': {
      // nanoGPT's: the rate climbs linearly to the base over the warm-up, then decays by a half cosine.
      const warmup = schedule.warmupSteps;
      if (step < warmup) return (baseLr * (step + 1)) / warmup;
      const min = schedule.minLr ?? 0;
      const decay = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
      return min + (baseLr - min) * 0.5 * (1 + Math.cos(Math.PI * decay));
    }
  }
}
