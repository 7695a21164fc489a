// Counter-based random numbers: a pure function of (seed, stream, counter), so a dropout mask can be
// recomputed in the backward pass instead of stored, and src/kernels/rng.ts reproduces it bit for bit.
fn rng_hash(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn rng_u32(seed: u32, stream: u32, counter: u32) -> u32 {
  return rng_hash(rng_hash(rng_hash(seed) ^ stream) + counter);
}

// Uniform in [0, 1) with 24 bits: exactly representable in f32 on every device.
fn rng_uniform(seed: u32, stream: u32, counter: u32) -> f32 {
  return f32(rng_u32(seed, stream, counter) >> 8u) * (1.0 / 16777216.0);
}
