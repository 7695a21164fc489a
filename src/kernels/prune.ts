// Keeping pruned weights at zero during a recovery fine-tune: one masking dispatch per pruned tensor.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

/** A keep-mask as bits (bit i of word i/32 set = weight i kept), the layout applyMask reads. */
export function packMask(keep: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.max(1, Math.ceil(keep.length / 32)));
  for (let i = 0; i < keep.length; i++) if (keep[i]) words[i >>> 5]! |= 1 << (i & 31);
  return words;
}

export function applyMask(gpu: Gpu, io: { weight: BufferRef; mask: BufferRef; count: number; label?: string }): Dispatch[] {
  return [kernel(gpu, 'prune', 'applyMask').dispatch({ weight: io.weight, mask: io.mask, params: { count: io.count } },
    grid1d(gpu, io.count, 256), io.label ?? 'prune.applyMask')];
}
