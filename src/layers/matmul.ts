// matmul(a, b) as torch.matmul on the per-sample shapes: the last two axes multiply, the leading
// ones (the batch axis among them) broadcast; a 1-D a is a row [1, K] and a 1-D b a column [K, 1],
// their size-1 axis dropped from the result. Every product runs as one batched GEMM of the tuned
// launcher (src/kernels/gemm.ts): where the batch broadcast folds into one stride per operand it is
// read in place, otherwise the broadcast operand is first copied out to the full batch.
import { broadcastShape, broadcastTo, collapseBroadcast } from '../kernels/elementwise.ts';
import type { Gpu } from '../gpu/device.ts';
import { gemm, type GemmArgs } from '../kernels/gemm.ts';
import { elementCount, formatShape } from '../graph/graph.ts';
import { Layer, layerLabel, op, type BuildContext, type LayerConfig, type Shape, type SymbolicTensor } from './layer.ts';
import { broadcastGradient } from './ops.ts';

/** The product's geometry: the operands as [...batch, m, k] and [...batch, k, n] (1-D ones widened). */
interface Product { m: number; k: number; n: number; aBatch: number[]; bBatch: number[]; outBatch: number[] }

export class MatMul extends Layer {
  readonly kind = 'matmul';
  constructor(name = '') { super(); this.name = name; }

  override acceptsInputs(count: number): boolean { return count === 2; }
  override describe(): string { return 'MatMul'; }
  override config(): LayerConfig { return { type: 'MatMul', name: this.name }; }

  /** The geometry of a [leading..., a] by [leading..., b] product; `leading` is the batch axis when building. */
  private product(a: Shape, b: Shape, leading: number[] = []): Product {
    const label = layerLabel(this);
    const wide = (s: Shape, row: boolean) => (s.length === 1 ? (row ? [1, s[0]!] : [s[0]!, 1]) : [...s]);
    const aw = wide(a, true), bw = wide(b, false);
    const [m, k] = aw.slice(-2) as [number, number];
    const [kb, n] = bw.slice(-2) as [number, number];
    if (k !== kb) throw new Error(`${label}: cannot multiply ${formatShape(a)} by ${formatShape(b)}: the inner sizes ${k} and ${kb} differ`);
    let batch: number[];
    try {
      batch = broadcastShape(aw.slice(0, -2), bw.slice(0, -2));
    } catch {
      throw new Error(`${label}: cannot multiply ${formatShape(a)} by ${formatShape(b)}: the leading (batch) sizes ${formatShape(aw.slice(0, -2))} and ${formatShape(bw.slice(0, -2))} do not broadcast`);
    }
    const pad = (s: number[]) => [...leading, ...Array<number>(batch.length - s.length).fill(1), ...s];
    return { m, k, n, aBatch: pad(aw.slice(0, -2)), bBatch: pad(bw.slice(0, -2)), outBatch: [...leading, ...batch] };
  }

  /** A per-sample product of two vectors is [1]: a sample is never a bare scalar. */
  outputShape(a: Shape, b: Shape): Shape {
    if (a.length === 0 || b.length === 0) throw new Error(`${layerLabel(this)}: cannot multiply ${formatShape(a)} by ${formatShape(b)}`);
    const { m, n, outBatch } = this.product(a, b);
    const out = [...outBatch, ...(a.length > 1 ? [m] : []), ...(b.length > 1 ? [n] : [])];
    return out.length ? out : [1];
  }

  forward(ctx: BuildContext, a: number, b: number): number {
    const { graph, batch, tape } = ctx;
    const sa = graph.shape(a).slice(1), sb = graph.shape(b).slice(1);
    const { m, k, n, aBatch, bBatch, outBatch } = this.product(sa, sb, [batch]);
    const items = elementCount(outBatch);
    const label = layerLabel(this);
    const precision = ctx.precision;
    // The GEMM runs one batch item per workgroup row in z.
    const batched = (gpu: Gpu, args: GemmArgs) => {
      const limit = gpu.limits.maxComputeWorkgroupsPerDimension;
      if (items > limit) throw new Error(`${label}: ${items} matrix products in one call (the leading sizes ${formatShape(outBatch)}, batch first); this adapter allows at most ${limit}`);
      return gemm(gpu, { ...args, batch: items, precision });
    };
    const y = graph.tensor(`${this.name}.out`, [batch, ...this.outputShape(sa, sb)]);
    // One stride per operand covers the batch when its broadcast pattern collapses to one axis.
    const folds = collapseBroadcast(outBatch, [aBatch, bBatch]).dims.length <= 1;
    const operand = (x: number, own: number[], rows: number, cols: number): { tensor: number; stride: number } => {
      const size = rows * cols;
      if (elementCount(own) === items) return { tensor: x, stride: size };
      if (folds) return { tensor: x, stride: 0 };
      const expanded = graph.tensor(`${this.name}.broadcast`, [...outBatch, rows, cols]);
      op(graph, `${this.name}.broadcast`, [x], [expanded], (gpu, buf) => broadcastTo(gpu, { x: buf(x), y: buf(expanded), shape: [...own, rows, cols], outShape: [...outBatch, rows, cols] }));
      return { tensor: expanded, stride: size };
    };
    const A = operand(a, aBatch, m, k), B = operand(b, bBatch, k, n);
    op(graph, `${this.name}.forward`, [A.tensor, B.tensor], [y], (gpu, buf) => batched(gpu, { a: buf(A.tensor), b: buf(B.tensor), c: buf(y), m, n, k, strideA: A.stride, strideB: B.stride, strideC: m * n, label: `${this.name}.forward` }));
    tape.record([a, b], [y], (g) => {
      const dy = g.gradOf(y);
      // dA = dY·Bᵀ and dB = Aᵀ·dY per item, at the full batch; summed back where an operand broadcast.
      broadcastGradient(g, this.name, a, [...aBatch, m, k], [...outBatch, m, k], (target) =>
        op(graph, `${this.name}.backward.a`, [dy, B.tensor], [target], (gpu, buf) => batched(gpu, { a: buf(dy), b: buf(B.tensor), c: buf(target), m, n: k, k: n, transB: true, strideA: m * n, strideB: B.stride, strideC: m * k, label: `${this.name}.backward.a` })));
      broadcastGradient(g, this.name, b, [...bBatch, k, n], [...outBatch, k, n], (target) =>
        op(graph, `${this.name}.backward.b`, [A.tensor, dy], [target], (gpu, buf) => batched(gpu, { a: buf(A.tensor), b: buf(dy), c: buf(target), m: k, n, k: m, transA: true, strideA: A.stride, strideB: m * n, strideC: k * n, label: `${this.name}.backward.b` })));
    });
    return y;
  }
}

/** torch.matmul on per-sample shapes: batched over the leading axes with broadcasting. */
export const matmul = (a: SymbolicTensor, b: SymbolicTensor): SymbolicTensor => new MatMul().apply(a, b);
