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
// The tokens bucketed by id: [first slot per id (vocab) | count per id (vocab) | token indices
// (tokens), ascending within each id's run].
@group(0) @binding(6) var<storage, read_write> buckets: array<u32>;
@group(0) @binding(7) var<storage, read> bucketsIn: array<u32>;

const WG = 64u;

// #import grid

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

// The gradient is a counting sort then a gather. bucketIds: one invocation per id v counts the ids
// below v (its run's first slot) and equal to v, then lists v's tokens in ascending order. With no
// float atomics and each table row summed by one owner in token order, the result repeats bit for
// bit. Cost: 2·vocab·tokens id comparisons (uniform across a workgroup's lanes, which all read the
// same id) plus tokens·width adds; for a vocabulary in the tens of thousands the comparisons
// dominate, and a parallel radix sort would be the next step.
@compute @workgroup_size(WG)
fn bucketIds(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let v = linearIndex(gid, groups);
  if (v >= params.vocab) { return; }
  var below = 0u;
  var equal = 0u;
  for (var i = 0u; i < params.tokens; i++) {
    let id = ids[i];
    below += select(0u, 1u, id < v);
    equal += select(0u, 1u, id == v);
  }
  buckets[v] = below;
  buckets[params.vocab + v] = equal;
  let first = 2u * params.vocab + below;
  var listed = 0u;
  for (var i = 0u; listed < equal; i++) {
    if (ids[i] == v) {
      buckets[first + listed] = i;
      listed++;
    }
  }
}

// One workgroup per table row, lanes along its columns, adding the row's tokens' dOut rows in order.
// Rows no token names become zero.
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32) {
  let v = rowOf(wid, groups);
  if (v >= params.vocab) { return; }
  let first = 2u * params.vocab + bucketsIn[v];
  let count = bucketsIn[params.vocab + v];
  for (var c = lane; c < params.width; c += WG) {
    var sum = 0.0;
    for (var n = 0u; n < count; n++) { sum += dOut[bucketsIn[first + n] * params.width + c]; }
    dTable[v * params.width + c] = sum;
  }
}
