// The optimizer and schedule names the training commands accept, turned into their configurations.
import type { DecayGroups, OptimizerConfig, Schedule } from '../optim/optim.ts';

export const OPTIMIZER_NAMES = ['sgd', 'momentum', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export function optimizerConfig(flags: { optimizer: string; lr: number; momentum: number; 'weight-decay': number; l1: number; decay?: string }): OptimizerConfig {
  // 'all' is the default and left out, so such a run's checkpoint reads as it did before decay groups.
  const common = { lr: flags.lr, weightDecay: flags['weight-decay'], l1: flags.l1, ...(flags.decay === 'matrices' ? { decay: flags.decay as DecayGroups } : {}) };
  switch (flags.optimizer) {
    case 'sgd': return { kind: 'sgd', ...common };
    case 'momentum': return { kind: 'sgd', ...common, momentum: flags.momentum, nesterov: true };
    case 'adamw': return { kind: 'adamw', ...common };
    default: return { kind: 'adam', ...common };
  }
}

/** The --optimizer name that gives `config` (the inverse of optimizerConfig). */
export function optimizerName(config: OptimizerConfig): OptimizerName {
  if (config.kind === 'sgd') return config.momentum ? 'momentum' : 'sgd';
  return config.kind;
}

export function scheduleConfig(name: string, epochs: number): Schedule {
  switch (name) {
    case 'step': return { kind: 'step', stepSize: Math.max(1, Math.ceil(epochs / 3)), gamma: 0.1 };
    case 'exponential': return { kind: 'exponential', gamma: 0.9 };
    case 'cosine': return { kind: 'cosine' };
    case 'onecycle': return { kind: 'onecycle' };
    default: return { kind: 'constant' };
  }
}
