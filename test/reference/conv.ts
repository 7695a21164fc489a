// Float64 CPU references for 2-D convolution (cross-correlation, like PyTorch): NCHW activations,
// OIHW weights, one bias per output channel.
import { conv2dOutputSize, type Conv2dShape } from '../../src/kernels/conv.ts';

/**
 * Calls visit(inputIndex, weightIndex, outputIndex) for every multiply of the convolution whose
 * input lies inside the image; padding contributes nothing.
 */
function forEachTap(s: Conv2dShape, visit: (input: number, weight: number, output: number) => void): void {
  const { outH, outW } = conv2dOutputSize(s);
  for (let n = 0; n < s.batch; n++) {
    for (let o = 0; o < s.outChannels; o++) {
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const output = ((n * s.outChannels + o) * outH + oy) * outW + ox;
          for (let c = 0; c < s.inChannels; c++) {
            for (let ky = 0; ky < s.kernelH; ky++) {
              const iy = oy * s.strideH - s.padH + ky;
              if (iy < 0 || iy >= s.height) continue;
              for (let kx = 0; kx < s.kernelW; kx++) {
                const ix = ox * s.strideW - s.padW + kx;
                if (ix < 0 || ix >= s.width) continue;
                const input = ((n * s.inChannels + c) * s.height + iy) * s.width + ix;
                const weight = ((o * s.inChannels + c) * s.kernelH + ky) * s.kernelW + kx;
                visit(input, weight, output);
              }
            }
          }
        }
      }
    }
  }
}

export function outputCount(s: Conv2dShape): number {
  const { outH, outW } = conv2dOutputSize(s);
  return s.batch * s.outChannels * outH * outW;
}

export function conv2dForwardRef(s: Conv2dShape, x: ArrayLike<number>, weight: ArrayLike<number>, bias?: ArrayLike<number>, activation: 'none' | 'relu' = 'none'): Float64Array {
  const y = new Float64Array(outputCount(s));
  forEachTap(s, (i, w, o) => { y[o]! += x[i]! * weight[w]!; });
  const { outH, outW } = conv2dOutputSize(s);
  const plane = outH * outW;
  for (let o = 0; o < y.length; o++) {
    let v = y[o]! + (bias ? bias[Math.floor(o / plane) % s.outChannels]! : 0);
    if (activation === 'relu') v = Math.max(v, 0);
    y[o] = v;
  }
  return y;
}

export function conv2dBackwardInputRef(s: Conv2dShape, dy: ArrayLike<number>, weight: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.batch * s.inChannels * s.height * s.width);
  forEachTap(s, (i, w, o) => { dx[i]! += dy[o]! * weight[w]!; });
  return dx;
}

export function conv2dBackwardWeightRef(s: Conv2dShape, x: ArrayLike<number>, dy: ArrayLike<number>): { dweight: Float64Array; dbias: Float64Array } {
  const dweight = new Float64Array(s.outChannels * s.inChannels * s.kernelH * s.kernelW);
  forEachTap(s, (i, w, o) => { dweight[w]! += x[i]! * dy[o]!; });
  const { outH, outW } = conv2dOutputSize(s);
  const plane = outH * outW;
  const dbias = new Float64Array(s.outChannels);
  for (let o = 0; o < dy.length; o++) dbias[Math.floor(o / plane) % s.outChannels]! += dy[o]!;
  return { dweight, dbias };
}

/** The batch-major column matrix [N][C·KH·KW][OH·OW], zeros where a tap falls in the padding. */
export function im2colRef(s: Conv2dShape, x: ArrayLike<number>): Float64Array {
  const { outH, outW } = conv2dOutputSize(s);
  const taps = s.inChannels * s.kernelH * s.kernelW, pixels = outH * outW;
  const columns = new Float64Array(s.batch * taps * pixels);
  forEachTap({ ...s, outChannels: 1 }, (input, weight, output) => {
    const n = Math.floor(output / pixels);
    columns[(n * taps + weight) * pixels + output % pixels] = x[input]!;
  });
  return columns;
}
