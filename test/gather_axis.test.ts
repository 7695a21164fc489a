// gather along an axis (torch.gather): the kernels against float64 references over [outer, n, k,
// inner] views (repeated picks, indices past the axis, size-1 axes, past one workgroup), and the op
// end to end with u32 indices as a model input and x's gradient against finite differences, and a
// model that gathers by a u32 index field of a tensor dataset trained against the CPU twin.
import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { gatherAxis, gatherAxisBackward, gatherAxisScratchWords, type GatherAxisShape } from '../src/kernels/gather_axis.ts';
import { input } from '../src/layers/layer.ts';
import { gather } from '../src/layers/axis-ops.ts';
import { Dense } from '../src/layers/layers.ts';
import { Model } from '../src/model/model.ts';
import { expectFieldsTrainLikeCpuTwin } from './helpers/cpu-twin.ts';
import { checkOp, count } from './helpers/check-op.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray, rng } from './helpers/random.ts';
import { gatherAxisBackwardRef, gatherAxisRef } from './reference/gather_axis.ts';

/** Indices below `limit` (pass limit > n to include out-of-range ones), seeded. */
function indices(length: number, limit: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length }, () => Math.floor(next() * limit));
}

describe('gather_axis kernels', () => {
  const SHAPES: GatherAxisShape[] = [
    { outer: 1, n: 1, k: 1, inner: 1 }, { outer: 3, n: 5, k: 7, inner: 1 }, { outer: 1, n: 9, k: 4, inner: 6 },
    { outer: 4, n: 2, k: 1, inner: 3 }, { outer: 70, n: 3, k: 3, inner: 2 }, { outer: 2, n: 33, k: 65, inner: 1 },
  ];
  it.each(SHAPES)('gather and its gradient over %j match the reference, out-of-range indices included', async (s) => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const xCount = s.outer * s.n * s.inner, outCount = s.outer * s.k * s.inner;
    const x = randomArray(xCount, xCount), ids = indices(outCount, s.n + 1, outCount), dy = randomArray(outCount, 7);
    const idsBuffer = t.upload(ids), out = t.output(outCount), dx = t.output(xCount), scratch = t.upload(new Uint32Array(gatherAxisScratchWords(s)).fill(0xffffffff));
    await runDispatches(gpu, [...gatherAxis(gpu, s, { x: t.upload(x), indices: idsBuffer, out }), ...gatherAxisBackward(gpu, s, { indices: idsBuffer, dy: t.upload(dy), dx, scratch })]);
    expect([...await readFloat32(gpu, out, outCount)]).toEqual([...gatherAxisRef(s, x, ids)]);
    expect(maxRelativeError(await readFloat32(gpu, dx, xCount), gatherAxisBackwardRef(s, ids, dy))).toBeLessThan(1e-6);
    t.destroy();
  });

  it('refuses empty sizes', async () => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const b = t.output(1);
    expect(() => gatherAxis(gpu, { outer: 1, n: 0, k: 1, inner: 1 }, { x: b, indices: b, out: b })).toThrow('gatherAxis: sizes must be positive integers, got outer 1, n 0');
    t.destroy();
  });
});

describe('gather op', () => {
  it.each([[[6], [4], 0], [[3, 5], [3, 7], 1], [[3, 5], [2, 5], 0], [[2, 4, 3], [2, 6, 3], -2], [[4, 1], [4, 3], 1]] as const)('x %j, indices %j along axis %i: forward and gradient', async (xShape, idShape, axis) => {
    const batch = 3;
    const resolved = (axis < 0 ? xShape.length + axis : axis) + 1;
    const full = [batch, ...xShape], idFull = [batch, ...idShape];
    const s = { outer: count(full.slice(0, resolved)), n: full[resolved]!, k: idFull[resolved]!, inner: count(full.slice(resolved + 1)) };
    const ids = indices(batch * count(idShape), s.n, 11);
    await checkOp((x, i) => gather(x!, i!, axis), [[...xShape], [...idShape]], ([x]) => gatherAxisRef(s, x!, ids), batch, { data: [undefined, ids] });
  });

  it('names the op and both shapes; the indices must be u32', () => {
    expect(() => gather(input([3, 5]), input([2, 4], { dtype: 'u32' }), 1)).toThrow('Gather(axis 1): indices [2, 4] must have the rank and sizes of x [3, 5] except along axis 1');
    expect(() => gather(input([3, 5]), input([3, 5]), 1)).toThrow("Gather(axis 1): the indices must be a u32 tensor (draw them as input(shape, { dtype: 'u32' })), got f32");
    expect(() => gather(input([3, 5]), input([3, 5], { dtype: 'u32' }), 2)).toThrow('axis 2 is out of range for a per-sample rank of 2');
  });
});

describe('gather op in training', () => {
  it('picks by a u32 index field of a tensor dataset: 4 Adam steps equal the CPU twin, one submit each', async () => {
    const gpu = await testGpu();
    const [n, batch, steps, hidden, picks, classes] = [23, 5, 4, 8, 6, 3];
    const x = input([5], { name: 'x' }), idx = input([picks], { name: 'idx', dtype: 'u32' });
    // The gather sits between two Dense layers, so its backward (the picks summed into the hidden
    // units, repeated picks included) is what trains the first one.
    const picked = gather(new Dense({ units: hidden, activation: 'relu' }).apply(x), idx, 0);
    const model = new Model({ inputs: [x, idx], outputs: new Dense({ units: classes }).apply(picked) });
    const fields = {
      x: { data: randomArray(n * 5, 31), shape: [n, 5] },
      idx: { data: indices(n * picks, hidden, 32), shape: [n, picks] },
      y: { data: indices(n, classes, 33), shape: [n] },
    };
    const order = indices(batch * steps, n, 34);
    await expectFieldsTrainLikeCpuTwin(gpu, model, fields, { optimizer: { kind: 'adam', lr: 0.01 }, batch, steps, order });
    gpu.check();
  });
});
