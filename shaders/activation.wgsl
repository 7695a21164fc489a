// Elementwise activations and row-wise softmax. The activation is a pipeline constant, so each kind
// is its own specialised pipeline with no per-element branch on it. Backward passes take the forward
// OUTPUT y: every derivative here is a cheap function of y, and y is what the executor keeps alive.
// count: elements; cols: row length, read by softmaxRows only (elementwise entries pass 1).
struct Params { count: u32, cols: u32 }

override KIND: u32 = 0u;   // 0 relu, 1 sigmoid, 2 tanh; the launcher always sets it
const WG = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> yIn: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
// The same bindings seen four floats at a time, for forward4/backward4 (other entry points).
@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(3) var<storage, read> yIn4: array<vec4f>;
@group(0) @binding(4) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> dx4: array<vec4f>;

// #import grid

// #import sigmoid

fn activate(v: f32) -> f32 {
  switch KIND {
    case 0u: { return max(v, 0.0); }
    case 1u: { return sigmoid(v); }
    // tanh is exactly ±1 in f32 beyond |v| = 9; clamping keeps exp-based tanh implementations
    // from computing inf/inf.
    default: { return tanh(clamp(v, -15.0, 15.0)); }
  }
}

// dx from dy and the forward output.
fn gradient(out: f32, g: f32) -> f32 {
  switch KIND {
    case 0u: { return select(0.0, g, out > 0.0); }
    case 1u: { return g * out * (1.0 - out); }
    default: { return g * (1.0 - out * out); }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  y[i] = activate(x[i]);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  dx[i] = gradient(yIn[i], dy[i]);
}

// forward and backward on four elements per invocation, for tensors whose length and bindings are
// whole vec4s: llvmpipe loads a vec4 per lane for about the cost of one float, so these move
// memory-bound activations several times faster. params.count counts vec4s here.
@compute @workgroup_size(WG)
fn forward4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  let v = x4[i];
  y4[i] = vec4f(activate(v.x), activate(v.y), activate(v.z), activate(v.w));
}

@compute @workgroup_size(WG)
fn backward4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  let out = yIn4[i];
  let g = dy4[i];
  dx4[i] = vec4f(gradient(out.x, g.x), gradient(out.y, g.y), gradient(out.z, g.z), gradient(out.w, g.w));
}

// One invocation per row: rows are short (class counts), and a workgroup-wide reduction would cost
// more in barriers than it saves.
@compute @workgroup_size(64)
fn softmaxRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = gid.x + gid.y * groups.x * 64u;
  let cols = params.cols;
  if (row >= params.count / cols) { return; }
  let base = row * cols;
  var largest = x[base];
  for (var c = 1u; c < cols; c++) { largest = max(largest, x[base + c]); }
  var total = 0.0;
  for (var c = 0u; c < cols; c++) {
    let e = exp(x[base + c] - largest);
    y[base + c] = e;
    total += e;
  }
  let scale = 1.0 / total;
  for (var c = 0u; c < cols; c++) { y[base + c] *= scale; }
}
