// Layer normalization forward (layernorm.wgsl's `forward`, same results up to summation order) with
// a workgroup per row: invocation i takes columns i, i + WG, …, and the row's two sums are joined
// with subgroup operations (lib/subgroup_rows.wgsl). The module compiles only where the device has
// `subgroups`; src/kernels/layernorm.ts builds it nowhere else.
enable subgroups;

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

const WG = 128u;

// #import subgroup_rows

// The same two passes as `forward`: the mean of values shifted by the row's first, then the squared
// deviations from it.
@compute @workgroup_size(WG)
fn forwardSubgroup(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
                   @builtin(local_invocation_index) local: u32,
                   @builtin(subgroup_invocation_id) id: u32, @builtin(subgroup_size) size: u32) {
  let row = workgroupRow(wid, groups);
  if (row >= params.rows) { return; }
  let lane = Lane(local, id, size);
  let base = row * params.cols;
  let shift = x[base];
  var shifted = 0.0;
  for (var c = local; c < params.cols; c += WG) { shifted += x[base + c] - shift; }
  let rowMean = shift + rowSum(shifted, lane) / f32(params.cols);
  var squares = 0.0;
  for (var c = local; c < params.cols; c += WG) {
    let deviation = x[base + c] - rowMean;
    squares += deviation * deviation;
  }
  let scale = 1.0 / sqrt(rowSum(squares, lane) / f32(params.cols) + params.eps);
  for (var c = local; c < params.cols; c += WG) { y[base + c] = (x[base + c] - rowMean) * scale * gamma[c] + beta[c]; }
  if (local == 0u) {
    mean[row] = rowMean;
    rstd[row] = scale;
  }
}
