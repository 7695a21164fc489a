// One Gpu per test file, created on first use; the adapter is printed so every log says what it ran on.
import { createGpu, type Gpu } from '../../src/gpu/device.ts';

let shared: Promise<Gpu> | undefined;

export function testGpu(): Promise<Gpu> {
  shared ??= createGpu().then((gpu) => {
    console.log(`[webgrad test] adapter: ${gpu.describe()}`);
    return gpu;
  });
  return shared;
}

const CREATORS = ['createBuffer', 'createBindGroup', 'createComputePipeline', 'createShaderModule', 'createBindGroupLayout', 'createPipelineLayout'] as const;

/**
 * Runs `work` while counting queue submissions and every GPU object created, so a test can assert
 * one submit per step and nothing made after compile.
 */
export async function countDeviceWork(gpu: Gpu, work: () => Promise<void>): Promise<{ submits: number; created: number }> {
  const device = gpu.device;
  const queue = device.queue;
  const counts = { submits: 0, created: 0 };
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers) => { counts.submits++; submit(buffers); };
  const originals = CREATORS.map((name) => device[name]);
  const methods = device as unknown as Record<string, unknown>;
  CREATORS.forEach((name, i) => {
    methods[name] = (...args: unknown[]) => { counts.created++; return (originals[i] as (...a: unknown[]) => unknown).apply(device, args); };
  });
  try {
    await work();
  } finally {
    queue.submit = submit;
    CREATORS.forEach((name, i) => { methods[name] = originals[i]; });
  }
  return counts;
}
