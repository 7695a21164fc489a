// The f16 GEMMs' epilogue for one output word (two adjacent columns of one row), in f32: scale,
// accumulate into C, bias, activation, then one rounding to f16 (f16_bits from lib/f16.wgsl). The
// importing shader declares params, c (packed f16 as u32) and bias (f32).
fn finish_pair(word: u32, row: u32, col: u32, sum: vec2f) -> u32 {
  var v = params.alpha * sum;
  // beta = 0 must not read C: it may hold NaN garbage from a previous tensor in the same buffer.
  if (params.beta != 0.0) { v += params.beta * unpack2x16float(c[word]); }
  if (params.bias_axis == 1u) { v += vec2f(bias[col], bias[col + 1u]); }
  if (params.bias_axis == 2u) { v += vec2f(bias[row]); }
  if (params.relu != 0u) { v = max(v, vec2f(0.0)); }
  return pack_f16(v.x, v.y);
}
