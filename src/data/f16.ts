// IEEE half precision on the CPU, for runtimes without Math.f16round or Float16Array (Node 20): the
// rounding every f16 kernel in shaders/lib/f16.wgsl reproduces bit for bit (round to nearest, ties to
// even; subnormals kept; overflow to ±Inf; NaN stays NaN), and the packing they read: two halves per
// u32, element 2i in the low 16 bits of word i, so a packed buffer is laid out as array<f16> would be.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern nearest to `x` once x is rounded to f32 (as a kernel reading f32 sees it). */
export function f16Bits(x: number): number {
  f32[0] = x;
  return f16BitsOfF32Bits(u32[0]!);
}

/** The f16 bit pattern nearest to the f32 with bit pattern `bits`; a NaN keeps its sign. */
export function f16BitsOfF32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) return sign | 0x7e00;
  // 65520 lies halfway between f16's largest finite value 65504 and the next step, 2^16; the tie goes
  // to the even neighbour, which is past the range: Inf.
  if (magnitude >= 0x477ff000) return sign | 0x7c00;
  if (magnitude >= 0x38800000) {
    // Normal in f16: rebias the exponent (127 → 15) and round away the low 13 mantissa bits. A carry
    // out of the mantissa correctly bumps the exponent.
    const rebased = magnitude - 0x38000000;
    return sign | ((rebased + 0xfff + ((rebased >>> 13) & 1)) >>> 13);
  }
  // Below 2^-25 everything rounds to zero (2^-25 itself ties to the even zero).
  if (magnitude < 0x33000000) return sign;
  // Subnormal in f16: the value in units of 2^-24 is the 24-bit significand shifted right by
  // 126 - exponent (14 to 24 places), rounded to nearest even.
  const significand = (magnitude & 0x7fffff) | 0x800000;
  const shift = 126 - (magnitude >>> 23);
  const kept = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (kept + (rest > half || (rest === half && (kept & 1) === 1) ? 1 : 0));
}

/** The value of an f16 bit pattern (exact: every f16 is an f32 and a float64). */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** `x` rounded to f32 and then to f16, as a number. */
export function roundToF16(x: number): number {
  return f16Value(f16Bits(x));
}

/**
 * Packs values as f16, two per u32 (an odd count leaves the last word's high half zero). A
 * Float32Array is read as bits, so a NaN's sign survives as it does on the GPU.
 */
export function packF16(values: Float32Array | ArrayLike<number>): Uint32Array {
  const bits = values instanceof Float32Array ? new Uint32Array(values.buffer, values.byteOffset, values.length) : undefined;
  const words = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const half = bits ? f16BitsOfF32Bits(bits[i]!) : f16Bits(values[i]!);
    words[i >>> 1] = words[i >>> 1]! | (half << (16 * (i & 1)));
  }
  return words;
}

/** The f32 bit pattern of an f16 bit pattern: exact, and a NaN keeps its payload. */
export function f32BitsOfF16(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  const top = 31 - Math.clz32(mantissa);
  return (sign | ((top + 103) << 23) | ((mantissa << (23 - top)) & 0x7fffff)) >>> 0;
}

/** The first `count` halves of a packed buffer as f32, bit for bit what unpackF16 on the GPU writes. */
export function unpackF16(words: Uint32Array, count = 2 * words.length): Float32Array {
  if (!Number.isInteger(count) || count < 0 || count > 2 * words.length) {
    throw new Error(`unpackF16: count ${count} is not a number of halves in ${words.length} words`);
  }
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = f32BitsOfF16((words[i >>> 1]! >>> (16 * (i & 1))) & 0xffff);
  return new Float32Array(bits.buffer);
}
