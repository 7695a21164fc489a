// Deterministic reductions: every sum is taken in a fixed order (per-invocation strided partial
// sums, then a fixed tree in workgroup memory), never with atomics, so a run repeats bit for bit.
struct Params {
  batch: u32,
  channels: u32,
  spatial: u32,   // H·W for NCHW tensors; 1 for Dense activations [batch, channels]
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> indices: array<u32>;

const WG = 64u;
var<workgroup> partial: array<f32, WG>;

// One workgroup per channel (a 2-D grid past the per-dimension limit). Each invocation sums a
// strided slice of the channel's batch·spatial elements in a register; six barriers finish the job,
// which on llvmpipe beats a tree over every element.
@compute @workgroup_size(WG)
fn biasGradient(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let channel = wid.x + wid.y * groups.x;
  let perChannel = params.batch * params.spatial;
  var sum = 0.0;
  if (channel < params.channels) {
    for (var j = lane; j < perChannel; j += WG) {
      let n = j / params.spatial;
      let s = j - n * params.spatial;
      sum += dy[(n * params.channels + channel) * params.spatial + s];
    }
  }
  partial[lane] = sum;
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { partial[lane] += partial[lane + width]; }
  }
  if (lane == 0u && channel < params.channels) { dbias[channel] = partial[0]; }
}

// biasGradient for spatial = 1 ([batch rows, channels columns], a Dense layer's dy): one invocation
// per column summing down its rows, so the lanes of a workgroup read neighbouring words of each row
// and need no barrier. The per-channel workgroups above read one word per row with a stride of
// `channels` instead, several times slower on llvmpipe for token sequences' many rows.
@compute @workgroup_size(WG)
fn biasGradientColumns(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let channel = gid.x + gid.y * groups.x * WG;
  if (channel >= params.channels) { return; }
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) { sum += dy[n * params.channels + channel]; }
  dbias[channel] = sum;
}

// Row-wise argmax over x as [batch rows, channels cols]: one invocation per row, first maximum wins.
@compute @workgroup_size(64)
fn argmaxRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = gid.x + gid.y * groups.x * 64u;
  if (row >= params.batch) { return; }
  let base = row * params.channels;
  var best = 0u;
  var largest = x[base];
  for (var c = 1u; c < params.channels; c++) {
    let v = x[base + c];
    if (v > largest) { largest = v; best = c; }
  }
  indices[row] = best;
}
