// Reductions and softmax along axes: each kernel against its float64 reference over [outer, n, inner]
// views (size-1 axes, odd sizes, columns past one workgroup), max's tie rule, and the ops sum / mean /
// max / softmax / logSoftmax on one or several axes checked end to end with finite differences.
import { describe, expect, it } from 'vitest';
import { readFloat32, readUint32, runDispatches, storageBuffer } from '../src/gpu/buffers.ts';
import { createGpu, type Gpu } from '../src/gpu/device.ts';
import { kernel } from '../src/gpu/kernel.ts';
import { axisShape, maxAxis, maxAxisBackward, softmaxAxis, softmaxAxisBackward, sumAxis, sumAxisBackward, type AxisShape } from '../src/kernels/reduce_axis.ts';
import { input } from '../src/layers/layer.ts';
import { logSoftmax, max, mean, Reduce, softmax, sum } from '../src/layers/axis-ops.ts';
import { checkOp, count } from './helpers/check-op.ts';
import { modelGradients } from './helpers/graph.ts';
import { Model } from '../src/model/model.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { maxRelativeError, randomArray } from './helpers/random.ts';
import { maxAxisBackwardRef, maxAxisRef, softmaxAxisBackwardRef, softmaxAxisRef, sumAxisBackwardRef, sumAxisRef } from './reference/reduce_axis.ts';
import { entryInfo, shaderSource } from '../src/gpu/reflect.ts';
import type { RowKernel } from './helpers/row-checks.ts';
import { expectSubgroupVariantBuilds, expectSubgroupVariantOnThisDevice, type SubgroupVariantCase } from './helpers/subgroup-gate.ts';

const SHAPES: AxisShape[] = [
  { outer: 1, n: 1, inner: 1 }, { outer: 3, n: 7, inner: 1 }, { outer: 1, n: 5, inner: 9 }, { outer: 4, n: 1, inner: 3 },
  { outer: 5, n: 13, inner: 11 }, { outer: 67, n: 3, inner: 2 }, { outer: 2, n: 129, inner: 1 },
];

describe('reduce_axis kernels', () => {
  it.each(SHAPES)('sum, max, softmax and their gradients over %j match the float64 reference', async (s) => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const full = s.outer * s.n * s.inner, reduced = s.outer * s.inner;
    const x = randomArray(full, full + 1, -3, 3), dyFull = randomArray(full, full + 2), dyReduced = randomArray(reduced, reduced + 3);
    const xb = t.upload(x), dyFullB = t.upload(dyFull), dyReducedB = t.upload(dyReduced);
    const y = t.output(reduced), argmax = t.upload(new Uint32Array(reduced).fill(0xffffffff)), dx = t.output(full), probs = t.output(full);
    await runDispatches(gpu, sumAxis(gpu, s, { x: xb, y, alpha: 0.5 }));
    expect(maxRelativeError(await readFloat32(gpu, y, reduced), sumAxisRef(s, x, 0.5)), 'sum').toBeLessThan(1e-6);
    await runDispatches(gpu, sumAxisBackward(gpu, s, { dy: dyReducedB, dx, alpha: 0.5 }));
    expect(maxRelativeError(await readFloat32(gpu, dx, full), sumAxisBackwardRef(s, dyReduced, 0.5)), 'sum backward').toBeLessThan(1e-6);
    await runDispatches(gpu, maxAxis(gpu, s, { x: xb, y, argmax }));
    const expected = maxAxisRef(s, x);
    expect([...await readFloat32(gpu, y, reduced)]).toEqual([...expected.y]);
    expect([...await readUint32(gpu, argmax, reduced)]).toEqual([...expected.argmax]);
    await runDispatches(gpu, maxAxisBackward(gpu, s, { dy: dyReducedB, argmax, dx }));
    expect([...await readFloat32(gpu, dx, full)]).toEqual([...maxAxisBackwardRef(s, dyReduced, expected.argmax)]);
    for (const log of [false, true]) {
      await runDispatches(gpu, softmaxAxis(gpu, s, { x: xb, y: probs, log }));
      const gotY = await readFloat32(gpu, probs, full);
      expect(maxRelativeError(gotY, softmaxAxisRef(s, x, log)), `softmax log=${log}`).toBeLessThan(1e-5);
      await runDispatches(gpu, softmaxAxisBackward(gpu, s, { y: probs, dy: dyFullB, dx, log }));
      expect(maxRelativeError(await readFloat32(gpu, dx, full), softmaxAxisBackwardRef(s, gotY, dyFull, log)), `softmax backward log=${log}`).toBeLessThan(1e-5);
    }
    t.destroy();
  });

  it('max sends the gradient to the first of tied maxima; softmax stays finite for large logits', async () => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const s = { outer: 1, n: 4, inner: 2 };
    // Column 0 reads 1, 3, 3, 2 (the maximum twice); column 1 reads 5, 5, 5, 5.
    const x = t.upload(new Float32Array([1, 5, 3, 5, 3, 5, 2, 5]));
    const y = t.output(2), argmax = t.upload(new Uint32Array(2)), dx = t.output(8);
    await runDispatches(gpu, [...maxAxis(gpu, s, { x, y, argmax }), ...maxAxisBackward(gpu, s, { dy: t.upload(new Float32Array([7, 9])), argmax, dx })]);
    expect([...await readUint32(gpu, argmax, 2)]).toEqual([1, 0]);
    expect([...await readFloat32(gpu, dx, 8)]).toEqual([0, 9, 7, 0, 0, 0, 0, 0]);
    const big = t.upload(new Float32Array([1000, -1000, 999, 0]));
    const probs = t.output(4);
    await runDispatches(gpu, softmaxAxis(gpu, { outer: 1, n: 4, inner: 1 }, { x: big, y: probs, log: true }));
    expect(maxRelativeError(await readFloat32(gpu, probs, 4), softmaxAxisRef({ outer: 1, n: 4, inner: 1 }, [1000, -1000, 999, 0], true))).toBeLessThan(1e-6);
    t.destroy();
  });

  it('refuses an axis outside the shape and empty sizes', async () => {
    const gpu = await testGpu();
    expect(() => axisShape([2, 3], 2)).toThrow('axisShape: axis 2 is out of range for [2, 3]');
    expect(() => sumAxis(gpu, { outer: 0, n: 2, inner: 1 }, { x: gpu.device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }), y: gpu.device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }) })).toThrow('sumAxis: sizes must be positive integers, got outer 0');
  });
});

