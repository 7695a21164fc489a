// CPU reference for shaders/layout.wgsl.

/** src[offset..] as [outer][inner][width] → [inner][outer][width]. */
export function swapOuterAxesRef(src: Float32Array, outer: number, inner: number, width: number, offset = 0): Float32Array {
  const out = new Float32Array(outer * inner * width);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let e = 0; e < width; e++) out[(i * outer + o) * width + e] = src[offset + (o * inner + i) * width + e]!;
    }
  }
  return out;
}

/** dst with rows copied in: dst[dstOffset + o·dstStride + e] = src[srcOffset + o·srcStride + e]. */
export function copyBlocksRef(src: Float32Array, dst: Float32Array, io: { outer: number; width: number; srcStride: number; srcOffset: number; dstStride: number; dstOffset: number }): Float32Array {
  const out = Float32Array.from(dst);
  for (let o = 0; o < io.outer; o++) {
    for (let e = 0; e < io.width; e++) out[io.dstOffset + o * io.dstStride + e] = src[io.srcOffset + o * io.srcStride + e]!;
  }
  return out;
}
