// Inverted dropout: kept units are scaled by 1/(1 − rate) in training so inference is the identity.
// The mask is a pure function of (seed, step, stream, index), recomputed by the backward pass.
// #import rng

struct Params {
  count: u32,
  stream: u32,   // distinct per dropout layer, so layers draw independent masks
  rate: f32,
  scale: f32,    // 1 / (1 − rate), computed once in float64 on the CPU
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> seed: array<u32, 2>;   // [seed, step], rewritten every step
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

const WG = 256u;

// #import grid

// The kept-unit factor for element i: scale or 0. src/kernels/dropout.ts dropoutKeeps() is its twin.
fn keepFactor(i: u32) -> f32 {
  let stepSeed = rng_u32(seed[0], seed[1], 0u);
  return select(0.0, params.scale, rng_uniform(stepSeed, params.stream, i) >= params.rate);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  y[i] = x[i] * keepFactor(i);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  dx[i] = dy[i] * keepFactor(i);
}
