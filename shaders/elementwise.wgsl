// Elementwise arithmetic with NumPy broadcasting, unary functions, axis permutation, and the
// reduction of a broadcast gradient back to its operand's shape. The launcher collapses shapes to at most six dimensions
// (adjacent axes that broadcast alike merge), so most calls run at rank 1 or 2; RANK is a pipeline
// constant because llvmpipe runs integer division by a uniform lane by lane and rank 1 needs none.
struct Params {
  count: u32,
  // Output dimensions, outermost first; unused ones are 1.
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  // Element strides of a and b per output dimension (0 where that operand broadcasts).
  a0: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32,
  b0: u32, b1: u32, b2: u32, b3: u32, b4: u32, b5: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override RANK: u32 = 1u;
// binary: 0 a + b, 1 a − b, 2 a · b, 3 a / b; unary: 0 affine, 1 exp, 2 log, 3 sqrt.
override OP: u32 = 0u;

const WG = 256u;

// #import grid

// #import broadcast_axes

fn combine(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    default: { return x / y; }
  }
}

// out[i] = alpha · op(a[·], b[·]) over the output's elements.
@compute @workgroup_size(WG)
fn binary(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  var ia = 0u;
  var ib = 0u;
  var rest = i;
  for (var k = RANK - 1u; k > 0u; k--) {
    let d = dim(k);
    let coordinate = rest % d;
    rest = rest / d;
    ia += coordinate * strideA(k);
    ib += coordinate * strideB(k);
  }
  ia += rest * params.a0;
  ib += rest * params.b0;
  out[i] = params.alpha * combine(a[ia], b[ib]);
}

fn apply(x: f32) -> f32 {
  let z = params.alpha * x + params.beta;
  switch OP {
    case 1u: { return exp(z); }
    case 2u: { return log(z); }
    case 3u: { return sqrt(z); }
    default: { return z; }
  }
}

// out[i] = f(alpha · a[i] + beta), same shape in and out.
@compute @workgroup_size(WG)
fn unary(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  out[i] = apply(a[i]);
}

// out[j] = alpha · Σ a over every position of the broadcast shape (d0…) that operand element j was
// broadcast to. Here `count` is the operand's element count and the b-strides are the operand's own
// (0 on the axes it was broadcast along); each invocation sums its positions in a fixed order, so
// the result repeats bit for bit.
@compute @workgroup_size(WG)
fn sumToShape(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let j = linearIndex(gid, groups);
  if (j >= params.count) { return; }
  // Where element j sits in the full output, and how many positions fold onto it.
  var base = 0u;
  var outStride = 1u;
  var folded = 1u;
  for (var k = RANK; k > 0u; k--) {
    let d = dim(k - 1u);
    let s = strideB(k - 1u);
    if (s != 0u) { base += ((j / s) % d) * outStride; } else { folded *= d; }
    outStride *= d;
  }
  var sum = 0.0;
  for (var r = 0u; r < folded; r++) {
    var offset = 0u;
    var rest = r;
    var stride = 1u;
    for (var k = RANK; k > 0u; k--) {
      let d = dim(k - 1u);
      if (strideB(k - 1u) == 0u) {
        offset += (rest % d) * stride;
        rest = rest / d;
      }
      stride *= d;
    }
    sum += a[base + offset];
  }
  out[j] = params.alpha * sum;
}

// out[i] = beta.
@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  out[i] = params.beta;
}

// out[i] = a[·] with a read through its own strides per output axis: axes permuted (a transpose).
@compute @workgroup_size(WG)
fn permute(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  var ia = 0u;
  var rest = i;
  for (var k = RANK - 1u; k > 0u; k--) {
    let d = dim(k);
    ia += (rest % d) * strideA(k);
    rest = rest / d;
  }
  out[i] = a[ia + rest * params.a0];
}
