// torch.gather along one axis: x seen as [outer, n, inner], u32 indices and the output as
// [outer, k, inner], out[o, j, i] = x[o, indices[o, j, i], i]. An index past n reads 0 and takes no
// gradient, so nothing is read or written out of bounds. The gradient is owned, not scattered, as
// the embedding's is: a first pass buckets each column's k picks by index (a stable counting sort,
// one invocation per column (o, i)), then one invocation per element of dx sums the dy of its bucket
// in index order j. No atomics, so it repeats bit for bit; the work is n + k per column.
struct Params {
  outer: u32,
  n: u32,
  k: u32,
  inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
// Per column c: bucket ends at [c·n, c·n + n), then the picks j sorted by index at [outer·inner·n + c·k, … + k).
@group(0) @binding(6) var<storage, read_write> buckets: array<u32>;
@group(0) @binding(7) var<storage, read> bucketsIn: array<u32>;

const WG = 64u;

// #import grid

@compute @workgroup_size(WG)
fn gatherAxis(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let e = linearIndex(gid, groups);
  if (e >= params.outer * params.k * params.inner) { return; }
  let row = e / params.inner;
  let i = e - row * params.inner;
  let o = row / params.k;
  let id = indices[e];
  out[e] = select(0.0, x[min((o * params.n + id) * params.inner + i, params.outer * params.n * params.inner - 1u)], id < params.n);
}

// One invocation per column: count each index, turn the counts into starts, place every pick j at its
// bucket's next slot in order of j; each bucket's start then holds its end.
@compute @workgroup_size(WG)
fn gatherAxisBucket(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  let columns = params.outer * params.inner;
  if (c >= columns) { return; }
  let o = c / params.inner;
  let i = c - o * params.inner;
  let ends = c * params.n;
  let order = columns * params.n + c * params.k;
  for (var r = 0u; r < params.n; r++) { buckets[ends + r] = 0u; }
  for (var j = 0u; j < params.k; j++) {
    let id = indices[(o * params.k + j) * params.inner + i];
    if (id < params.n) { buckets[ends + id] += 1u; }
  }
  var start = 0u;
  for (var r = 0u; r < params.n; r++) { let size = buckets[ends + r]; buckets[ends + r] = start; start += size; }
  for (var j = 0u; j < params.k; j++) {
    let id = indices[(o * params.k + j) * params.inner + i];
    if (id < params.n) { buckets[order + buckets[ends + id]] = j; buckets[ends + id] += 1u; }
  }
}

@compute @workgroup_size(WG)
fn gatherAxisBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let d = linearIndex(gid, groups);
  if (d >= params.outer * params.n * params.inner) { return; }
  let row = d / params.inner;
  let i = d - row * params.inner;
  let o = row / params.n;
  let r = row - o * params.n;
  let c = o * params.inner + i;
  let ends = c * params.n;
  let order = params.outer * params.inner * params.n + c * params.k;
  // Bucket r starts where bucket r − 1 ends (the read stays in bounds when r is 0).
  var p = select(0u, bucketsIn[max(ends + r, 1u) - 1u], r > 0u);
  let end = bucketsIn[ends + r];
  var sum = 0.0;
  for (; p < end; p++) { sum += dy[(o * params.k + bucketsIn[order + p]) * params.inner + i]; }
  dx[d] = sum;
}
