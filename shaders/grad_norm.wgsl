// The global L2 norm of many gradient tensors and the clipping scale torch.nn.utils.clip_grad_norm_
// would apply. Deterministic: each tensor is reduced to a fixed number of partial sums of squares,
// each taken in a fixed order, and one workgroup adds the partials up; no atomics anywhere.
struct PartialParams { count: u32, first_partial: u32 }
struct FinishParams { partials: u32, max_norm: f32, clipping: u32 }

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(2) var<uniform> partial_params: PartialParams;
@group(0) @binding(3) var<storage, read_write> clip: array<f32>;
@group(0) @binding(4) var<uniform> finish_params: FinishParams;

const WG = 64u;
var<workgroup> sums: array<f32, WG>;

// Folds sums[] into sums[0] with a fixed tree; every invocation must call it.
fn tree_sum(lid: u32) {
  for (var width = WG / 2u; width > 0u; width = width / 2u) {
    workgroupBarrier();
    if (lid < width) { sums[lid] = sums[lid] + sums[lid + width]; }
  }
  workgroupBarrier();
}

// One workgroup per partial: invocations sum strided squares in registers (cheap on llvmpipe,
// where barriers are not), then the workgroup folds its 64 registers into one partial.
@compute @workgroup_size(WG)
fn partial_sums(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let stride = groups.x * WG;
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < partial_params.count; i += stride) {
    let g = grad[i];
    acc += g * g;
  }
  sums[lid] = acc;
  tree_sum(lid);
  if (lid == 0u) { scratch[partial_params.first_partial + wid.x] = sums[0]; }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < finish_params.partials; i += WG) { acc += scratch[i]; }
  sums[lid] = acc;
  tree_sum(lid);
  if (lid == 0u) {
    let norm = sqrt(sums[0]);
    var scale = 1.0;
    if (finish_params.clipping != 0u) { scale = min(1.0, finish_params.max_norm / (norm + 1e-6)); }
    clip[0] = scale;
    clip[1] = norm;
  }
}
