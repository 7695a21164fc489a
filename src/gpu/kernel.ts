// Kernels: a compute pipeline per (shader, entry point, override constants), created once per Gpu,
// with its bind-group layout derived from the WGSL. Binding is by the WGSL variable names.
import type { Gpu } from './device.ts';
import { entryInfo, shaderSource, type EntryInfo } from './reflect.ts';

export type Workgroups = readonly [number, number, number];

/** One recorded compute dispatch; everything in it was created at compile time. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: Workgroups;
}

export type UniformValues = Record<string, number>;
/** A whole buffer, or a range of one (a planned tensor inside a shared buffer). */
export type BufferRef = GPUBuffer | GPUBufferBinding;
export type Resource = BufferRef | UniformValues;

/** Bytes a buffer reference binds: the whole buffer, or the binding's range. */
export function bindingBytes(ref: BufferRef): number {
  if ('buffer' in ref) return ref.size ?? ref.buffer.size - (ref.offset ?? 0);
  return ref.size;
}

/** Whether a reference can be bound as array<vec4f> of `count` floats: whole vec4s, starting on one. */
export function holdsVec4s(ref: BufferRef, count: number): boolean {
  const offset = 'buffer' in ref ? ref.offset ?? 0 : 0;
  return count % 4 === 0 && offset % 16 === 0 && bindingBytes(ref) % 16 === 0;
}

function isBuffer(value: Resource): value is GPUBuffer {
  return typeof (value as GPUBuffer).mapAsync === 'function';
}

function isBinding(value: Resource): value is GPUBufferBinding {
  return typeof (value as GPUBufferBinding).buffer === 'object' && !isBuffer(value);
}

export class Kernel {
  readonly info: EntryInfo;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly label: string;
  private readonly gpu: Gpu;

  constructor(gpu: Gpu, shader: string, entry: string, constants: Record<string, number>) {
    this.gpu = gpu;
    this.info = entryInfo(shader, entry);
    const suffix = Object.entries(constants).map(([k, v]) => `${k}=${v}`).join(',');
    this.label = `${shader}.${entry}${suffix ? `[${suffix}]` : ''}`;
    const device = gpu.device;
    this.layout = device.createBindGroupLayout({
      label: this.label,
      entries: this.info.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.kind },
      })),
    });
    this.pipeline = device.createComputePipeline({
      label: this.label,
      layout: device.createPipelineLayout({ bindGroupLayouts: [this.layout] }),
      compute: { module: shaderModule(gpu, shader), entryPoint: entry, constants },
    });
  }

  /** A uniform buffer holding `values`, laid out by the WGSL struct of binding `name`. */
  uniform(name: string, values: UniformValues): GPUBuffer {
    const binding = this.info.bindings.find((b) => b.name === name && b.kind === 'uniform');
    if (!binding?.fields || binding.size === undefined) throw new Error(`${this.label}: no uniform binding named "${name}"`);
    const data = new ArrayBuffer(Math.max(16, Math.ceil(binding.size / 16) * 16));
    const view = new DataView(data);
    const unknown = Object.keys(values).filter((k) => !binding.fields!.some((f) => f.name === k));
    if (unknown.length) throw new Error(`${this.label}: uniform ${name} has no field(s) ${unknown.join(', ')}`);
    for (const field of binding.fields) {
      const value = values[field.name];
      if (value === undefined || !Number.isFinite(value)) throw new Error(`${this.label}: uniform ${name}.${field.name} needs a finite value, got ${value}`);
      if (field.type === 'f32') view.setFloat32(field.offset, value, true);
      else if (field.type === 'u32') view.setUint32(field.offset, value, true);
      else view.setInt32(field.offset, value, true);
    }
    const buffer = this.gpu.createBuffer({ label: `${this.label}.${name}`, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.gpu.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  /** Binds resources by WGSL name; plain objects for uniform bindings become uniform buffers. */
  bind(resources: Record<string, Resource>): GPUBindGroup {
    const expected = this.info.bindings.map((b) => b.name);
    const missing = expected.filter((n) => !(n in resources));
    const unexpected = Object.keys(resources).filter((n) => !expected.includes(n));
    if (missing.length || unexpected.length) {
      throw new Error(`${this.label}: bindings do not match the shader (missing: ${missing.join(', ') || 'none'}; unexpected: ${unexpected.join(', ') || 'none'})`);
    }
    const entries = this.info.bindings.map((b): GPUBindGroupEntry => {
      const value = resources[b.name]!;
      if (isBuffer(value)) return { binding: b.binding, resource: { buffer: value } };
      if (isBinding(value)) return { binding: b.binding, resource: value };
      if (b.kind !== 'uniform') throw new Error(`${this.label}: binding ${b.name} is a storage buffer; got plain values`);
      return { binding: b.binding, resource: { buffer: this.uniform(b.name, value) } };
    });
    return this.gpu.device.createBindGroup({ label: this.label, layout: this.layout, entries });
  }

  dispatch(resources: Record<string, Resource>, workgroups: Workgroups, label = this.label): Dispatch {
    const limit = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (workgroups.some((n) => n > limit || n < 0 || !Number.isInteger(n))) {
      throw new Error(`${label}: workgroup grid ${workgroups.join('×')} exceeds this device's ${limit} per dimension`);
    }
    return { label, pipeline: this.pipeline, bindGroup: this.bind(resources), workgroups };
  }
}

export function shaderModule(gpu: Gpu, shader: string): GPUShaderModule {
  const key = `module:${shader}`;
  let module = gpu.caches.get(key) as GPUShaderModule | undefined;
  if (!module) {
    module = gpu.device.createShaderModule({ label: shader, code: shaderSource(shader) });
    gpu.caches.set(key, module);
  }
  return module;
}

/** The pipeline cache: one Kernel per (shader, entry, constants) for the life of the Gpu. */
export function kernel(gpu: Gpu, shader: string, entry = 'main', constants: Record<string, number> = {}): Kernel {
  const key = `kernel:${shader}:${entry}:${JSON.stringify(Object.entries(constants).sort())}`;
  let cached = gpu.caches.get(key) as Kernel | undefined;
  if (!cached) {
    cached = new Kernel(gpu, shader, entry, constants);
    gpu.caches.set(key, cached);
  }
  return cached;
}

/**
 * A 1-D launch of `count` invocations in workgroups of `size`, folded into y when it exceeds the
 * per-dimension limit. Kernels recover the linear index as gid.x + gid.y * num_workgroups.x * size.
 */
export function grid1d(gpu: Gpu, count: number, size: number): Workgroups {
  const groups = Math.max(1, Math.ceil(count / size));
  const limit = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= limit) return [groups, 1, 1];
  const y = Math.ceil(groups / limit);
  return [Math.ceil(groups / y), y, 1];
}

/** Records dispatches into one compute pass: ordering within a pass makes each see the last's writes. */
export function encodeDispatches(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[], label = 'webgrad'): void {
  if (dispatches.length === 0) return;
  const pass = encoder.beginComputePass({ label });
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
  pass.end();
}
