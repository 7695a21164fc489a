// Float64 CPU references for 2-D max and average pooling, NCHW, with the launchers' shape type.
import { pool2dOutputSize, type Pool2dShape } from '../../src/kernels/pool.ts';

/** Calls visit(inputIndex) for every in-bounds input of output (n, c, oy, ox)'s window, row-major. */
function forEachInWindow(s: Pool2dShape, plane: number, oy: number, ox: number, visit: (index: number) => void): void {
  for (let wy = 0; wy < s.windowH; wy++) {
    const iy = oy * s.strideH - s.padH + wy;
    if (iy < 0 || iy >= s.height) continue;
    for (let wx = 0; wx < s.windowW; wx++) {
      const ix = ox * s.strideW - s.padW + wx;
      if (ix < 0 || ix >= s.width) continue;
      visit(plane * s.height * s.width + iy * s.width + ix);
    }
  }
}

function forEachOutput(s: Pool2dShape, visit: (out: number, plane: number, oy: number, ox: number) => void): void {
  const { outH, outW } = pool2dOutputSize(s);
  for (let plane = 0; plane < s.batch * s.channels; plane++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) visit((plane * outH + oy) * outW + ox, plane, oy, ox);
    }
  }
}

/** Max over each window; argmax is the first (row-major) input index holding the maximum. */
export function maxPool2dForwardRef(s: Pool2dShape, x: ArrayLike<number>): { y: Float64Array; argmax: Uint32Array } {
  const { outH, outW } = pool2dOutputSize(s);
  const count = s.batch * s.channels * outH * outW;
  const y = new Float64Array(count), argmax = new Uint32Array(count);
  forEachOutput(s, (out, plane, oy, ox) => {
    let best = -Infinity, at = -1;
    forEachInWindow(s, plane, oy, ox, (i) => {
      if (x[i]! > best) { best = x[i]!; at = i; }
    });
    y[out] = best;
    argmax[out] = at;
  });
  return { y, argmax };
}

/** Each output's gradient goes to the input that won its window. */
export function maxPool2dBackwardRef(s: Pool2dShape, dy: ArrayLike<number>, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.batch * s.channels * s.height * s.width);
  for (let out = 0; out < dy.length; out++) dx[argmax[out]!]! += dy[out]!;
  return dx;
}

/** Mean over each window with padding counted (PyTorch's count_include_pad=True). */
export function avgPool2dForwardRef(s: Pool2dShape, x: ArrayLike<number>): Float64Array {
  const { outH, outW } = pool2dOutputSize(s);
  const y = new Float64Array(s.batch * s.channels * outH * outW);
  const divisor = s.windowH * s.windowW;
  forEachOutput(s, (out, plane, oy, ox) => {
    let sum = 0;
    forEachInWindow(s, plane, oy, ox, (i) => { sum += x[i]!; });
    y[out] = sum / divisor;
  });
  return y;
}

export function avgPool2dBackwardRef(s: Pool2dShape, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.batch * s.channels * s.height * s.width);
  const divisor = s.windowH * s.windowW;
  forEachOutput(s, (out, plane, oy, ox) => {
    forEachInWindow(s, plane, oy, ox, (i) => { dx[i]! += dy[out]! / divisor; });
  });
  return dx;
}
