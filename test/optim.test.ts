// Learning-rate schedules against their closed forms (PyTorch's StepLR, ExponentialLR,
// CosineAnnealingLR, OneCycleLR defaults, and nanoGPT's linear warm-up then cosine decay).
import { describe, expect, it } from 'vitest';
import { learningRate, parameterWeightDecay } from '../src/optim/optim.ts';
import { gptModel } from '../src/model/gpt.ts';

const base = 0.01, perEpoch = 10, total = 100;
const at = (schedule: Parameters<typeof learningRate>[0], step: number) => learningRate(schedule, base, step, perEpoch, total);

describe('learning-rate schedules', () => {
  it('constant, step, exponential and cosine follow their formulas', () => {
    expect(at({ kind: 'constant' }, 57)).toBe(base);
    expect(at({ kind: 'step', stepSize: 3, gamma: 0.1 }, 29)).toBeCloseTo(base, 12);         // epoch 2
    expect(at({ kind: 'step', stepSize: 3, gamma: 0.1 }, 30)).toBeCloseTo(base * 0.1, 12);   // epoch 3
    expect(at({ kind: 'step', stepSize: 3, gamma: 0.1 }, 60)).toBeCloseTo(base * 0.01, 12);  // epoch 6
    expect(at({ kind: 'exponential', gamma: 0.9 }, 45)).toBeCloseTo(base * 0.9 ** 4, 12);
    expect(at({ kind: 'cosine' }, 0)).toBeCloseTo(base, 12);
    expect(at({ kind: 'cosine' }, 50)).toBeCloseTo(base / 2, 12);
    expect(at({ kind: 'cosine', minLr: 1e-4 }, 100)).toBeCloseTo(1e-4, 12);
  });

  it('onecycle starts at max/25, peaks at 30% and ends at start/1e4', () => {
    expect(at({ kind: 'onecycle' }, 0)).toBeCloseTo(base / 25, 12);
    expect(at({ kind: 'onecycle' }, 30)).toBeCloseTo(base, 12);
    expect(at({ kind: 'onecycle' }, 100)).toBeCloseTo(base / 25 / 1e4, 12);
  });

  it('warmup-cosine climbs linearly over the warm-up, then decays by a half cosine to the minimum', () => {
    const schedule = { kind: 'warmup-cosine' as const, warmupSteps: 10, minLr: 1e-3 };
    expect(at(schedule, 0)).toBeCloseTo(base / 10, 12);
    expect(at(schedule, 4)).toBeCloseTo(base / 2, 12);
    expect(at(schedule, 9)).toBeCloseTo(base, 12);
    expect(at(schedule, 10)).toBeCloseTo(base, 12);
    expect(at(schedule, 55)).toBeCloseTo(1e-3 + (base - 1e-3) / 2, 12);
    expect(at(schedule, 100)).toBeCloseTo(1e-3, 12);
    expect(at(schedule, 1000)).toBeCloseTo(1e-3, 12);
    // Without a warm-up it is plain cosine decay.
    expect(at({ kind: 'warmup-cosine', warmupSteps: 0 }, 50)).toBeCloseTo(at({ kind: 'cosine' }, 50), 12);
  });
});

describe('decay groups', () => {
  it("'matrices' decays tensors of two or more dimensions only (nanoGPT's configure_optimizers); 'all' and the default decay every one", () => {
    const model = gptModel({ vocab: 7, context: 5, layers: 1, heads: 2, width: 8, tieWeights: true });
    const decay = (optimizer: Parameters<typeof parameterWeightDecay>[0]) => Object.fromEntries(model.parameterSpecs().map((s) => [s.name, parameterWeightDecay(optimizer, s.shape)]));
    const matrices = decay({ kind: 'adamw', lr: 1e-3, weightDecay: 0.1, decay: 'matrices' });
    const decayed = Object.keys(matrices).filter((name) => matrices[name] === 0.1);
    // The embedding tables are matrices and decay; the tied wte is also lm_head's weight.
    expect(decayed).toEqual(['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_proj.weight', 'transformer.h.0.mlp.c_fc.weight', 'transformer.h.0.mlp.c_proj.weight']);
    expect(Object.keys(matrices).filter((name) => matrices[name] === 0)).toEqual(Object.keys(matrices).filter((name) => name.endsWith('.bias') || name.includes('.ln_')));
    expect(new Set(Object.values(decay({ kind: 'adamw', lr: 1e-3, weightDecay: 0.1, decay: 'all' })))).toEqual(new Set([0.1]));
    // PyTorch's AdamW default, 0.01, for every parameter when nothing is said; Adam and SGD default to none.
    expect(new Set(Object.values(decay({ kind: 'adamw', lr: 1e-3 })))).toEqual(new Set([0.01]));
    expect(new Set(Object.values(decay({ kind: 'adam', lr: 1e-3, decay: 'matrices' })))).toEqual(new Set([0]));
    expect(parameterWeightDecay({ kind: 'sgd', lr: 0.1, weightDecay: 1e-4, decay: 'matrices' }, [10])).toBe(0);
    expect(parameterWeightDecay({ kind: 'sgd', lr: 0.1, weightDecay: 1e-4, decay: 'matrices' }, [10, 3, 3, 3])).toBe(1e-4);
  });
});
