// Names the WebGPU adapter webgrad picks here and what it offers, as one JSON line on stdout: the
// backend, whether it is software, the device's features (subgroups, shader-f16, …), the WGSL
// language features and the limits the kernels care about. `node --import tsx bench/adapter.ts`; used by
// bench/device-check.sh.
import { createGpu } from 'webgrad';

const LIMITS = [
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBufferBindingSize',
  'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupsPerDimension',
] as const;

const gpu = await createGpu();
console.log(JSON.stringify({
  describe: gpu.describe(),
  ...gpu.adapter,
  features: [...gpu.device.features].sort(),
  wgslLanguageFeatures: [...gpu.wgslLanguageFeatures()].sort(),
  limits: Object.fromEntries(LIMITS.map((name) => [name, gpu.limits[name]])),
}));
gpu.destroy();
process.exit(0);
