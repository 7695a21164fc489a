// Reductions and normalizations along one axis of a tensor seen as [outer, n, inner]: the sum (a
// mean is the sum with alpha = 1/n), the maximum with its argmax, softmax and log-softmax, and their
// gradients. One invocation owns one column (o, i) and walks its n elements in order, so every
// result repeats bit for bit and no atomics are needed. A reduction over several axes runs this once
// per axis.
struct Params {
  outer: u32,
  n: u32,
  inner: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> yIn: array<f32>;
@group(0) @binding(6) var<storage, read> argmaxIn: array<u32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

// softmaxAxis and softmaxAxisBackward: 0 softmax, 1 log-softmax.
override LOG: u32 = 0u;

const WG = 64u;

// #import grid

// The first element of column c of the [outer, n, inner] view (its elements are `inner` apart).
fn columnStart(c: u32) -> u32 {
  let o = c / params.inner;
  return o * params.n * params.inner + (c - o * params.inner);
}

// y[c] = alpha · Σ_r x[column c, r].
@compute @workgroup_size(WG)
fn sumAxis(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  if (c >= params.outer * params.inner) { return; }
  let base = columnStart(c);
  var sum = 0.0;
  for (var r = 0u; r < params.n; r++) { sum += x[base + r * params.inner]; }
  y[c] = params.alpha * sum;
}

// y[c] = max_r x[column c, r]; argmax[c] = the first r that holds it (ties go to the lowest index).
@compute @workgroup_size(WG)
fn maxAxis(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  if (c >= params.outer * params.inner) { return; }
  let base = columnStart(c);
  var best = 0u;
  var largest = x[base];
  for (var r = 1u; r < params.n; r++) {
    let v = x[base + r * params.inner];
    if (v > largest) { largest = v; best = r; }
  }
  y[c] = largest;
  argmax[c] = best;
}

// The gradient of sumAxis: dx[column c, r] = alpha · dy[c] for every r.
@compute @workgroup_size(WG)
fn sumAxisBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  if (c >= params.outer * params.inner) { return; }
  let base = columnStart(c);
  let g = params.alpha * dy[c];
  for (var r = 0u; r < params.n; r++) { dx[base + r * params.inner] = g; }
}

// The gradient of maxAxis: all of dy[c] goes to the recorded argmax, zero elsewhere.
@compute @workgroup_size(WG)
fn maxAxisBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  if (c >= params.outer * params.inner) { return; }
  let base = columnStart(c);
  let winner = argmaxIn[c];
  let g = dy[c];
  for (var r = 0u; r < params.n; r++) { dx[base + r * params.inner] = select(0.0, g, r == winner); }
}

// Softmax (or log-softmax) of each column, shifted by its maximum so exp never overflows.
@compute @workgroup_size(WG)
fn softmaxAxis(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  if (c >= params.outer * params.inner) { return; }
  let base = columnStart(c);
  var largest = x[base];
  for (var r = 1u; r < params.n; r++) { largest = max(largest, x[base + r * params.inner]); }
  var total = 0.0;
  for (var r = 0u; r < params.n; r++) { total += exp(x[base + r * params.inner] - largest); }
  if (LOG == 1u) {
    let logTotal = log(total);
    for (var r = 0u; r < params.n; r++) { let i = base + r * params.inner; y[i] = x[i] - largest - logTotal; }
  } else {
    let inverse = 1.0 / total;
    for (var r = 0u; r < params.n; r++) { let i = base + r * params.inner; y[i] = exp(x[i] - largest) * inverse; }
  }
}

// From the forward output: softmax dx = y · (dy − Σ dy·y); log-softmax dx = dy − exp(y) · Σ dy.
@compute @workgroup_size(WG)
fn softmaxAxisBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = linearIndex(gid, groups);
  if (c >= params.outer * params.inner) { return; }
  let base = columnStart(c);
  var total = 0.0;
  for (var r = 0u; r < params.n; r++) {
    let i = base + r * params.inner;
    total += select(dy[i] * yIn[i], dy[i], LOG == 1u);
  }
  for (var r = 0u; r < params.n; r++) {
    let i = base + r * params.inner;
    dx[i] = select(yIn[i] * (dy[i] - total), dy[i] - exp(yIn[i]) * total, LOG == 1u);
  }
}
