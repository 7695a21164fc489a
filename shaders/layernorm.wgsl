// Layer normalization over the last axis of a row-major [rows, cols] tensor, PyTorch's semantics
// (biased variance, eps inside the square root). One invocation per row, forward and backward: the
// row's statistics and its elementwise pass stay in one invocation's registers. On llvmpipe this
// beats a workgroup per row at every width tried (768 included): the tree reduction's barriers
// cost more than the lanes save. Across-row sums (dgamma, dbeta) are left to src/kernels/reduce.ts.
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

// #import grid

// y = (x − mean)·rstd·gamma + beta with rstd = 1/√(var + eps); saves mean and rstd per row.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = linearIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  // Two passes over the row (it is still in cache for the second): the mean of values shifted by
  // the first, so a large common offset does not swamp the f32 sum, then the squared deviations,
  // so the variance never comes from E[x²] − E[x]²'s cancellation.
  let shift = x[base];
  var shifted = 0.0;
  for (var c = 0u; c < params.cols; c++) { shifted += x[base + c] - shift; }
  let rowMean = shift + shifted / f32(params.cols);
  var squares = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let deviation = x[base + c] - rowMean;
    squares += deviation * deviation;
  }
  let scale = 1.0 / sqrt(squares / f32(params.cols) + params.eps);
  for (var c = 0u; c < params.cols; c++) { y[base + c] = (x[base + c] - rowMean) * scale * gamma[c] + beta[c]; }
  mean[row] = rowMean;
  rstd[row] = scale;
}

// With x̂ = (x − mean)·rstd and g = dy·gamma over the row's C values:
//   dx = rstd · (g − (Σg + x̂·Σg·x̂) / C).
// Also writes dy·x̂, whose column sums over rows are dgamma.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = linearIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let m = meanIn[row];
  let s = rstdIn[row];
  var sums = vec2f(0.0);
  for (var c = 0u; c < params.cols; c++) {
    let g = dy[base + c] * gamma[c];
    sums += vec2f(g, g * (x[base + c] - m) * s);
  }
  let means = sums / f32(params.cols);
  for (var c = 0u; c < params.cols; c++) {
    let i = base + c;
    let normalized = (x[i] - m) * s;
    dx[i] = s * (dy[i] * gamma[c] - means.x - normalized * means.y);
    dyXhat[i] = dy[i] * normalized;
  }
}
