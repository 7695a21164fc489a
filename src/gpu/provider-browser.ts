// Browser edge of the device layer: navigator.gpu. Chosen by the `browser` condition of `#gpu-provider`.
export type BackendChoice = 'auto';

export interface ProviderResult {
  adapter: GPUAdapter | null;
  backend: string;
  instance: unknown;
  hint: string;
}

const BROWSER_HINT = 'Use a browser with WebGPU: Chrome/Edge 113+ (on Linux start it with ' +
  '--enable-unsafe-webgpu, or --use-webgpu-adapter=swiftshader for a software adapter), Safari 26+, or ' +
  'Firefox 141+ (Windows) / Nightly with dom.webgpu.enabled.';

export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  // SwiftShader names itself only in `architecture` in Chromium.
  return info.isFallbackAdapter || /swiftshader|llvmpipe/i.test(`${info.architecture} ${info.device} ${info.description}`);
}

export function backendFromEnv(): BackendChoice {
  return 'auto';
}

export async function requestAdapter(): Promise<ProviderResult> {
  const gpu = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  if (!gpu) return { adapter: null, backend: 'none', instance: null, hint: `This browser exposes no navigator.gpu. ${BROWSER_HINT}` };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return { adapter, backend: 'browser', instance: gpu, hint: BROWSER_HINT };
}
