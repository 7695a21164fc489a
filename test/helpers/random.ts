// Seeded test data, so a failing case can be rerun exactly.
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** Largest |a-b| / max(|b|, floor): relative error that does not blow up near zero. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e) / Math.max(Math.abs(e), floor);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

/** `length` token ids below `vocab`. */
export function randomTokens(length: number, vocab: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length }, () => Math.floor(next() * vocab));
}

/** `batch` window starts in [0, last]. */
export function randomStarts(batch: number, last: number, seed: number): Uint32Array {
  const next = rng(seed);
  return Uint32Array.from({ length: batch }, () => Math.floor(next() * (last + 1)));
}
