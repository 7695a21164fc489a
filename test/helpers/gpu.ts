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
