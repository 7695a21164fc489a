// GELU, tanh approximation (GPT-2's): forward from x, backward from x and dy.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, holdsVec4s, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

const WORKGROUP_SIZE = 256;

/** WGSL binding names for `refs`, with the vec4 views' suffix when every buffer holds whole vec4s. */
function viewsFor(refs: Record<string, BufferRef>, count: number): { vec4: boolean; bindings: Record<string, BufferRef>; count: number } {
  const vec4 = Object.values(refs).every((ref) => holdsVec4s(ref, count));
  const bindings = Object.fromEntries(Object.entries(refs).map(([name, ref]) => [vec4 ? `${name}4` : name, ref]));
  return { vec4, bindings, count: vec4 ? count / 4 : count };
}

export function geluForward(gpu: Gpu, io: { x: BufferRef; y: BufferRef; count: number }): Dispatch[] {
  const { vec4, bindings, count } = viewsFor({ x: io.x, y: io.y }, io.count);
  const k = kernel(gpu, 'gelu', vec4 ? 'forward4' : 'forward');
  return [k.dispatch({ ...bindings, params: { count } }, grid1d(gpu, count, WORKGROUP_SIZE), 'geluForward')];
}

/** dx = dy · GELU′(x). */
export function geluBackward(gpu: Gpu, io: { x: BufferRef; dy: BufferRef; dx: BufferRef; count: number }): Dispatch[] {
  const { vec4, bindings, count } = viewsFor({ x: io.x, dy: io.dy, dx: io.dx }, io.count);
  const k = kernel(gpu, 'gelu', vec4 ? 'backward4' : 'backward');
  return [k.dispatch({ ...bindings, params: { count } }, grid1d(gpu, count, WORKGROUP_SIZE), 'geluBackward')];
}
