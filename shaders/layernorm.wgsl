// Layer normalization over the last axis of a row-major [rows, cols] tensor, PyTorch's semantics
// (biased variance, eps inside the square root). One workgroup per row, forward and backward: the
// row's statistics and its elementwise pass share the workgroup, so nothing round-trips through
// another dispatch. Across-row sums (dgamma, dbeta) are left to src/kernels/reduce.ts.
struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read> meanIn: array<f32>;
@group(0) @binding(9) var<storage, read> rstdIn: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dyXhat: array<f32>;

const WG = 64u;

// #import workgroup_reduce

fn rowOf(wid: vec3u, groups: vec3u) -> u32 {
  return wid.x + wid.y * groups.x;
}

// y = (x − mean)·rstd·gamma + beta with rstd = 1/√(var + eps); saves mean and rstd per row.
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = rowOf(wid, groups);
  if (row >= params.rows) { return; }   // uniform across the workgroup
  let base = row * params.cols;
  var moments = Moments(0.0, 0.0, 0.0);
  for (var c = lane; c < params.cols; c += WG) { moments = welford(moments, x[base + c]); }
  let total = workgroupMoments(lane, moments);
  let scale = 1.0 / sqrt(total.m2 / f32(params.cols) + params.eps);
  for (var c = lane; c < params.cols; c += WG) { y[base + c] = (x[base + c] - total.mean) * scale * gamma[c] + beta[c]; }
  if (lane == 0u) {
    mean[row] = total.mean;
    rstd[row] = scale;
  }
}

// With x̂ = (x − mean)·rstd and g = dy·gamma over the row's C values:
//   dx = rstd · (g − (Σg + x̂·Σg·x̂) / C).
// Also writes dy·x̂, whose column sums over rows are dgamma.
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = rowOf(wid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let m = meanIn[row];
  let s = rstdIn[row];
  var sums = vec2f(0.0);
  for (var c = lane; c < params.cols; c += WG) {
    let g = dy[base + c] * gamma[c];
    sums += vec2f(g, g * (x[base + c] - m) * s);
  }
  let total = workgroupSum(lane, sums) / f32(params.cols);
  for (var c = lane; c < params.cols; c += WG) {
    let i = base + c;
    let normalized = (x[i] - m) * s;
    dx[i] = s * (dy[i] * gamma[c] - total.x - normalized * total.y);
    dyXhat[i] = dy[i] * normalized;
  }
}
