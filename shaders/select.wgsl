// Choosing elements by a condition, with NumPy broadcasting of every operand: where(cond, a, b)
// and maskedFill(x, mask, value), and the gradient that routes dy to the side that was chosen. The
// condition is read as raw 32-bit words so one binding takes u32 masks and f32 0/1 masks alike; an
// f32 condition counts as true unless it is ±0. Shapes are collapsed by the launcher to at most six
// dimensions, as in elementwise.wgsl.
struct Params {
  count: u32,
  // Output dimensions, outermost first; unused ones are 1.
  d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
  // Element strides of cond, a and b per output dimension (0 where that operand broadcasts).
  c0: u32, c1: u32, c2: u32, c3: u32, c4: u32, c5: u32,
  a0: u32, a1: u32, a2: u32, a3: u32, a4: u32, a5: u32,
  b0: u32, b1: u32, b2: u32, b3: u32, b4: u32, b5: u32,
  // maskedFill's fill value.
  value: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cond: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

override RANK: u32 = 1u;
// 1 when cond holds f32 values, 0 for u32.
override COND_F32: u32 = 0u;
// whereBackward: 1 keeps dy where cond is true (a's gradient), 0 where it is false (b's, x's).
override TAKE_TRUE: u32 = 1u;

const WG = 256u;

// #import grid

// #import broadcast_axes

fn strideC(k: u32) -> u32 {
  switch k { case 0u: { return params.c0; } case 1u: { return params.c1; } case 2u: { return params.c2; }
    case 3u: { return params.c3; } case 4u: { return params.c4; } default: { return params.c5; } }
}

// Where output element i reads cond, a and b.
fn sources(i: u32) -> vec3u {
  var at = vec3u(0u);
  var rest = i;
  for (var k = RANK - 1u; k > 0u; k--) {
    let d = dim(k);
    let coordinate = rest % d;
    rest = rest / d;
    at += coordinate * vec3u(strideC(k), strideA(k), strideB(k));
  }
  return at + rest * vec3u(params.c0, params.a0, params.b0);
}

fn truthy(word: u32) -> bool {
  if (COND_F32 == 1u) { return (word & 0x7fffffffu) != 0u; }
  return word != 0u;
}

// out[i] = cond ? a : b.
@compute @workgroup_size(WG)
fn whereForward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  let at = sources(i);
  out[i] = select(b[at.z], a[at.y], truthy(cond[at.x]));
}

// out[i] = mask ? value : x, with x read through the b strides.
@compute @workgroup_size(WG)
fn maskedFillForward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  let at = sources(i);
  out[i] = select(b[at.z], params.value, truthy(cond[at.x]));
}

// out[i] = dy[i] on the chosen side, 0 on the other; out and dy have the output's shape.
@compute @workgroup_size(WG)
fn whereBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  let at = sources(i);
  out[i] = select(0.0, dy[i], truthy(cond[at.x]) == (TAKE_TRUE == 1u));
}
