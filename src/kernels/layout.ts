// Row-moving layout changes (shaders/layout.wgsl).
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

const WORKGROUP_SIZE = 64;
/** Words of a row one workgroup of swapOuterAxes moves (ROW_SPAN in shaders/layout.wgsl). */
const ROW_SPAN = 1024;

export interface SwapOuterAxesIO {
  src: BufferRef;
  dst: BufferRef;
  outer: number;
  inner: number;
  /** Elements per row, the axis that stays innermost. */
  width: number;
  /** Element of src where the [outer][inner][width] block starts; default 0. */
  offset?: number;
}

/** src [outer][inner][width] → dst [inner][outer][width]. */
export function swapOuterAxes(gpu: Gpu, io: SwapOuterAxesIO, label = 'swapOuterAxes'): Dispatch {
  const params = { outer: io.outer, inner: io.inner, width: io.width, offset: io.offset ?? 0, srcStride: 0, dstStride: 0, dstOffset: 0 };
  const limit = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (io.width >= WORKGROUP_SIZE / 2 && io.outer <= limit && io.inner <= limit) {
    return kernel(gpu, 'layout', 'swapOuterAxes').dispatch({ src: io.src, dst: io.dst, params },
      [Math.ceil(io.width / ROW_SPAN), io.outer, io.inner], label);
  }
  return kernel(gpu, 'layout', 'swapOuterAxesNarrow').dispatch({ src: io.src, dst: io.dst, params },
    grid1d(gpu, io.outer * io.inner * io.width, WORKGROUP_SIZE), label);
}

export interface CopyBlocksIO {
  src: BufferRef;
  dst: BufferRef;
  /** Rows to move. */
  outer: number;
  /** Words per row. */
  width: number;
  srcStride: number;
  srcOffset: number;
  dstStride: number;
  dstOffset: number;
}

/** dst[dstOffset + o·dstStride + e] = src[srcOffset + o·srcStride + e] for o < outer, e < width. */
export function copyBlocks(gpu: Gpu, io: CopyBlocksIO, label = 'copyBlocks'): Dispatch[] {
  const params = { outer: io.outer, inner: 1, width: io.width, offset: io.srcOffset, srcStride: io.srcStride, dstStride: io.dstStride, dstOffset: io.dstOffset };
  return [kernel(gpu, 'layout', 'copyBlocks').dispatch({ src: io.src, dst: io.dst, params }, grid1d(gpu, io.outer * io.width, WORKGROUP_SIZE), label)];
}