/** The reference of a reduction over several axes of a full shape (axes already shifted past the batch). */
function reduceRef(kind: 'sum' | 'mean' | 'max', x: Float64Array, shape: number[], axes: number[]): Float64Array {
  let data = x, current = [...shape];
  for (const axis of [...axes].sort((p, q) => q - p)) {
    const s = axisShape(current, axis);
    data = kind === 'max' ? maxAxisRef(s, data).y : sumAxisRef(s, data, kind === 'mean' ? 1 / s.n : 1);
    current[axis] = 1;
  }
  return data;
}

describe('sum, mean and max ops', () => {
  const cases: [number[], number[], boolean][] = [
    [[5], [0], false], [[3, 4], [-1], true], [[3, 4], [0], false], [[2, 3, 5], [1], false], [[2, 3, 5], [0, 2], true],
    [[4, 1, 3], [1], false], [[2, 3, 4], [0, 1, 2], false], [[3, 2, 2, 3], [2, 0], false],
  ];
  for (const kind of ['sum', 'mean', 'max'] as const) {
    const f = { sum, mean, max }[kind];
    it.each(cases)(`${kind} of %j over axes %j (keepDims %s): forward and gradient`, async (shape, axes, keepDims) => {
      const batch = 3;
      const full = [batch, ...shape];
      const shifted = axes.map((a) => (a < 0 ? shape.length + a : a) + 1);
      await checkOp((x) => f(x, axes, { keepDims }), [shape], ([x]) => reduceRef(kind, x!, full, shifted), batch);
    });
  }

  it('max over several axes sends a tied gradient to the first maximum in row-major order', async () => {
    const gpu = await testGpu();
    const x = input([2, 3]);
    // Sample 0 holds 5 at (0, 1), (1, 0) and (1, 2); sample 1 holds 7 at (1, 1) and (1, 2).
    const data = new Float32Array([1, 5, 2, 5, 0, 5, 3, 1, 2, 4, 7, 7]);
    const got = await modelGradients(gpu, new Model({ inputs: x, outputs: max(x, [0, 1]) }), 2, data, new Float32Array([10, 20]), new Map());
    expect([...got.y]).toEqual([5, 7]);
    expect([...got.dx]).toEqual([0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0]);
  });

  it('gives the reduced shape, keeps [1] for a full reduction, and names the op, the axes and the batch axis in errors', () => {
    const x = input([2, 3, 4]);
    expect(sum(x, [0, 2]).shape).toEqual([3]);
    expect(mean(x, 1, { keepDims: true }).shape).toEqual([2, 1, 4]);
    expect(max(x, [0, 1, 2]).shape).toEqual([1]);
    expect(() => sum(x, 3)).toThrow('sum(axes 3): axis 3 is out of range for a per-sample rank of 3 (axes count per sample; the batch axis always stays)');
    expect(() => mean(x, [1, -2])).toThrow('name the same axis twice');
    expect(() => new Reduce('sum', [])).toThrow('Reduce sum: axes must be an integer or a non-empty list of integers, got []');
    expect(() => new Reduce('median' as 'sum', 0)).toThrow('Reduce: unknown operation "median"');
    expect(() => new Reduce('sum', 0, { keepdims: true } as object)).toThrow('Reduce sum: unknown option keepdims; it takes keepDims, name');
    expect(() => new Reduce('sum', 0, { keepDims: 1 as unknown as boolean })).toThrow('Reduce sum: keepDims must be true or false, got 1');
  });
});

