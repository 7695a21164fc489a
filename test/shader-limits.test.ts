// Every WGSL entry point must fit WebGPU's guaranteed default limits, so each kernel runs on any
// adapter (browsers and GPUs that grant only the defaults), not just on ones that raise them.
import { describe, expect, it } from 'vitest';
import { shaderEntries, type EntryInfo } from '../src/gpu/reflect.ts';
import { SHADER_SOURCES } from '../src/gpu/shaders.generated.ts';

/** WebGPU's default (guaranteed) limits for what one compute entry point binds and launches. */
const DEFAULT_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxUniformBuffersPerShaderStage: 12,
  maxBindingsPerBindGroup: 1000,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
} as const;

type LimitName = keyof typeof DEFAULT_LIMITS;

function usage(entry: EntryInfo): Record<LimitName, number> {
  const [x, y, z] = entry.workgroupSize;
  return {
    maxStorageBuffersPerShaderStage: entry.bindings.filter((b) => b.kind !== 'uniform').length,
    maxUniformBuffersPerShaderStage: entry.bindings.filter((b) => b.kind === 'uniform').length,
    // Binding numbers must stay below the per-group limit (webgrad binds group 0 only).
    maxBindingsPerBindGroup: Math.max(0, ...entry.bindings.map((b) => b.binding + 1)),
    maxComputeInvocationsPerWorkgroup: x * y * z,
    maxComputeWorkgroupSizeX: x,
    maxComputeWorkgroupSizeY: y,
    maxComputeWorkgroupSizeZ: z,
  };
}

function allEntries(): EntryInfo[] {
  return Object.keys(SHADER_SOURCES).flatMap((shader) => [...shaderEntries(shader).values()]);
}

describe('shader limits', () => {
  it('reflects every shader in shaders/', () => {
    const entries = allEntries();
    expect(new Set(entries.map((e) => e.shader))).toEqual(new Set(Object.keys(SHADER_SOURCES)));
    expect(entries.every((e) => e.bindings.length > 0)).toBe(true);
  });

  it('keeps every entry point within WebGPU default limits', () => {
    const over: string[] = [];
    for (const entry of allEntries()) {
      const used = usage(entry);
      for (const name of Object.keys(DEFAULT_LIMITS) as LimitName[]) {
        if (used[name] > DEFAULT_LIMITS[name]) {
          over.push(`shaders/${entry.shader}.wgsl ${entry.name}: ${name} ${used[name]} > ${DEFAULT_LIMITS[name]}`);
        }
      }
    }
    expect(over).toEqual([]);
  });
});
