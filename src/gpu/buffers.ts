// Creating, filling and reading GPU buffers. Readback is for tests, metrics and checkpoints —
// never the training hot path.
import type { Gpu } from './device.ts';
import { encodeDispatches, type Dispatch } from './kernel.ts';

type TypedArray = Float32Array | Int32Array | Uint32Array | Uint8Array;

/** A storage buffer of `byteLength` bytes (rounded up to 4), zero-filled, checked against device limits. */
export function storageBuffer(gpu: Gpu, byteLength: number, label: string): GPUBuffer {
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const max = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  if (size > max) {
    throw new Error(`tensor "${label}" needs ${size} bytes, more than this device's storage binding limit of ${max} bytes; a step's tensors shrink with a smaller batch size (image and named-tensor datasets are split into shards that fit it; a token stream is one buffer)`);
  }
  return gpu.createBuffer({ label, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
}

/** A storage buffer holding a copy of `data`. */
export function uploadBuffer(gpu: Gpu, data: TypedArray, label: string): GPUBuffer {
  const buffer = storageBuffer(gpu, data.byteLength, label);
  writeBuffer(gpu, buffer, data);
  return buffer;
}

export function writeBuffer(gpu: Gpu, buffer: GPUBuffer, data: TypedArray, byteOffset = 0): void {
  // writeBuffer needs a multiple of 4 bytes; pad odd-length byte arrays.
  if (data.byteLength % 4 !== 0) {
    const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
    padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    gpu.device.queue.writeBuffer(buffer, byteOffset, padded);
    return;
  }
  gpu.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
}

export async function readBytes(gpu: Gpu, buffer: GPUBuffer, byteLength = buffer.size, byteOffset = 0): Promise<ArrayBuffer> {
  const size = Math.ceil(byteLength / 4) * 4;
  const staging = gpu.createBuffer({ label: `${buffer.label}.readback`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = gpu.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
  gpu.device.queue.submit([encoder.finish()]);
  try {
    await gpu.guard(staging.mapAsync(GPUMapMode.READ));
    return staging.getMappedRange().slice(0, byteLength);
  } finally {
    gpu.destroyBuffer(staging);
  }
}

export async function readFloat32(gpu: Gpu, buffer: GPUBuffer, count = buffer.size / 4, offset = 0): Promise<Float32Array> {
  return new Float32Array(await readBytes(gpu, buffer, count * 4, offset * 4));
}

export async function readUint32(gpu: Gpu, buffer: GPUBuffer, count = buffer.size / 4, offset = 0): Promise<Uint32Array> {
  return new Uint32Array(await readBytes(gpu, buffer, count * 4, offset * 4));
}

export async function readInt32(gpu: Gpu, buffer: GPUBuffer, count = buffer.size / 4, offset = 0): Promise<Int32Array> {
  return new Int32Array(await readBytes(gpu, buffer, count * 4, offset * 4));
}

/** Runs dispatches in one submit and waits for the queue: for tests and one-off work. */
export async function runDispatches(gpu: Gpu, dispatches: readonly Dispatch[]): Promise<void> {
  const encoder = gpu.device.createCommandEncoder();
  encodeDispatches(encoder, dispatches);
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.guard(gpu.device.queue.onSubmittedWorkDone());
}
