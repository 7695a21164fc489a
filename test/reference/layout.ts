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
