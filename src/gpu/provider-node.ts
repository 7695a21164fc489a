// Node edge of the device layer: Dawn through the `webgpu` package. Only reachable via the
// `#gpu-provider` import map, so a browser bundle never sees this file.
import { create, globals } from 'webgpu';
import { filterDawnNotices } from './dawn-notices.ts';

export type BackendChoice = 'auto' | 'vulkan' | 'opengl' | 'metal' | 'd3d12' | 'null';
const BACKENDS: readonly BackendChoice[] = ['auto', 'vulkan', 'opengl', 'metal', 'd3d12', 'null'];

export interface ProviderResult {
  adapter: GPUAdapter | null;
  backend: string;
  /** Kept alive with the device: Dawn tears the instance down when it is collected. */
  instance: unknown;
  hint: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe/i;

export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  return info.isFallbackAdapter || info.architecture === 'software' ||
    SOFTWARE_ADAPTER.test(`${info.device} ${info.description}`);
}

export function backendFromEnv(): BackendChoice {
  const raw = (globalThis.process?.env.WEBGRAD_BACKEND ?? 'auto').toLowerCase();
  if (!(BACKENDS as readonly string[]).includes(raw)) {
    throw new Error(`WEBGRAD_BACKEND=${raw} is not a backend webgrad knows; use one of ${BACKENDS.join(', ')}`);
  }
  return raw as BackendChoice;
}

function installGlobals(): void {
  // GPUBufferUsage and friends are browser globals; Dawn ships them as plain objects.
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
}

async function openGl(): Promise<ProviderResult> {
  // EGL reads this when Dawn first opens a display; surfaceless needs no X or Wayland server.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const instance = create(['backend=opengl']);
  const adapter = await filterDawnNotices(() => instance.requestAdapter({ featureLevel: 'compatibility' }));
  return { adapter, backend: 'opengl', instance, hint: GL_HINT };
}

async function native(backend: string, flags: string[]): Promise<ProviderResult> {
  const instance = create(flags);
  const adapter = await filterDawnNotices(() => instance.requestAdapter({ powerPreference: 'high-performance' }));
  return { adapter, backend, instance, hint: GL_HINT };
}

const GL_HINT = 'On Debian/Ubuntu without a GPU run `bash scripts/setup-gpu.sh` (installs Mesa\'s EGL/GL ' +
  'software stack: libegl1 libegl-mesa0 libgl1-mesa-dri from bookworm-backports); with a GPU, install its ' +
  'Vulkan driver. WEBGRAD_BACKEND=opengl|vulkan|metal|d3d12 forces a backend.';

/**
 * Picks the adapter: a hardware one from the platform's native API when there is one, otherwise
 * Mesa's llvmpipe through OpenGL. Software Vulkan (lavapipe, SwiftShader) is never used by default:
 * dawn.node crashes in ProcessEvents on it when optimized JavaScript runs between submissions.
 */
export async function requestAdapter(choice: BackendChoice = backendFromEnv()): Promise<ProviderResult> {
  installGlobals();
  if (choice === 'opengl') return openGl();
  if (choice === 'null') return native('null', ['backend=null']);
  if (choice !== 'auto') return native(choice, [`backend=${choice}`]);
  const nativeResult = await native(process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan', []);
  if (nativeResult.adapter && !isSoftwareAdapter(nativeResult.adapter.info)) return nativeResult;
  if (process.platform === 'linux') {
    const gl = await openGl();
    if (gl.adapter) return gl;
  }
  return nativeResult.adapter ? nativeResult : { ...nativeResult, adapter: null };
}
