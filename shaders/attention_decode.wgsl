// Attention for incremental decoding against a key/value cache: each new query row attends to the
// cached keys 0..position of its head. The cache holds every earlier token's k and v laid out
// [heads, context, stride] with each head's row padded to stride = 4·⌈headDim/4⌉ floats, so decode
// reads it as whole aligned vec4s whatever the head width (the padding is never trusted: it is
// masked off where it could meet a finite value). The rows come straight from the fused projection
// qkv [rows, 3·width] (q | k | v, each [heads, headDim] per row), and the output is [rows, width],
// heads joined, which is what the output projection reads, so no permute is needed on either side.
//
// appendKeyValue writes each row's k and v into the cache at that row's position; decode then runs
// one invocation per (query row, head), its query and output held as vec4 chunks in private arrays
// while it streams over the cached keys with an online softmax, as attention.wgsl's forward does.
// The lanes of a workgroup are consecutive rows of one head, so at each step they read the same key.
// No workgroup memory and no barriers (on llvmpipe a barrier costs more than the loads it would
// share), one owner per output and a fixed order, so results repeat bit for bit. Positions are read
// from a buffer the decoder rewrites per token, so the recorded dispatches never change.

struct Params {
  heads: u32,
  dim: u32,      // headDim, 1 … 4·MAX_CHUNKS
  chunks: u32,   // ⌈dim/4⌉, read when CHUNKS = 0
  width: u32,    // heads · dim
  context: u32,  // cache rows per head
  rows: u32,     // query rows in this call
  scale: f32,    // 1/√dim
}

override CHUNKS: u32 = 0u;   // ⌈dim/4⌉ when it is small enough to unroll, else 0 (use params.chunks)

const WG = 64u;
const MAX_CHUNKS = 32u;      // dim ≤ 128
// A finite floor rather than −∞, so the first rescale is exp(floor − max) = 0, never NaN.
const FLOOR = -3.0e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> positions: array<u32>;   // [rows]
@group(0) @binding(2) var<storage, read> qkv: array<f32>;         // [rows, 3·width]
@group(0) @binding(3) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> vCache: array<f32>;
// The same caches seen four floats at a time, read-only, for decode.
@group(0) @binding(5) var<storage, read> kCache4: array<vec4f>;
@group(0) @binding(6) var<storage, read> vCache4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;   // [rows, width]

// #import grid

fn chunkCount() -> u32 {
  return select(params.chunks, CHUNKS, CHUNKS > 0u);
}

// Index of the first chunk of cache row `position` of `head`.
fn cacheChunk(head: u32, position: u32) -> u32 {
  return (head * params.context + position) * chunkCount();
}

// Which of chunk c's four elements lie inside the head's row.
fn inRow(c: u32) -> vec4<bool> {
  return vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u) < vec4u(params.dim);
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
  let slot = 4u * cacheChunk(channel / params.dim, position) + channel % params.dim;
  let source = row * 3u * params.width + channel;
  kCache[slot] = qkv[source + params.width];
  vCache[slot] = qkv[source + 2u * params.width];
}

// out[row, head] = softmax over keys j ≤ position of scale·q·k_j, times v_j.
@compute @workgroup_size(WG)
fn decode(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  let head = gid.y;
  if (row >= params.rows) { return; }
  let keys = min(positions[row] + 1u, params.context);
  var query: array<vec4f, MAX_CHUNKS>;
  var acc: array<vec4f, MAX_CHUNKS>;
  let qBase = row * 3u * params.width + head * params.dim;
  for (var c = 0u; c < chunkCount(); c++) {
    let d = qBase + 4u * c;
    // Elements past the row read as 0 (select, not a product, so whatever lies there cannot become NaN).
    query[c] = select(vec4f(0.0), vec4f(qkv[d], qkv[d + 1u], qkv[d + 2u], qkv[d + 3u]), inRow(c)) * params.scale;
  }
  var largest = FLOOR;
  var sum = 0.0;
  for (var j = 0u; j < keys; j++) {
    let base = cacheChunk(head, j);
    var score = 0.0;
    for (var c = 0u; c < chunkCount(); c++) { score += dot(query[c], select(vec4f(0.0), kCache4[base + c], inRow(c))); }
    let newMax = max(largest, score);
    let correction = exp(largest - newMax);
    let p = exp(score - newMax);
    sum = sum * correction + p;
    largest = newMax;
    for (var c = 0u; c < chunkCount(); c++) { acc[c] = acc[c] * correction + p * vCache4[base + c]; }
  }
  let inverse = 1.0 / sum;
  let oBase = row * params.width + head * params.dim;
  for (var c = 0u; c < chunkCount(); c++) {
    let value = acc[c] * inverse;
    for (var e = 0u; e < min(4u, params.dim - 4u * c); e++) { out[oBase + 4u * c + e] = value[e]; }
  }
}
