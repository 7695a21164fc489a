import { describe, expect, it } from 'vitest';
import { createGpu, NoAdapterError } from '../src/gpu/device.ts';
import { kernel, grid1d } from '../src/gpu/kernel.ts';
import { shaderEntries } from '../src/gpu/reflect.ts';
import { SHADER_SOURCES } from '../src/gpu/shaders.generated.ts';
import { shaderModule } from '../src/gpu/kernel.ts';
import { readFloat32, runDispatches, uploadBuffer } from '../src/gpu/buffers.ts';
import { renderShaderModule } from '../scripts/gen-shaders.ts';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { withoutLimitNotices } from '../src/gpu/dawn-notices.ts';
import { testGpu } from './helpers/gpu.ts';
import { randomArray } from './helpers/random.ts';

describe('device layer', () => {
  it('names the adapter and backend it runs on', async () => {
    const gpu = await testGpu();
    expect(gpu.adapter.backend).toMatch(/^(opengl|vulkan|metal|d3d12)$/);
    expect(gpu.describe()).toContain(gpu.adapter.backend);
    // On a machine without a GPU the library must land on Mesa's GL path, never software Vulkan.
    if (gpu.adapter.software) expect(gpu.adapter.backend).toBe('opengl');
  });

  it('requests the adapter limits rather than WebGPU defaults', async () => {
    const gpu = await testGpu();
    // WebGPU's default is 128 MiB for storage bindings and 8 storage buffers per stage.
    expect(gpu.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(gpu.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  });

  it('turns on subgroups wherever the adapter offers them', async () => {
    // Dawn's null adapter offers subgroups (llvmpipe through OpenGL offers no optional feature).
    const gpu = await createGpu({ backend: 'null' });
    try {
      expect(gpu.hasSubgroups()).toBe(true);
      expect(gpu.device.features.has('subgroups')).toBe(true);
    } finally {
      gpu.destroy();
    }
  });

  it('gives one clear error when no adapter exists', async () => {
    const other = process.platform === 'darwin' ? 'd3d12' : 'metal';
    await expect(createGpu({ backend: other })).rejects.toThrow(NoAdapterError);
    await expect(createGpu({ backend: other })).rejects.toThrow(/no WebGPU adapter \(backend: metal|d3d12\).*setup-gpu\.sh/);
  });

  it('explains a browser without navigator.gpu', async () => {
    const browser = await import('../src/gpu/provider-browser.ts');
    const result = await browser.requestAdapter();
    expect(result.adapter).toBeNull();
    expect(result.hint).toMatch(/no navigator\.gpu.*--enable-unsafe-webgpu/);
  });

  it('rejects an unknown WEBGRAD_BACKEND by name', async () => {
    const { backendFromEnv } = await import('../src/gpu/provider-node.ts');
    process.env.WEBGRAD_BACKEND = 'directx9';
    try {
      expect(() => backendFromEnv()).toThrow(/WEBGRAD_BACKEND=directx9 .*opengl/);
    } finally {
      delete process.env.WEBGRAD_BACKEND;
    }
  });
});

describe('shaders', () => {
  it('the generated module matches shaders/*.wgsl', () => {
    const onDisk = readFileSync(new URL('../src/gpu/shaders.generated.ts', import.meta.url), 'utf8');
    expect(onDisk, 'run `npm run shaders`').toBe(renderShaderModule());
  });

  it.each(Object.keys(SHADER_SOURCES))('%s compiles without errors and reflects', async (name) => {
    // A shader that enables f16 or subgroups cannot compile without that feature; where this adapter
    // lacks it, Dawn's null backend (which offers both) compiles it instead.
    const needsF16 = /^enable f16;/m.test(SHADER_SOURCES[name]!);
    const needsSubgroups = /^enable subgroups;/m.test(SHADER_SOURCES[name]!);
    const shared = await testGpu();
    const lacking = (needsF16 && !shared.hasShaderF16()) || (needsSubgroups && !shared.hasSubgroups());
    const gpu = lacking ? await createGpu({ backend: 'null' }) : shared;
    const info = await shaderModule(gpu, name).getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    expect(errors).toEqual([]);
    const entries = shaderEntries(name);
    expect(entries.size).toBeGreaterThan(0);
    for (const entry of entries.values()) {
      expect(entry.bindings.length).toBeGreaterThan(0);
      kernel(gpu, name, entry.name); // the reflected layout must be accepted by the device
    }
    gpu.check();
  });

  it('axpy matches its CPU reference, including a grid folded past 65535 workgroups', async () => {
    const gpu = await testGpu();
    for (const n of [1, 17, 129, 784, 256 * 70_000 + 3]) {
      const x = randomArray(n, n), y = randomArray(n, n + 1);
      const xb = uploadBuffer(gpu, x, 'x'), yb = uploadBuffer(gpu, y, 'y');
      const k = kernel(gpu, 'axpy');
      await runDispatches(gpu, [k.dispatch({ x: xb, y: yb, params: { n, alpha: -0.5 } }, grid1d(gpu, n, 256))]);
      const got = await readFloat32(gpu, yb);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - Math.fround(-0.5 * x[i]! + y[i]!)));
      // One fused multiply-add of values in [-1, 1]: at most one rounding apart.
      expect(worst, `n=${n}`).toBeLessThanOrEqual(2 ** -23);
      gpu.destroyBuffer(xb); gpu.destroyBuffer(yb);
    }
  });

  it('binding names are checked against the WGSL', async () => {
    const gpu = await testGpu();
    const x = uploadBuffer(gpu, new Float32Array(4), 'x');
    expect(() => kernel(gpu, 'axpy').dispatch({ x, params: { n: 4, alpha: 1 } }, [1, 1, 1])).toThrow(/missing: y/);
    expect(() => kernel(gpu, 'axpy').dispatch({ x, y: x, z: x, params: { n: 4, alpha: 1 } }, [1, 1, 1])).toThrow(/unexpected: z/);
    expect(() => kernel(gpu, 'axpy').uniform('params', { n: 4 })).toThrow(/params\.alpha needs a finite value/);
    gpu.destroyBuffer(x);
  });
});

