// GPU buffers for one test case, destroyed together; outputs start as NaN so an element a kernel
// forgets to write fails the comparison instead of passing as zero.
import type { Gpu } from '../../src/gpu/device.ts';
import { uploadBuffer } from '../../src/gpu/buffers.ts';

export class TestBuffers {
  private readonly gpu: Gpu;
  private readonly owned: GPUBuffer[] = [];

  constructor(gpu: Gpu) {
    this.gpu = gpu;
  }

  upload(data: Float32Array | Uint32Array, label = 'input'): GPUBuffer {
    const buffer = uploadBuffer(this.gpu, data, label);
    this.owned.push(buffer);
    return buffer;
  }

  /** A buffer of `count` f32 NaNs. */
  output(count: number, label = 'output'): GPUBuffer {
    return this.upload(new Float32Array(count).fill(NaN), label);
  }

  destroy(): void {
    for (const buffer of this.owned.splice(0)) this.gpu.destroyBuffer(buffer);
  }
}
