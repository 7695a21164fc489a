// Launchers for torch.gather along one axis (shaders/gather_axis.wgsl) and its gradient.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

const WORKGROUP_SIZE = 64;

/** x is [outer, n, inner]; the indices and the output are [outer, k, inner]. */
export interface GatherAxisShape { outer: number; n: number; k: number; inner: number }

function checked(s: GatherAxisShape, label: string): Record<string, number> {
  if (![s.outer, s.n, s.k, s.inner].every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`${label}: sizes must be positive integers, got outer ${s.outer}, n ${s.n}, k ${s.k}, inner ${s.inner}`);
  return { outer: s.outer, n: s.n, k: s.k, inner: s.inner };
}

/** out[o, j, i] = x[o, indices[o, j, i], i]; an index ≥ n gives 0. */
export function gatherAxis(gpu: Gpu, s: GatherAxisShape, io: { x: BufferRef; indices: BufferRef; out: BufferRef }): Dispatch[] {
  const params = checked(s, 'gatherAxis');
  return [kernel(gpu, 'gather_axis', 'gatherAxis').dispatch({ x: io.x, indices: io.indices, out: io.out, params }, grid1d(gpu, s.outer * s.k * s.inner, WORKGROUP_SIZE), 'gatherAxis')];
}

/** u32 words of scratch gatherAxisBackward needs: each column's bucket ends and its picks sorted by index. */
export function gatherAxisScratchWords(s: GatherAxisShape): number {
  return s.outer * s.inner * (s.n + s.k);
}

/**
 * dx[o, r, i] = Σ_j dy[o, j, i] over the j whose index is r, in order of j (overwrites dx); `scratch`
 * holds gatherAxisScratchWords(s) u32s. Two dispatches: bucket the picks per column, then sum.
 */
export function gatherAxisBackward(gpu: Gpu, s: GatherAxisShape, io: { indices: BufferRef; dy: BufferRef; dx: BufferRef; scratch: BufferRef }): Dispatch[] {
  const params = checked(s, 'gatherAxisBackward');
  return [
    kernel(gpu, 'gather_axis', 'gatherAxisBucket').dispatch({ indices: io.indices, buckets: io.scratch, params }, grid1d(gpu, s.outer * s.inner, WORKGROUP_SIZE), 'gatherAxisBackward.bucket'),
    kernel(gpu, 'gather_axis', 'gatherAxisBackward').dispatch({ bucketsIn: io.scratch, dy: io.dy, dx: io.dx, params }, grid1d(gpu, s.outer * s.n * s.inner, WORKGROUP_SIZE), 'gatherAxisBackward'),
  ];
}
