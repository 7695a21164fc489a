// GELU in GPT-2's tanh form: y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Its own family rather than a
// kind in activation.wgsl: those backward passes read the forward output y, and GELU's derivative
// is not a function of y (it is not monotonic), so this backward reads x.
struct Params { count: u32 }

const WG = 256u;
const SQRT_2_OVER_PI = 0.7978845608028654;
const CUBIC = 0.044715;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
// The same bindings seen four floats at a time, for forward4/backward4.
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(3) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> dx4: array<vec4f>;

// #import grid

// tanh of the inner argument. tanh is exactly ±1 in f32 beyond |u| = 9; clamping keeps exp-based
// tanh implementations from computing inf/inf for large |x|.
fn innerTanh(v: vec4f) -> vec4f {
  return tanh(clamp(SQRT_2_OVER_PI * (v + CUBIC * v * v * v), vec4f(-15.0), vec4f(15.0)));
}

fn gelu(v: vec4f) -> vec4f {
  return 0.5 * v * (1.0 + innerTanh(v));
}

// d/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), t = the inner tanh.
fn geluSlope(v: vec4f) -> vec4f {
  let t = innerTanh(v);
  return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * CUBIC * v * v);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  y[i] = gelu(vec4f(x[i])).x;
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  dx[i] = dy[i] * geluSlope(vec4f(x[i])).x;
}

// Four elements per invocation for tensors whose length and bindings are whole vec4s (llvmpipe loads
// a vec4 per lane for about the cost of one float). params.count counts vec4s here.
@compute @workgroup_size(WG)
fn forward4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  y4[i] = gelu(x4[i]);
}

@compute @workgroup_size(WG)
fn backward4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  dx4[i] = dy4[i] * geluSlope(x4[i]);
}
