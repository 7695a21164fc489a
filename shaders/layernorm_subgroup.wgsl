// Layer normalization's row passes (layernorm.wgsl's `forward` and `backward`, same results up to
// summation order) with a workgroup per row: invocation i takes columns i, i + WG, …, and the row's
// two sums are joined with subgroup operations (lib/subgroup_rows.wgsl). The module compiles only where the device has
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
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read> meanIn: array<f32>;
@group(0) @binding(9) var<storage, read> rstdIn: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dyXhat: array<f32>;

const WG = 128u;

// #import subgroup_rows

// The same two passes as `forward`: the mean of values shifted by the row's first, then the squared
// deviations from it.
@compute @workgroup_size(WG)
fn forwardSubgroup(group: RowGroup, lane: Lane) {
  let row = workgroupRow(group);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let shift = x[base];
  var shifted = 0.0;
  for (var c = lane.local; c < params.cols; c += WG) { shifted += x[base + c] - shift; }
  let rowMean = shift + rowSum(shifted, lane) / f32(params.cols);
  var squares = 0.0;
  for (var c = lane.local; c < params.cols; c += WG) {
    let deviation = x[base + c] - rowMean;
    squares += deviation * deviation;
  }
  let scale = 1.0 / sqrt(rowSum(squares, lane) / f32(params.cols) + params.eps);
  for (var c = lane.local; c < params.cols; c += WG) { y[base + c] = (x[base + c] - rowMean) * scale * gamma[c] + beta[c]; }
  if (lane.local == 0u) {
    mean[row] = rowMean;
    rstd[row] = scale;
  }
}

// `backward`'s row pass: dx = rstd · (g − (Σg + x̂·Σg·x̂) / C) with g = dy·gamma, and dy·x̂ for dgamma.
@compute @workgroup_size(WG)
fn backwardSubgroup(group: RowGroup, lane: Lane) {
  let row = workgroupRow(group);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let m = meanIn[row];
  let s = rstdIn[row];
  var sums = vec2f(0.0);
  for (var c = lane.local; c < params.cols; c += WG) {
    let g = dy[base + c] * gamma[c];
    sums += vec2f(g, g * (x[base + c] - m) * s);
  }
  let means = vec2f(rowSum(sums.x, lane), rowSum(sums.y, lane)) / f32(params.cols);
  for (var c = lane.local; c < params.cols; c += WG) {
    let i = base + c;
    let normalized = (x[i] - m) * s;
    dx[i] = s * (dy[i] * gamma[c] - means.x - normalized * means.y);
    dyXhat[i] = dy[i] * normalized;
  }
}
