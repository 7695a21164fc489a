// Which kernel runs a row reduction (layer norm and softmax along the last axis, forward and
// backward, and softmax cross-entropy): one invocation per row, which every adapter can build and which llvmpipe runs
// best, or a workgroup per row joined by subgroup operations (shaders/*_subgroup.wgsl), which only
// a device with the `subgroups` feature can build. The choice is that feature check alone: no
// adapter here has both the feature and hardware worth timing the two on.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, type Workgroups } from '../gpu/kernel.ts';

export type RowVariant = 'invocation' | 'subgroup';

export const ROW_VARIANTS: readonly RowVariant[] = ['invocation', 'subgroup'];

/**
 * `forced` where given (the subgroup variant is refused, with the reason, on a device without the
 * feature), else the subgroup variant wherever the device has `subgroups`.
 */
export function rowVariant(gpu: Gpu, who: string, forced?: RowVariant): RowVariant {
  if (forced !== undefined && !ROW_VARIANTS.includes(forced)) throw new Error(`${who}: variant must be one of ${ROW_VARIANTS.join(', ')}, got ${String(forced)}`);
  if (forced === 'subgroup' && !gpu.hasSubgroups()) {
    throw new Error(`${who}: the subgroup variant needs the device feature subgroups, which ${gpu.describe()} does not offer`);
  }
  return forced ?? (gpu.hasSubgroups() ? 'subgroup' : 'invocation');
}

/** One workgroup per row, folded into y past the per-dimension limit (workgroupRow in the WGSL). */
export function workgroupPerRow(gpu: Gpu, rows: number): Workgroups {
  return grid1d(gpu, rows, 1);
}