describe('stability of the chosen backend', () => {
  // dawn.node on software Vulkan aborts in ProcessEvents when optimized JS runs between submits
  // (../shared/repro/dawn-vulkan-crash.mjs). The backend the library picks must survive the pattern.
  it('survives 300 submissions with a hot JavaScript loop between them', async () => {
    const gpu = await testGpu();
    const n = 1 << 18;
    const y = uploadBuffer(gpu, new Float32Array(n), 'y');
    const x = uploadBuffer(gpu, new Float32Array(n).fill(1), 'x');
    const step = kernel(gpu, 'axpy').dispatch({ x, y, params: { n, alpha: 1 } }, grid1d(gpu, n, 256));
    const bytes = new Uint8Array(784 * 64).fill(7);
    const floats = new Float32Array(bytes.length);
    for (let round = 0; round < 300; round++) {
      await runDispatches(gpu, [step]);
      for (let k = 0; k < bytes.length; k++) floats[k] = bytes[k]! / 255;
    }
    const got = await readFloat32(gpu, y, 4);
    expect(Array.from(got)).toEqual([300, 300, 300, 300]);
    expect(floats[0]).toBeCloseTo(7 / 255, 6);
    gpu.destroyBuffer(x); gpu.destroyBuffer(y);
  });
});

describe("Dawn's start-up notices", () => {
  const root = new URL('..', import.meta.url).pathname;
  const NOTICE = /artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit/;
  // Each probe is its own process with stderr on a shell pipe, as a terminal user or a `| tee` sees it
  // (Node's own child pipes are sockets, which cannot be reopened, so the filter leaves them alone).
  const probe = (source: string) => {
    const run = spawnSync('bash', ['-o', 'pipefail', '-c', '"$0" --import tsx --input-type=module -e "$1" 2>&1 | cat', process.execPath, source], {
      cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, EGL_PLATFORM: 'surfaceless' },
    });
    return { code: run.status, output: run.stdout };
  };

  it('Dawn itself prints them when an adapter is requested', () => {
    const raw = probe(`import { create } from 'webgpu';
      await create([]).requestAdapter();
      await create(['backend=opengl']).requestAdapter({ featureLevel: 'compatibility' });`);
    expect(raw.code).toBe(0);
    expect(raw.output).toMatch(NOTICE);
  });

  it('createGpu keeps them out of the output', () => {
    const quiet = probe(`import { createGpu } from './src/gpu/device.ts';
      const gpu = await createGpu(); console.log(gpu.describe()); gpu.destroy();`);
    expect(quiet.code).toBe(0);
    expect(quiet.output).toMatch(/backend: /);
    expect(quiet.output).not.toMatch(NOTICE);
  });

  it('anything else written to stderr during the call still arrives, and stderr works afterwards', () => {
    const run = probe(`import { writeSync } from 'node:fs';
      import { filterDawnNotices } from './src/gpu/dawn-notices.ts';
      const notice = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.';
      const value = filterDawnNotices(() => { writeSync(2, notice + '\\nError: a real one\\n'); return 7; });
      try { filterDawnNotices(() => { throw new Error('thrown inside'); }); } catch (error) { console.error('caught', error.message); }
      console.error('after', value);`);
    expect(run.code).toBe(0);
    expect(run.output).toBe('Error: a real one\ncaught thrown inside\nafter 7\n');
  });

  it('the filter drops exactly the two clamping notices', () => {
    const text = [
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Warning: maxStorageBuffersPerShaderStage artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'Error: device lost',
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.',
      '',
    ].join('\n');
    expect(withoutLimitNotices(text)).toBe(
      'Warning: maxStorageBuffersPerShaderStage artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\nError: device lost\n');
  });
});
