// Attention for incremental decoding against a key/value cache: each new query row attends to the
// cached keys 0..position of its head, where the cache holds every earlier token's k and v laid out
// [heads, context, headDim]. The rows come straight from the fused projection qkv [rows, 3·width]
// (q | k | v, each [heads, headDim] per row), and the output is [rows, width], heads joined, which is
// what the output projection reads, so no permute is needed on either side.
//
// appendKeyValue writes each row's k and v into the cache at that row's position; decode then runs
// one workgroup per (head, query row). Its lanes split the keys into tiles of WG: each lane scores
// one key of the tile into workgroup memory, then every lane folds the tile's scores into the same
// online softmax (all lanes compute the same maximum and sum, in the same order) and accumulates the
// value columns it owns. Every output has one owner and a fixed summation order, so results repeat
// bit for bit. Positions are read from a buffer the decoder rewrites per token, so the recorded
// dispatches never change.

struct Params {
  heads: u32,
  dim: u32,      // headDim, 1 … MAX_DIM
  width: u32,    // heads · dim
  context: u32,  // cache rows per head
  rows: u32,     // query rows in this call
  scale: f32,    // 1/√dim
}

const WG = 64u;
const MAX_DIM = 128u;
const COLUMNS_PER_LANE = 2u;   // MAX_DIM / WG value columns owned by each lane
// A finite floor rather than −∞, so the first rescale is exp(floor − max) = 0, never NaN.
const FLOOR = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> positions: array<u32>;   // [rows]
@group(0) @binding(2) var<storage, read> qkv: array<f32>;         // [rows, 3·width]
@group(0) @binding(3) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // [rows, width]

var<workgroup> query: array<f32, MAX_DIM>;
var<workgroup> scores: array<f32, WG>;

// #import grid

fn cacheIndex(head: u32, position: u32, d: u32) -> u32 {
  return (head * params.context + position) * params.dim + d;
}

// One invocation per (row, channel) of k and v; a row whose position is past the cache writes nothing.
@compute @workgroup_size(WG)
fn appendKeyValue(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.rows * params.width) { return; }
  let row = i / params.width;
  let channel = i % params.width;
  let position = positions[row];
  if (position >= params.context) { return; }
  let slot = cacheIndex(channel / params.dim, position, channel % params.dim);
  let source = row * 3u * params.width + channel;
  kCache[slot] = qkv[source + params.width];
  vCache[slot] = qkv[source + 2u * params.width];
}

// out[row, head] = softmax over keys j ≤ position of scale·q·k_j, times v_j.
@compute @workgroup_size(WG)
fn decode(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let head = wid.x;
  let row = wid.y;
  let keys = min(positions[row] + 1u, params.context);
  let qBase = row * 3u * params.width + head * params.dim;
  for (var d = lane; d < params.dim; d += WG) { query[d] = qkv[qBase + d] * params.scale; }
  workgroupBarrier();

  var largest = FLOOR;
  var sum = 0.0;
  var acc: array<f32, COLUMNS_PER_LANE>;
  for (var tile = 0u; tile < keys; tile += WG) {
    let key = tile + lane;
    var score = FLOOR;
    if (key < keys) {
      score = 0.0;
      let kBase = cacheIndex(head, key, 0u);
      for (var d = 0u; d < params.dim; d++) { score += query[d] * kCache[kBase + d]; }
    }
    scores[lane] = score;
    workgroupBarrier();

    let count = min(WG, keys - tile);
    var tileMax = FLOOR;
    for (var j = 0u; j < count; j++) { tileMax = max(tileMax, scores[j]); }
    let newMax = max(largest, tileMax);
    let correction = exp(largest - newMax);
    sum *= correction;
    for (var c = 0u; c < COLUMNS_PER_LANE; c++) { acc[c] *= correction; }
    for (var j = 0u; j < count; j++) {
      let p = exp(scores[j] - newMax);
      sum += p;
      let vBase = cacheIndex(head, tile + j, 0u);
      for (var c = 0u; c < COLUMNS_PER_LANE; c++) {
        let d = lane + c * WG;
        if (d < params.dim) { acc[c] += p * vCache[vBase + d]; }
      }
    }
    largest = newMax;
    // The next tile overwrites the scores every lane is still reading.
    workgroupBarrier();
  }

  let oBase = row * params.width + head * params.dim;
  for (var c = 0u; c < COLUMNS_PER_LANE; c++) {
    let d = lane + c * WG;
    if (d < params.dim) { out[oBase + d] = acc[c] / sum; }
  }
}
