// Inverted dropout. The mask is never stored: forward and backward both recompute it from
// (seed, step, stream, index) with the shared counter-based RNG, and dropoutKeeps() predicts it on
// the CPU bit for bit.
import type { Gpu } from '../gpu/device.ts';
import { grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { rngU32, rngUniform } from './rng.ts';

const WORKGROUP_SIZE = 256;

interface DropoutOptions {
  count: number;
  rate: number;
  /** u32[2] = [seed, step], rewritten by the executor before each step. */
  seed: BufferRef;
  /** Distinct per dropout layer, so layers draw independent masks. */
  stream: number;
}

function dropoutParams(o: DropoutOptions): { count: number; stream: number; rate: number; scale: number } {
  if (!(o.rate >= 0 && o.rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${o.rate}`);
  if (!Number.isInteger(o.stream) || o.stream < 0 || o.stream > 0xffffffff) throw new Error(`dropout: stream must be a u32, got ${o.stream}`);
  return { count: o.count, stream: o.stream, rate: o.rate, scale: 1 / (1 - o.rate) };
}

/** y = x / (1 − rate) where the unit is kept, 0 where it is dropped. */
export function dropoutForward(gpu: Gpu, io: DropoutOptions & { x: BufferRef; y: BufferRef }): Dispatch[] {
  const k = kernel(gpu, 'dropout', 'forward');
  return [k.dispatch({ seed: io.seed, x: io.x, y: io.y, params: dropoutParams(io) }, grid1d(gpu, io.count, WORKGROUP_SIZE), 'dropoutForward')];
}

/** dx = dy / (1 − rate) where the forward pass of the same step kept the unit, 0 elsewhere. */
export function dropoutBackward(gpu: Gpu, io: DropoutOptions & { dy: BufferRef; dx: BufferRef }): Dispatch[] {
  const k = kernel(gpu, 'dropout', 'backward');
  return [k.dispatch({ seed: io.seed, dy: io.dy, dx: io.dx, params: dropoutParams(io) }, grid1d(gpu, io.count, WORKGROUP_SIZE), 'dropoutBackward')];
}

/** CPU twin of the shader's mask: whether element `index` survives at (seed, step, stream). */
export function dropoutKeeps(seed: number, step: number, stream: number, index: number, rate: number): boolean {
  const stepSeed = rngU32(seed, step, 0);
  // The shader compares against the f32 rate from its uniform buffer.
  return rngUniform(stepSeed, stream, index) >= Math.fround(rate);
}
