// f32 ↔ f16 bit patterns in integer arithmetic. pack2x16float leaves the rounding direction to the
// implementation and overflow indeterminate, so every f16 kernel rounds through f16_bits instead:
// round to nearest, ties to even, subnormals kept, overflow to ±Inf, NaN stays NaN — bit for bit
// the CPU's f16Bits() in src/data/f16.ts. Working on bits also keeps NaN and Inf away from float
// compares that a compiler may assume finite.
fn f16_bits(bits: u32) -> u32 {
  let sign = (bits >> 16u) & 0x8000u;
  let magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) { return sign | 0x7e00u; }
  // 65520 ties between 65504 (the largest finite f16) and 2^16: the even side is Inf.
  if (magnitude >= 0x477ff000u) { return sign | 0x7c00u; }
  if (magnitude >= 0x38800000u) {
    let rebased = magnitude - 0x38000000u;
    return sign | ((rebased + 0xfffu + ((rebased >> 13u) & 1u)) >> 13u);
  }
  if (magnitude < 0x33000000u) { return sign; }
  let significand = (magnitude & 0x7fffffu) | 0x800000u;
  let shift = 126u - (magnitude >> 23u);
  let kept = significand >> shift;
  let rest = significand & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  return sign | (kept + select(0u, 1u, rest > half || (rest == half && (kept & 1u) == 1u)));
}

// Two f32 values rounded to f16 and packed as one word, the first in the low half.
fn pack_f16(lo: f32, hi: f32) -> u32 {
  return f16_bits(bitcast<u32>(lo)) | (f16_bits(bitcast<u32>(hi)) << 16u);
}

// The f32 bit pattern of an f16 bit pattern (exact; NaN keeps its payload).
fn f32_bits_of_f16(half: u32) -> u32 {
  let sign = (half & 0x8000u) << 16u;
  let exponent = (half >> 10u) & 0x1fu;
  let mantissa = half & 0x3ffu;
  if (exponent == 0x1fu) { return sign | 0x7f800000u | (mantissa << 13u); }
  if (exponent != 0u) { return sign | ((exponent + 112u) << 23u) | (mantissa << 13u); }
  if (mantissa == 0u) { return sign; }
  // Subnormal: normalise; the leading bit's position sets the f32 exponent.
  let top = firstLeadingBit(mantissa); // 0..9; the value is mantissa · 2^-24
  return sign | ((top + 103u) << 23u) | ((mantissa << (23u - top)) & 0x7fffffu);
}

// x rounded to the nearest f16 (ties to even) and widened back to f32, the value f16_bits would
// give, for the GEMMs' operands under mixed precision. Branch-free so that it inlines cheaply into
// unrolled register blocks: normal range rounds the low 13 mantissa bits away in the f32 pattern (a
// carry bumps the exponent), below 2^-14 values snap to multiples of 2^-24 (round() ties to even;
// the scaling is exact), past 65520 they become ±Inf, and NaN passes through.
fn round_f16(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  let magnitude = bits & 0x7fffffffu;
  let normal = bitcast<f32>((bits + 0xfffu + ((bits >> 13u) & 1u)) & 0xffffe000u);
  let subnormal = round(x * 16777216.0) * 5.9604644775390625e-8;
  let infinite = bitcast<f32>((bits & 0x80000000u) | 0x7f800000u);
  var rounded = select(normal, subnormal, magnitude < 0x38800000u);
  rounded = select(rounded, infinite, magnitude >= 0x477ff000u);
  return select(rounded, x, magnitude > 0x7f800000u);
}
