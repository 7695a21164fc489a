// Embedding lookup: out[i, :] = table[ids[i], :] for a [vocab, width] table, and its gradient
// dTable[v, :] = Σ of the dOut rows whose id is v. An id ≥ vocab reads nothing: its output row is
// zero and its gradient row goes nowhere.
struct Params {
  tokens: u32,
  vocab: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> dOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> dTable: array<f32>;

const WG = 64u;

fn rowOf(wid: vec3u, groups: vec3u) -> u32 {
  return wid.x + wid.y * groups.x;
}

// One workgroup per token, lanes along the row: the id is read once per row and the copy is
// contiguous.
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let token = rowOf(wid, groups);
  if (token >= params.tokens) { return; }
  let id = ids[token];
  let base = token * params.width;
  if (id >= params.vocab) {
    for (var c = lane; c < params.width; c += WG) { out[base + c] = 0.0; }
    return;
  }
  let source = id * params.width;
  for (var c = lane; c < params.width; c += WG) { out[base + c] = table[source + c]; }
}

// Owner computes: one workgroup per vocabulary row, each lane owning columns of it, scanning every
// token's id in order and adding the matching dOut rows. Each sum has one owner and a fixed order,
// so there are no float atomics and the result repeats bit for bit. The cost is vocab·width·tokens
// id comparisons (uniform across the workgroup's lanes): fine for a character-level vocabulary and
// batch·T of a few thousand; a large vocabulary would want the ids bucketed by value first.
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let v = rowOf(wid, groups);
  if (v >= params.vocab) { return; }
  for (var c = lane; c < params.width; c += WG) {
    var sum = 0.0;
    for (var i = 0u; i < params.tokens; i++) {
      if (ids[i] == v) { sum += dOut[i * params.width + c]; }
    }
    dTable[v * params.width + c] = sum;
  }
}
