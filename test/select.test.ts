// where / maskedFill: the kernels against float64 references over broadcasting shapes with f32 and
// u32 conditions (−0 counts as false), and the ops end to end with finite differences for a and b.
import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { selectMaskedFill, selectWhere, whereBackward } from '../src/kernels/select.ts';
import { input } from '../src/layers/layer.ts';
import { maskedFill, where } from '../src/layers/select-ops.ts';
import { checkOp, count } from './helpers/check-op.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { broadcastRef } from './reference/elementwise.ts';
import { maskedFillRef, whereBackwardRef, whereRef } from './reference/select.ts';

/** 0/1 values (a third of them 1), seeded. */
function mask(n: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => (next() < 0.34 ? 1 : 0));
}

// [cond, a, b] full shapes: all equal, a scalar cond, a row mask, a column mask, every operand
// broadcasting at once, odd sizes past one workgroup.
const TRIPLES: [number[], number[], number[]][] = [
  [[7], [7], [7]], [[1], [3, 5], [3, 5]], [[5], [3, 5], [1]], [[3, 1], [3, 4], [4]], [[2, 1, 5], [1, 3, 1], [2, 3, 5]], [[1, 300], [7, 300], [7, 1]],
];

describe('select kernels', () => {
  it.each(TRIPLES)('where, maskedFill and the gradient with cond %j, a %j, b %j match the reference', async (condShape, aShape, bShape) => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const outShape = broadcastRef(broadcastRef(condShape, aShape), bShape);
    const n = count(outShape);
    const bits = mask(count(condShape), n);
    const a = randomArray(count(aShape), 1), b = randomArray(count(bShape), 2), dy = randomArray(n, 3);
    // The same mask as f32 with −0 for false (it must read as false) and as u32.
    const asF32 = t.upload(Float32Array.from(bits, (v) => (v ? 1 : -0))), asU32 = t.upload(Uint32Array.from(bits));
    const ab = t.upload(a), bb = t.upload(b), dyb = t.upload(dy), out = t.output(n);
    for (const [cond, condDType] of [[asF32, 'f32'], [asU32, 'u32']] as const) {
      await runDispatches(gpu, selectWhere(gpu, { cond, a: ab, b: bb, out, condShape, aShape, bShape, condDType }));
      expect([...await readFloat32(gpu, out, n)], `where ${condDType}`).toEqual([...whereRef(bits, condShape, a, aShape, b, bShape)]);
      for (const takeTrue of [true, false]) {
        await runDispatches(gpu, whereBackward(gpu, { cond, dy: dyb, out, condShape, outShape, condDType, takeTrue }));
        expect([...await readFloat32(gpu, out, n)], `backward ${condDType} ${takeTrue}`).toEqual([...whereBackwardRef(bits, condShape, dy, outShape, takeTrue)]);
      }
      const full = randomArray(n, 4), fullBuffer = t.upload(full);
      await runDispatches(gpu, selectMaskedFill(gpu, { x: fullBuffer, mask: cond, out, shape: outShape, maskShape: condShape, maskDType: condDType, value: -1e9 }));
      expect(maxRelativeError(await readFloat32(gpu, out, n), maskedFillRef(full, outShape, bits, condShape, -1e9)), `maskedFill ${condDType}`).toBe(0);
    }
    t.destroy();
  });

  it('names both shapes when they do not broadcast and refuses a mask that grows x', async () => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const buffer = t.output(12);
    expect(() => selectWhere(gpu, { cond: buffer, a: buffer, b: buffer, out: buffer, condShape: [3, 4], aShape: [2, 4], bShape: [4], condDType: 'u32' })).toThrow('select.where: shapes [3, 4] and [2, 4] do not broadcast');
    expect(() => selectMaskedFill(gpu, { x: buffer, mask: buffer, out: buffer, shape: [4], maskShape: [3, 4], maskDType: 'u32', value: 0 })).toThrow('the mask [3, 4] does not broadcast to [4]');
    t.destroy();
  });
});

describe('where and maskedFill ops', () => {
  const batch = 3;
  const full = (s: readonly number[], rank: number) => [batch, ...Array<number>(rank - s.length).fill(1), ...s];
  it.each([[[4], [4], [4]], [[3, 1], [3, 5], [5]], [[1, 4], [2, 1], [2, 4]], [[2, 3, 4], [4], [3, 1]]] as const)('where with cond %j, a %j, b %j: forward, gradients of a and b', async (c, a, b) => {
    const rank = Math.max(c.length, a.length, b.length);
    const bits = mask(batch * count(c), 9);
    await checkOp((cond, x, y) => where(cond!, x!, y!), [[...c], [...a], [...b]],
      ([cond, x, y]) => whereRef(cond!, full(c, rank), x!, full(a, rank), y!, full(b, rank)), batch, { data: [Uint32Array.from(bits)] });
  });

  it.each([[[3, 4], [3, 4]], [[3, 4], [4]], [[2, 3, 3], [1, 3, 3]]] as const)('maskedFill of %j by %j: forward and gradient', async (x, m) => {
    const rank = x.length;
    const bits = mask(batch * count(m), 4);
    await checkOp((v, mk) => maskedFill(v!, mk!, -2.5), [[...x], [...m]], ([v, mk]) => maskedFillRef(v!, full(x, rank), mk!, full(m, rank), -2.5), batch, { data: [undefined, Uint32Array.from(bits)] });
  });

  it('gives the broadcast of all three shapes; errors name the op and the shapes; values must be f32 and the fill finite', () => {
    expect(where(input([3, 1]), input([3, 4]), input([4])).shape).toEqual([3, 4]);
    expect(() => where(input([3]), input([4]), input([4]))).toThrow('Where (cond and a): shapes [3] and [4] do not broadcast');
    expect(() => where(input([4]), input([4], { dtype: 'u32' }), input([4]))).toThrow('Where: a must be an f32 tensor, got u32');
    expect(() => maskedFill(input([4]), input([3, 4]), 0)).toThrow('MaskedFill(0): the mask [3, 4] must broadcast to x [4] without growing it');
    expect(() => maskedFill(input([4]), input([4]), -Infinity)).toThrow('MaskedFill: value must be a finite number');
  });
});
