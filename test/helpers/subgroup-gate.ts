// The Node side of the subgroup row variants (src/kernels/row-variant.ts). On a device with
// `subgroups` their numerics run here; on one without (llvmpipe), forcing one must be refused with
// the reason, the default must stay the invocation-per-row kernel, and the device's own WGSL
// compiler must reject the module, which shows the gate is needed. Dawn's null backend offers the
// feature (and executes nothing), so every subgroup pipeline is still built and validated there.
import { expect } from 'vitest';
import { createGpu, type Gpu } from '../../src/gpu/device.ts';
import { kernel, type Dispatch } from '../../src/gpu/kernel.ts';
import { shaderSource } from '../../src/gpu/reflect.ts';
import { rowCheckFailures, type RowKernel } from './row-checks.ts';

export const SUBGROUP_REFUSAL = /the subgroup variant needs the device feature subgroups, which .* does not offer/;

export interface SubgroupVariantCase {
  /** The kernels this family's subgroup shader runs (test/helpers/row-checks.ts). */
  kernels: readonly RowKernel[];
  shader: string;
  /** The launcher with the subgroup variant forced, and with its default. */
  forced: (gpu: Gpu) => Dispatch[];
  byDefault: (gpu: Gpu) => Dispatch[];
  /** [shader, entry, constants] of the kernel each picks. */
  subgroupKernel: [string, string, Record<string, number>?];
  invocationKernel: [string, string, Record<string, number>?];
}

const pipelineOf = (gpu: Gpu, [shader, entry, constants]: [string, string, Record<string, number>?]): GPUComputePipeline => kernel(gpu, shader, entry, constants).pipeline;

export async function expectSubgroupVariantOnThisDevice(gpu: Gpu, c: SubgroupVariantCase): Promise<void> {
  expect(await rowCheckFailures(gpu, c.kernels, 'invocation')).toEqual([]);
  if (gpu.hasSubgroups()) {
    expect(await rowCheckFailures(gpu, c.kernels, 'subgroup')).toEqual([]);
    expect(c.byDefault(gpu)[0]!.pipeline).toBe(pipelineOf(gpu, c.subgroupKernel));
    return;
  }
  console.log(`[webgrad test] ${c.shader} numerics NOT run in Node: ${gpu.describe()} offers no subgroups (the browser kernel checks run them on SwiftShader)`);
  expect(() => c.forced(gpu)).toThrow(SUBGROUP_REFUSAL);
  expect(c.byDefault(gpu)[0]!.pipeline).toBe(pipelineOf(gpu, c.invocationKernel));
  gpu.device.pushErrorScope('validation');
  const module = gpu.device.createShaderModule({ code: shaderSource(c.shader) });
  const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error').map((m) => m.message);
  const scoped = await gpu.device.popErrorScope();
  expect(messages.join('\n')).toMatch(/subgroups/);
  expect(scoped?.message).toMatch(/subgroups/);
}

/** On Dawn's null backend: the forced and the default launch both build the subgroup pipeline, with no validation error. */
export async function expectSubgroupVariantBuilds(c: SubgroupVariantCase): Promise<void> {
  const gpu = await createGpu({ backend: 'null' });
  try {
    expect(gpu.hasSubgroups()).toBe(true);
    gpu.device.pushErrorScope('validation');
    const forced = c.forced(gpu), byDefault = c.byDefault(gpu);
    const error = await gpu.device.popErrorScope();
    expect(error?.message ?? 'no error').toBe('no error');
    expect(forced[0]!.pipeline).toBe(pipelineOf(gpu, c.subgroupKernel));
    expect(byDefault[0]!.pipeline).toBe(pipelineOf(gpu, c.subgroupKernel));
    gpu.check();
  } finally {
    gpu.destroy();
  }
}
