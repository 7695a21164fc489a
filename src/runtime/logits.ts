// Inference that returns the model's logits (a final Softmax layer is left out, as in training, so
// callers apply softmax themselves), for prediction and for comparing against other frameworks.
import type { Gpu } from '../gpu/device.ts';
import type { Model } from '../model/model.ts';
import { Evaluator, type ModelState } from './runtime.ts';
import type { GpuDataset, Normalization } from '../compiler/program.ts';

/** One forward pass over `indices`: dropout off, batch norm on running statistics. */
export async function predictLogits(gpu: Gpu, model: Model, state: ModelState, data: GpuDataset, indices: Uint32Array,
  normalize: Normalization): Promise<Float32Array> {
  const evaluator = new Evaluator(gpu, model, state, data, Math.max(1, indices.length), normalize);
  try {
    return await evaluator.logits(indices);
  } finally {
    evaluator.destroy();
  }
}
