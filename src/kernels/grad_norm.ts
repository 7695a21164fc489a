// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_ semantics) over any number of
// tensors: one partial-sum dispatch per tensor, then one dispatch that writes clip = [scale, norm].
// The optimizer kernels multiply every gradient by clip[0], so nothing is rescaled in place.
import type { Gpu } from '../gpu/device.ts';
import { kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';

const WORKGROUP_SIZE = 64;
/** Workgroups (and so partial sums) per tensor at most: enough to keep every core busy on big tensors. */
const PARTIALS_PER_TENSOR = 64;

/** Bytes of `scratch` clipGradNorm needs for `tensors` gradient tensors. */
export function clipGradNormScratchBytes(tensors: number): number {
  return Math.max(1, tensors * PARTIALS_PER_TENSOR) * 4;
}

/**
 * Writes clip[0] = min(1, maxNorm / (‖g‖₂ + 1e-6)) and clip[1] = ‖g‖₂ over all `grads` together;
 * maxNorm = Infinity computes the norm for logging and leaves the scale at 1.
 */
export function clipGradNorm(gpu: Gpu, io: { grads: { buffer: BufferRef; count: number }[]; maxNorm: number; scratch: BufferRef; clip: BufferRef }): Dispatch[] {
  if (!(io.maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0 (Infinity turns clipping off), got ${io.maxNorm}`);
  const partialKernel = kernel(gpu, 'grad_norm', 'partial_sums');
  const dispatches: Dispatch[] = [];
  let partials = 0;
  for (const [t, g] of io.grads.entries()) {
    if (!Number.isInteger(g.count) || g.count < 1) throw new Error(`clipGradNorm: gradient ${t} has count ${g.count}; expected a positive integer`);
    const groups = Math.min(PARTIALS_PER_TENSOR, Math.ceil(g.count / WORKGROUP_SIZE));
    dispatches.push(partialKernel.dispatch(
      { grad: g.buffer, scratch: io.scratch, partial_params: { count: g.count, first_partial: partials } },
      [groups, 1, 1], `clipGradNorm.partials[${t}]`,
    ));
    partials += groups;
  }
  const clipping = Number.isFinite(io.maxNorm);
  dispatches.push(kernel(gpu, 'grad_norm', 'finish').dispatch(
    { scratch: io.scratch, clip: io.clip, finish_params: { partials, max_norm: clipping ? io.maxNorm : 0, clipping: clipping ? 1 : 0 } },
    [1, 1, 1], 'clipGradNorm.finish',
  ));
  return dispatches;
}
