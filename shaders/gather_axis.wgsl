// torch.gather along one axis: x seen as [outer, n, inner], u32 indices and the output as
// [outer, k, inner], out[o, j, i] = x[o, indices[o, j, i], i]. An index past n reads 0 and takes no
// gradient, so nothing is read or written out of bounds. The gradient is owned, not scattered: one
// invocation per element of dx sums, in index order j, every dy that picked it, so it needs no
// atomics and repeats bit for bit (cost k per element of dx).
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

@compute @workgroup_size(WG)
fn gatherAxisBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let d = linearIndex(gid, groups);
  if (d >= params.outer * params.n * params.inner) { return; }
  let row = d / params.inner;
  let i = d - row * params.inner;
  let o = row / params.n;
  let r = row - o * params.n;
  var sum = 0.0;
  for (var j = 0u; j < params.k; j++) {
    let e = (o * params.k + j) * params.inner + i;
    if (indices[e] == r) { sum += dy[e]; }
  }
  dx[d] = sum;
}
