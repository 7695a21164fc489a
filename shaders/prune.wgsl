// Re-applies a pruning mask after an optimizer step: weight[i] = 0 where bit i of the mask is clear.
// Recorded after the updates in every training step, so pruned weights are exactly zero after each.
struct Params { count: u32 }

@group(0) @binding(0) var<storage, read_write> weight: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG = 256u;

@compute @workgroup_size(WG)
fn applyMask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.count) { return; }
  let keep = (mask[i / 32u] >> (i % 32u)) & 1u;
  if (keep == 0u) { weight[i] = 0.0; }
}
