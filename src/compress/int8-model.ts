// A quantized model's tensors on the GPU, in the form compileProgram's int8 option takes: the f32
// tensors (biases, batch norm) by name, and the packed int8 weights with their scales. Inference
// then runs through the ordinary Evaluator: `{ int8: state.int8 }` in its options.
import type { Gpu } from '../gpu/device.ts';
import { uploadBuffer } from '../gpu/buffers.ts';
import type { Int8Options } from '../kernels/int8.ts';
import type { Int8Tensor, Int8Weights } from '../compiler/int8.ts';
import type { ParameterBuffers } from '../runtime/runtime.ts';
import type { QuantizedModel } from './quantize.ts';

export class QuantizedState implements ParameterBuffers {
  readonly buffers = new Map<string, GPUBuffer>();
  readonly int8: Int8Weights;

  constructor(readonly gpu: Gpu, quantized: QuantizedModel, kernel: Int8Options = {}) {
    for (const [name, values] of quantized.f32) this.buffers.set(name, uploadBuffer(gpu, values, name));
    const tensors = new Map<string, Int8Tensor>();
    for (const [name, tensor] of quantized.int8) {
      tensors.set(name, { packed: uploadBuffer(gpu, tensor.packed, `${name}.int8`), scales: uploadBuffer(gpu, tensor.scales, `${name}.scale`), rows: tensor.rows });
    }
    this.int8 = { tensors, kernel };
  }

  destroy(): void {
    for (const b of this.buffers.values()) this.gpu.destroyBuffer(b);
    for (const q of this.int8.tensors.values()) { this.gpu.destroyBuffer(q.packed); this.gpu.destroyBuffer(q.scales); }
  }
}

/** Fraction of predictions equal to the labels. */
export function accuracyOf(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === labels[i]) correct++;
  return predictions.length ? correct / predictions.length : 0;
}
