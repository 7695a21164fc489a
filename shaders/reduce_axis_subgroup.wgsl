// Softmax and log-softmax along the last axis (reduce_axis.wgsl's softmaxAxis where inner = 1, same
// results up to summation order) with a workgroup per row: invocation i takes elements i, i + WG, …,
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

// 0 softmax, 1 log-softmax.
override LOG: u32 = 0u;

const WG = 128u;

// #import subgroup_rows

@compute @workgroup_size(WG)
fn softmaxRowsSubgroup(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
                       @builtin(local_invocation_index) local: u32,
                       @builtin(subgroup_invocation_id) id: u32, @builtin(subgroup_size) size: u32) {
  let row = workgroupRow(wid, groups);
  if (row >= params.outer) { return; }
  let lane = Lane(local, id, size);
  let base = row * params.n;
  var largest = x[base];
  for (var r = local; r < params.n; r += WG) { largest = max(largest, x[base + r]); }
  largest = rowMax(largest, lane);
  var total = 0.0;
  for (var r = local; r < params.n; r += WG) { total += exp(x[base + r] - largest); }
  total = rowSum(total, lane);
  if (LOG == 1u) {
    let logTotal = log(total);
    for (var r = local; r < params.n; r += WG) { y[base + r] = x[base + r] - largest - logTotal; }
  } else {
    let inverse = 1.0 / total;
    for (var r = local; r < params.n; r += WG) { y[base + r] = exp(x[base + r] - largest) * inverse; }
  }
}