describe('softmax and logSoftmax ops', () => {
  it.each([[[6], -1], [[3, 5], 0], [[3, 5], 1], [[2, 4, 3], 1], [[1, 3], 0], [[4, 1, 2], -2]] as const)('along %j axis %i: forward and gradient', async (shape, axis) => {
    const batch = 2;
    const full = [batch, ...shape];
    const s = axisShape(full, (axis < 0 ? shape.length + axis : axis) + 1);
    await checkOp((x) => softmax(x, axis), [[...shape]], ([x]) => softmaxAxisRef(s, x!), batch);
    await checkOp((x) => logSoftmax(x, axis), [[...shape]], ([x]) => softmaxAxisRef(s, x!, true), batch);
  });

  it('counts the axis per sample', () => {
    expect(() => softmax(input([3, 4]), 2)).toThrow('softmax(axis 2): axis 2 is out of range for a per-sample rank of 2');
    expect(count(logSoftmax(input([3, 4]), 0).shape)).toBe(12);
  });
});

const SOFTMAX_ROWS = { outer: 3, n: 5, inner: 1 };

function softmaxRowsCase(pass: 'forward' | 'backward', log: boolean): SubgroupVariantCase {
  const launch = (gpu: Gpu, variant?: 'subgroup') => {
    const b = storageBuffer(gpu, 256, 'softmax.any');
    return pass === 'forward' ? softmaxAxis(gpu, SOFTMAX_ROWS, { x: b, y: b, log, variant }) : softmaxAxisBackward(gpu, SOFTMAX_ROWS, { y: b, dy: b, dx: b, log, variant });
  };
  const constants = { LOG: log ? 1 : 0 };
  return {
    kernels: [`${log ? 'logSoftmax' : 'softmax'}${pass === 'forward' ? '' : 'Backward'}` as RowKernel],
    shader: 'reduce_axis_subgroup',
    forced: (gpu) => launch(gpu, 'subgroup'),
    byDefault: (gpu) => launch(gpu),
    subgroupKernel: ['reduce_axis_subgroup', pass === 'forward' ? 'softmaxRowsSubgroup' : 'softmaxRowsBackwardSubgroup', constants],
    invocationKernel: ['reduce_axis', pass === 'forward' ? 'softmaxAxis' : 'softmaxAxisBackward', constants],
  };
}

const PASSES = [['forward', false], ['forward', true], ['backward', false], ['backward', true]] as const;

describe('softmax along the last axis, subgroup variants (a workgroup per row)', () => {
  it('are reflected: the invocation kernels\' bindings, in a workgroup of whole subgroups of any size (4 to 128)', () => {
    expect(shaderSource('reduce_axis_subgroup')).toMatch(/^enable subgroups;/m);
    for (const [entry, subgroupEntry] of [['softmaxAxis', 'softmaxRowsSubgroup'], ['softmaxAxisBackward', 'softmaxRowsBackwardSubgroup']]) {
      const info = entryInfo('reduce_axis_subgroup', subgroupEntry!);
      expect(info.bindings.map((b) => `${b.name}:${b.kind}`)).toEqual(entryInfo('reduce_axis', entry!).bindings.map((b) => `${b.name}:${b.kind}`));
      expect(info.workgroupSize[0] % 128).toBe(0);
    }
  });

  it.each(PASSES)('%s, log %s: matches the reference over odd row lengths where the device has subgroups, and is refused where it does not', async (pass, log) => {
    await expectSubgroupVariantOnThisDevice(await testGpu(), softmaxRowsCase(pass, log));
  });

  it.each(PASSES)('%s, log %s: builds, and is the default along the last axis, on Dawn\'s null backend', async (pass, log) => {
    await expectSubgroupVariantBuilds(softmaxRowsCase(pass, log));
  });

  it('is refused along any other axis, and the default there stays one invocation per column', async () => {
    const gpu = await createGpu({ backend: 'null' });
    try {
      const b = storageBuffer(gpu, 256, 'softmax.any');
      const middle = { outer: 2, n: 3, inner: 4 };
      expect(() => softmaxAxis(gpu, middle, { x: b, y: b, variant: 'subgroup' })).toThrow(/softmaxAxis: the subgroup variant runs along the last axis only \(inner = 1\), got inner 4/);
      expect(softmaxAxis(gpu, middle, { x: b, y: b })[0]!.pipeline).toBe(kernel(gpu, 'reduce_axis', 'softmaxAxis', { LOG: 0 }).pipeline);
      expect(() => softmaxAxisBackward(gpu, middle, { y: b, dy: b, dx: b, variant: 'subgroup' })).toThrow(/softmaxAxisBackward: the subgroup variant runs along the last axis only/);
      expect(softmaxAxisBackward(gpu, middle, { y: b, dy: b, dx: b })[0]!.pipeline).toBe(kernel(gpu, 'reduce_axis', 'softmaxAxisBackward', { LOG: 0 }).pipeline);
    } finally {
      gpu.destroy();
    }
  });
});
