// One ready GPUDevice for Node (Dawn) and browsers. The platform edge is picked by the
// `#gpu-provider` import map; everything past requestAdapter() is shared code.
import { requestAdapter, isSoftwareAdapter, type BackendChoice } from '#gpu-provider';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  software: boolean;
  /** The adapter's range of subgroup sizes, where it reports one (the kernels learn the size at run time). */
  subgroupSizes?: { min: number; max: number };
}

export interface GpuOptions {
  /** Overrides WEBGRAD_BACKEND in Node; ignored in browsers. */
  backend?: BackendChoice;
}

/** Limits webgrad asks for at the adapter's own maximum instead of WebGPU's defaults. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize', 'maxBindingsPerBindGroup',
] as const;

/** Features webgrad turns on wherever the adapter offers them; kernels that need one check the device. */
const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['shader-f16', 'subgroups'];

export class DeviceLostError extends Error {}

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  readonly limits: GPUSupportedLimits;
  /** Per-Gpu caches (pipelines, layouts), keyed by their owners. */
  readonly caches = new Map<string, unknown>();
  private failure: Error | null = null;
  private readonly lost: Promise<never>;
  private liveBuffers = new Map<GPUBuffer, number>();
  // Held so Dawn's instance outlives the device it created.
  private readonly instance: unknown;

  constructor(device: GPUDevice, adapter: AdapterSummary, instance: unknown) {
    this.device = device;
    this.adapter = adapter;
    this.limits = device.limits;
    this.instance = instance;
    this.lost = device.lost.then((info) => {
      const error = new DeviceLostError(`WebGPU device lost (${info.reason}): ${info.message || 'no message'}`);
      this.failure ??= error;
      throw error;
    });
    this.lost.catch(() => undefined);
    device.onuncapturederror = (event: GPUUncapturedErrorEvent) => {
      this.failure ??= new Error(`WebGPU error: ${event.error.message}`);
    };
  }

  /** Throws the first device loss or uncaptured validation error seen so far. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Awaits `work` unless the device is lost first: a lost device never becomes a silent hang. */
  async guard<T>(work: Promise<T>): Promise<T> {
    this.check();
    const result = await Promise.race([work, this.lost]);
    this.check();
    return result;
  }

  createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
    this.check();
    const buffer = this.device.createBuffer(descriptor);
    this.liveBuffers.set(buffer, descriptor.size);
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    this.liveBuffers.delete(buffer);
    buffer.destroy();
  }

  /** Count and bytes of buffers created through this Gpu and not yet destroyed. */
  memory(): { buffers: number; bytes: number } {
    let bytes = 0;
    for (const size of this.liveBuffers.values()) bytes += size;
    return { buffers: this.liveBuffers.size, bytes };
  }

  /** The WGSL language features of the GPU instance (navigator.gpu or Dawn's), e.g. packed_4x8_integer_dot_product. */
  wgslLanguageFeatures(): ReadonlySet<string> {
    return (this.instance as { wgslLanguageFeatures?: ReadonlySet<string> } | null)?.wgslLanguageFeatures ?? new Set();
  }

  /** Whether WGSL may `enable f16;` on this device (f16 arithmetic and storage). */
  hasShaderF16(): boolean {
    return this.device.features.has('shader-f16');
  }

  /** Whether WGSL may `enable subgroups;` (subgroupAdd, subgroupMax, … and the subgroup_size builtin). */
  hasSubgroups(): boolean {
    return this.device.features.has('subgroups');
  }

  describe(): string {
    const a = this.adapter;
    const name = [a.vendor, a.architecture, a.device].filter(Boolean).join(' ');
    return `${name || 'unknown adapter'} — ${a.description || 'no description'} [backend: ${a.backend}${a.software ? ', software' : ''}]`;
  }

  destroy(): void {
    for (const buffer of this.liveBuffers.keys()) buffer.destroy();
    this.liveBuffers.clear();
    this.device.destroy();
  }
}

export class NoAdapterError extends Error {}

export async function createGpu(options: GpuOptions = {}): Promise<Gpu> {
  const found = await requestAdapter(options.backend as never);
  if (!found.adapter) {
    throw new NoAdapterError(`webgrad found no WebGPU adapter (backend: ${found.backend}). ${found.hint}`);
  }
  const adapter = found.adapter;
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((name) => adapter.features.has(name));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webgrad' });
  const info = adapter.info;
  const summary: AdapterSummary = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend: found.backend,
    software: isSoftwareAdapter(info),
    ...(info.subgroupMinSize && info.subgroupMaxSize ? { subgroupSizes: { min: info.subgroupMinSize, max: info.subgroupMaxSize } } : {}),
  };
  return new Gpu(device, summary, found.instance);
}
