// TensorFlow.js's WebGPU backend in Node, on the same Dawn OpenGL adapter webgrad uses, so a
// benchmark can run both side by side in one process. Shared by every bench/*.ts that compares.
import { create, globals } from 'webgpu';
import type * as TfCore from '@tensorflow/tfjs-core';

export type Tf = typeof TfCore;

export interface TfjsWebgpu {
  tf: Tf;
  /** The adapter TF.js ended up on, in gpu.describe()'s vendor/device terms. */
  adapter: string;
}

let loaded: Promise<TfjsWebgpu> | undefined;

/**
 * Loads TF.js with its WebGPU backend active. TF.js registers the backend at import time only when
 * navigator.gpu exists, so the Dawn instance is installed first. Dawn offers its OpenGL adapter
 * only in WebGPU compatibility mode, and TF.js requests adapters without a featureLevel, so
 * requestAdapter is wrapped to ask for 'compatibility' (the workaround; TF.js's kernels run
 * unchanged under it).
 */
export function tfjsWebgpu(): Promise<TfjsWebgpu> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<TfjsWebgpu> {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  const instance = create(['backend=opengl']);
  const requestAdapter = instance.requestAdapter.bind(instance);
  const gpu = Object.assign(Object.create(instance) as GPU, {
    requestAdapter: (options?: GPURequestAdapterOptions) => requestAdapter({ ...options, featureLevel: 'compatibility' }),
  });
  // Node ≥ 21 has a read-only navigator; define rather than assign, keeping what is there.
  const navigator = (globalThis as { navigator?: object }).navigator ?? {};
  Object.defineProperty(globalThis, 'navigator', { value: Object.assign(Object.create(navigator) as object, { gpu }), configurable: true, writable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend on the Dawn OpenGL adapter');
  await tf.ready();
  const adapter = await requestAdapter({ featureLevel: 'compatibility' });
  const info = adapter?.info;
  return { tf, adapter: info ? [info.vendor, info.architecture, info.device, `— ${info.description}`].filter(Boolean).join(' ') : 'unknown' };
}

/**
 * Best milliseconds per call of `op` over `runs` timed rounds of `repeats` calls each, after a
 * warm-up round (shader compilation). Each round ends by awaiting the last result's data, which
 * waits for all queued GPU work; that one readback is spread over the round's calls.
 */
export async function timeTfjs(op: () => TfCore.Tensor, repeats: number, runs = 3): Promise<number> {
  let best = Infinity;
  for (let round = 0; round <= runs; round++) {
    const start = performance.now();
    let last: TfCore.Tensor | undefined;
    for (let i = 0; i < repeats; i++) {
      last?.dispose();
      last = op();
    }
    await last!.data();
    last!.dispose();
    if (round > 0) best = Math.min(best, (performance.now() - start) / repeats);
  }
  return best;
}
