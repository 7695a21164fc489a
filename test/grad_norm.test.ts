import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches, storageBuffer, uploadBuffer, writeBuffer } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { clipGradNorm, clipGradNormScratchBytes } from '../src/kernels/grad_norm.ts';
import { sgdUpdate, writeHyper } from '../src/kernels/optimizer.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { clipGradNormReference } from './reference/grad_norm.ts';
import { sgdStepReference } from './reference/optimizer.ts';

const SIZES = [1, 3, 17, 129, 784, 100_003, 1_000_003];
// Each partial is a strided f32 sum of ≤ 1e6/4096 ≈ 250 squares plus a 6-level tree, then one more
// fold over the partials: worst-case relative error of the sum ~250·2^-24 ≈ 1.5e-5, halved by the
// square root. 1e-5 on the norm and on the scale (which inherits it) has room to spare.
const TOLERANCE = 1e-5;
const SENTINEL = -3.5;

interface Packed { buffer: GPUBuffer; grads: { buffer: GPUBufferBinding; count: number }[]; values: Float32Array[] }

/** All gradients in one shared buffer at aligned offsets, as the memory planner lays them out. */
function packGradients(gpu: Gpu, sizes: number[], seed: number): Packed {
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const offsets: number[] = [];
  let bytes = 0;
  for (const n of sizes) {
    offsets.push(bytes);
    bytes = Math.ceil((bytes + n * 4) / align) * align;
  }
  const buffer = storageBuffer(gpu, bytes, 'grads');
  // Tensors of different magnitudes, as real layers have.
  const values = sizes.map((n, t) => randomArray(n, seed + t, -(10 ** ((t % 3) - 1)), 10 ** ((t % 3) - 1)));
  const grads = sizes.map((n, t) => {
    writeBuffer(gpu, buffer, values[t]!, offsets[t]!);
    return { buffer: { buffer, offset: offsets[t]!, size: n * 4 }, count: n };
  });
  return { buffer, grads, values };
}

async function runClip(gpu: Gpu, packed: Packed, maxNorm: number): Promise<Float32Array> {
  const tensors = packed.grads.length;
  // The scratch is itself a planned range inside a bigger buffer.
  const scratchBuffer = storageBuffer(gpu, 256 + clipGradNormScratchBytes(tensors), 'scratch');
  const clip = uploadBuffer(gpu, new Float32Array(4).fill(SENTINEL), 'clip');
  const scratch = { buffer: scratchBuffer, offset: 256, size: clipGradNormScratchBytes(tensors) };
  await runDispatches(gpu, clipGradNorm(gpu, { grads: packed.grads, maxNorm, scratch, clip }));
  const result = await readFloat32(gpu, clip);
  gpu.destroyBuffer(scratchBuffer); gpu.destroyBuffer(clip);
  return result;
}

describe('clipGradNorm', () => {
  it.each([Infinity, 1e6, 30, 0.5])('matches the float64 reference over tensors of odd sizes, maxNorm %s', async (maxNorm) => {
    const gpu = await testGpu();
    const packed = packGradients(gpu, SIZES, 11);
    const got = await runClip(gpu, packed, maxNorm);
    const expected = clipGradNormReference(packed.values, maxNorm);
    expect(maxRelativeError([got[1]!], [expected.norm])).toBeLessThanOrEqual(TOLERANCE);
    expect(maxRelativeError([got[0]!], [expected.scale])).toBeLessThanOrEqual(TOLERANCE);
    if (maxNorm > expected.norm) expect(got[0]).toBe(1);
    else expect(got[0]).toBeLessThan(1);
    expect([got[2], got[3]], 'clip[2..3] are left alone').toEqual([SENTINEL, SENTINEL]);
    gpu.destroyBuffer(packed.buffer);
  });

  it('handles a single tensor of each size', async () => {
    const gpu = await testGpu();
    for (const n of SIZES) {
      const packed = packGradients(gpu, [n], n);
      const got = await runClip(gpu, packed, 0.1);
      const expected = clipGradNormReference(packed.values, 0.1);
      expect(maxRelativeError([got[1]!, got[0]!], [expected.norm, expected.scale]), `size ${n}`).toBeLessThanOrEqual(TOLERANCE);
      gpu.destroyBuffer(packed.buffer);
    }
  });

  it('is deterministic: repeated runs give the same bits', async () => {
    const gpu = await testGpu();
    const packed = packGradients(gpu, SIZES, 21);
    const first = await runClip(gpu, packed, 2);
    for (let run = 0; run < 3; run++) expect(Array.from(await runClip(gpu, packed, 2))).toEqual(Array.from(first));
    gpu.destroyBuffer(packed.buffer);
  });

  it('feeds its scale to the optimizer within one submission', async () => {
    const gpu = await testGpu();
    const packed = packGradients(gpu, [129, 784], 31);
    const weights = [randomArray(129, 41), randomArray(784, 42)];
    const params = weights.map((w, t) => uploadBuffer(gpu, w, `param${t}`));
    const scratch = storageBuffer(gpu, clipGradNormScratchBytes(2), 'scratch');
    const clip = storageBuffer(gpu, 16, 'clip');
    const hyper = uploadBuffer(gpu, writeHyper(0.1, 1), 'hyper');
    const options = { momentum: 0, nesterov: false, weightDecay: 0, l1: 0 };
    const maxNorm = 1;
    await runDispatches(gpu, [
      ...clipGradNorm(gpu, { grads: packed.grads, maxNorm, scratch, clip }),
      ...packed.grads.map((g, t) => sgdUpdate(gpu, options, { param: params[t]!, grad: g.buffer, count: g.count, hyper, clip })).flat(),
    ]);
    const { scale } = clipGradNormReference(packed.values, maxNorm);
    expect(scale).toBeLessThan(0.5);
    for (const [t, w] of weights.entries()) {
      const expected = { param: Float64Array.from(w) };
      sgdStepReference(options, expected, packed.values[t]!, { lr: 0.1, step: 1, clipScale: scale });
      expect(maxRelativeError(await readFloat32(gpu, params[t]!), expected.param), `tensor ${t}`).toBeLessThanOrEqual(TOLERANCE);
    }
    for (const b of [packed.buffer, ...params, scratch, clip, hyper]) gpu.destroyBuffer(b);
  });

  it('rejects a non-positive maxNorm and empty tensors', async () => {
    const gpu = await testGpu();
    const b = storageBuffer(gpu, 16, 'b');
    expect(() => clipGradNorm(gpu, { grads: [{ buffer: b, count: 4 }], maxNorm: 0, scratch: b, clip: b })).toThrow(/maxNorm/);
    expect(() => clipGradNorm(gpu, { grads: [{ buffer: b, count: 0 }], maxNorm: 1, scratch: b, clip: b })).toThrow(/count 0/);
    gpu.destroyBuffer(b);
  });
});
