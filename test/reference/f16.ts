// An oracle for f32 → f16 rounding that shares no code or bit tricks with src/data/f16.ts: every
// finite f16 value is listed in float64, and the nearest one to x is found by bisection, a tie going
// to the even bit pattern. IEEE 754 rounds as if the exponent were unbounded, so values at or past
// 65520 (halfway from 65504 to 2^16, whose pattern is even) become Inf.
const FINITE_MAGNITUDES: number[] = [];
for (let exponent = 0; exponent < 31; exponent++) {
  for (let mantissa = 0; mantissa < 1024; mantissa++) {
    FINITE_MAGNITUDES.push(exponent === 0 ? mantissa / 1024 * 2 ** -14 : (1 + mantissa / 1024) * 2 ** (exponent - 15));
  }
}

/** The f16 bit pattern nearest to the float64 `x` (NaN → the quiet NaN 0x7e00). */
export function nearestF16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(x);
  if (magnitude >= 65520) return sign | 0x7c00;
  let lo = 0, hi = FINITE_MAGNITUDES.length - 1; // FINITE_MAGNITUDES[lo] ≤ magnitude < [hi] once narrowed
  if (magnitude >= FINITE_MAGNITUDES[hi]!) return sign | hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (FINITE_MAGNITUDES[mid]! <= magnitude) lo = mid; else hi = mid;
  }
  const below = magnitude - FINITE_MAGNITUDES[lo]!, above = FINITE_MAGNITUDES[hi]! - magnitude;
  const pick = below < above ? lo : above < below ? hi : (lo % 2 === 0 ? lo : hi);
  return sign | pick;
}

/** Every f16 value in float64, by bit pattern (NaN patterns give NaN). */
export function f16PatternValue(bits: number): number {
  const exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * FINITE_MAGNITUDES[exponent * 1024 + mantissa]!;
}
