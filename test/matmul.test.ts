// Batched matmul: torch.matmul's cases on per-sample shapes (2-D, 1-D on either side, leading
// batch axes broadcast both ways, sizes off every GEMM tile) forward against the float64 reference
// and both gradients against finite differences; broadcastTo against its reference.
import { describe, expect, it } from 'vitest';
import { readFloat32, runDispatches } from '../src/gpu/buffers.ts';
import { broadcastTo } from '../src/kernels/elementwise.ts';
import { input } from '../src/layers/layer.ts';
import { matmul } from '../src/layers/matmul.ts';
import { checkOp, count } from './helpers/check-op.ts';
import { TestBuffers } from './helpers/buffers.ts';
import { testGpu } from './helpers/gpu.ts';
import { randomArray } from './helpers/random.ts';
import { broadcastToRef, matmulFullShapes, matmulRef } from './reference/matmul.ts';

describe('matmul op', () => {
  const cases: [number[], number[], number[]][] = [
    [[3, 4], [4, 5], [3, 5]], [[1, 1], [1, 1], [1, 1]], [[7, 9], [9, 13], [7, 13]], [[4], [4, 3], [3]], [[2, 4], [4], [2]], [[5], [5], [1]],
    [[2, 3, 4], [2, 4, 5], [2, 3, 5]], [[2, 3, 4], [4, 6], [2, 3, 6]], [[3, 4], [2, 4, 5], [2, 3, 5]], [[2, 1, 3, 4], [3, 4, 2], [2, 3, 3, 2]],
    [[4], [2, 4, 3], [2, 3]], [[2, 17, 5], [2, 5, 33], [2, 17, 33]],
  ];
  it.each(cases)('%j × %j → %j: forward and both gradients', async (a, b, out) => {
    const batch = 2;
    expect(matmul(input(a), input(b)).shape).toEqual(out);
    const [aFull, bFull] = matmulFullShapes(batch, a, b);
    await checkOp((x, y) => matmul(x!, y!), [a, b], ([x, y]) => matmulRef(x!, aFull, y!, bFull), batch);
  });

  // With one sample a broadcast operand folds into a GEMM stride of 0 instead of being copied out.
  it.each([[[3, 4], [2, 4, 5]], [[2, 3, 4], [4, 6]], [[2, 1, 3, 4], [1, 4, 2]]] as const)('at batch 1, %j × %j reads the broadcast operand in place', async (a, b) => {
    const [aFull, bFull] = matmulFullShapes(1, a, b);
    await checkOp((x, y) => matmul(x!, y!), [[...a], [...b]], ([x, y]) => matmulRef(x!, aFull, y!, bFull), 1);
  });

  it('names the op and both shapes when they do not multiply', () => {
    expect(() => matmul(input([3, 4]), input([5, 2]))).toThrow('MatMul: cannot multiply [3, 4] by [5, 2]: the inner sizes 4 and 5 differ');
    expect(() => matmul(input([2, 3, 4]), input([3, 4, 2]))).toThrow('MatMul: cannot multiply [2, 3, 4] by [3, 4, 2]: the leading (batch) sizes [2] and [3] do not broadcast');
  });
});

describe('broadcastTo', () => {
  it.each([[[3], [4, 3]], [[2, 1, 5], [2, 3, 5]], [[1, 1], [7, 9]], [[4, 1, 1, 2], [4, 3, 5, 2]]] as const)('copies %j out to %j', async (shape, outShape) => {
    const gpu = await testGpu();
    const t = new TestBuffers(gpu);
    const x = randomArray(count(shape), 3);
    const y = t.output(count(outShape));
    await runDispatches(gpu, broadcastTo(gpu, { x: t.upload(x), y, shape, outShape }));
    expect([...await readFloat32(gpu, y, count(outShape))]).toEqual([...broadcastToRef(x, shape, outShape)]);
    expect(() => broadcastTo(gpu, { x: y, y, shape: outShape, outShape: shape })).toThrow(/does not broadcast|do not broadcast/);
    t.destroy();
  });
});
