// What each WGSL entry point binds, read from the WGSL itself by wgsl_reflect: the single source of
// bind-group layouts and uniform struct layouts, so no binding table is written by hand.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { SHADER_SOURCES } from './shaders.generated.ts';

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformField { name: string; offset: number; type: ScalarType }

export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'storage' | 'read-only-storage';
  /** For uniforms: the struct's fields and byte size. */
  fields?: UniformField[];
  size?: number;
}

export interface EntryInfo {
  shader: string;
  name: string;
  workgroupSize: [number, number, number];
  bindings: BindingInfo[];
}

const reflected = new Map<string, Map<string, EntryInfo>>();

export function shaderSource(shader: string): string {
  const source = SHADER_SOURCES[shader];
  if (source === undefined) {
    throw new Error(`no shader named "${shader}" in shaders/ (known: ${Object.keys(SHADER_SOURCES).join(', ')}); run \`npm run shaders\` after adding one`);
  }
  return source;
}

export function shaderEntries(shader: string): Map<string, EntryInfo> {
  const cached = reflected.get(shader);
  if (cached) return cached;
  const reflect = new WgslReflect(shaderSource(shader));
  const entries = new Map<string, EntryInfo>();
  for (const fn of reflect.entry.compute) {
    const bindings: BindingInfo[] = fn.resources.map((r) => {
      if (r.group !== 0) throw new Error(`shaders/${shader}.wgsl: ${r.name} uses @group(${r.group}); webgrad kernels bind group 0 only`);
      if (r.resourceType === 0) {
        const type = r.type as unknown as { size: number; members?: { name: string; offset: number; type: { name: string } }[] };
        const fields = (type.members ?? []).map((m) => {
          if (!['u32', 'i32', 'f32'].includes(m.type.name)) {
            throw new Error(`shaders/${shader}.wgsl: uniform ${r.name}.${m.name} is ${m.type.name}; uniform params must be u32/i32/f32 scalars`);
          }
          return { name: m.name, offset: m.offset, type: m.type.name as ScalarType };
        });
        return { name: r.name, binding: r.binding, kind: 'uniform' as const, fields, size: type.size };
      }
      if (r.resourceType !== 1) throw new Error(`shaders/${shader}.wgsl: ${r.name} is neither a uniform nor a storage buffer`);
      return { name: r.name, binding: r.binding, kind: r.access === 'read' ? 'read-only-storage' as const : 'storage' as const };
    });
    bindings.sort((a, b) => a.binding - b.binding);
    const size = fn.workgroupSize ?? [1, 1, 1];
    entries.set(fn.name, { shader, name: fn.name, workgroupSize: [size[0] ?? 1, size[1] ?? 1, size[2] ?? 1], bindings });
  }
  reflected.set(shader, entries);
  return entries;
}

export function entryInfo(shader: string, entry: string): EntryInfo {
  const info = shaderEntries(shader).get(entry);
  if (!info) throw new Error(`shaders/${shader}.wgsl has no compute entry point "${entry}" (has: ${[...shaderEntries(shader).keys()].join(', ')})`);
  return info;
}
