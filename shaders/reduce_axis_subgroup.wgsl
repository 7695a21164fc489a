// Softmax and log-softmax along the last axis and their gradients (reduce_axis.wgsl's softmaxAxis
// and softmaxAxisBackward where inner = 1, same results up to summation order) with a workgroup per row: invocation i takes elements i, i + WG, …,
// and the row's maximum and sum are joined with subgroup operations (lib/subgroup_rows.wgsl). The
// module compiles only where the device has `subgroups`; src/kernels/reduce_axis.ts builds it
// nowhere else.
enable subgroups;

struct Params {
  outer: u32,
  n: u32,
  inner: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> yIn: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// 0 softmax, 1 log-softmax.
override LOG: u32 = 0u;

const WG = 128u;

// #import subgroup_rows

@compute @workgroup_size(WG)
fn softmaxRowsSubgroup(group: RowGroup, lane: Lane) {
  let row = workgroupRow(group);
  if (row >= params.outer) { return; }
  let base = row * params.n;
  var largest = x[base];
  for (var r = lane.local; r < params.n; r += WG) { largest = max(largest, x[base + r]); }
  largest = rowMax(largest, lane);
  var total = 0.0;
  for (var r = lane.local; r < params.n; r += WG) { total += exp(x[base + r] - largest); }
  total = rowSum(total, lane);
  if (LOG == 1u) {
    let logTotal = log(total);
    for (var r = lane.local; r < params.n; r += WG) { y[base + r] = x[base + r] - largest - logTotal; }
  } else {
    let inverse = 1.0 / total;
    for (var r = lane.local; r < params.n; r += WG) { y[base + r] = exp(x[base + r] - largest) * inverse; }
  }
}

// From the forward output: softmax dx = y · (dy − Σ dy·y); log-softmax dx = dy − exp(y) · Σ dy.
@compute @workgroup_size(WG)
fn softmaxRowsBackwardSubgroup(group: RowGroup, lane: Lane) {
  let row = workgroupRow(group);
  if (row >= params.outer) { return; }
  let base = row * params.n;
  var total = 0.0;
  for (var r = lane.local; r < params.n; r += WG) {
    let i = base + r;
    total += select(dy[i] * yIn[i], dy[i], LOG == 1u);
  }
  total = rowSum(total, lane);
  for (var r = lane.local; r < params.n; r += WG) {
    let i = base + r;
    dx[i] = select(yIn[i] * (dy[i] - total), dy[i] - exp(yIn[i]) * total, LOG == 1u);
  }
}
