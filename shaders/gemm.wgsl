// C = act(alpha·op(A)·op(B) + beta·C + bias), batched; all matrices row-major f32.
// op(A) is m×k (A stored k×m when TRANS_A), op(B) is k×n (B stored n×k when TRANS_B).
//
// gemm_rows: one workgroup owns ROWS rows of C; each invocation owns COLS columns strided by the
// workgroup size. Every A element an invocation loads is the same for the whole workgroup, so on
// CPU rasterisers (llvmpipe runs a workgroup as SIMD lanes) it becomes one scalar load and a
// broadcast, and B loads of neighbouring lanes are neighbouring addresses. Any shape, any strides.
struct Params {
  m: u32, n: u32, k: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,
  alpha: f32, beta: f32,
  bias_axis: u32, // 0: no bias, 1: one per column (length n), 2: one per row (length m)
  relu: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ROWS: u32 = 4u;   // ≤ MAX_BLOCK
override COLS: u32 = 4u;   // ≤ MAX_BLOCK
override WG: u32 = 64u;
// Register arrays need a constant size; loops run to the override bounds and unroll once the
// pipeline's constants are known, leaving the unused tail dead.
const MAX_BLOCK = 8u;

fn a_index(base: u32, row: u32, p: u32) -> u32 {
  if (TRANS_A) { return base + p * params.m + row; }
  return base + row * params.k + p;
}

fn b_index(base: u32, p: u32, col: u32) -> u32 {
  if (TRANS_B) { return base + col * params.k + p; }
  return base + p * params.n + col;
}

// Scales, accumulates into C, adds bias and applies the activation for one output element.
fn finish(index: u32, row: u32, col: u32, sum: f32) -> f32 {
  var v = params.alpha * sum;
  // beta = 0 must not read C: it may hold NaN garbage from a previous tensor in the same buffer.
  if (params.beta != 0.0) { v += params.beta * c[index]; }
  if (params.bias_axis == 1u) { v += bias[col]; }
  if (params.bias_axis == 2u) { v += bias[row]; }
  if (params.relu != 0u) { v = max(v, 0.0); }
  return v;
}

@compute @workgroup_size(WG)
fn gemm_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = params.m;
  let n = params.n;
  let row0 = wid.y * ROWS;
  let col0 = wid.x * WG * COLS + lid.x;
  let base_a = wid.z * params.stride_a;
  let base_b = wid.z * params.stride_b;
  // Out-of-range rows and columns are clamped to the last valid one and computed redundantly:
  // cheaper than branching in the inner loop; their results are never stored.
  var rows: array<u32, MAX_BLOCK>;
  var cols: array<u32, MAX_BLOCK>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = min(row0 + r, m - 1u); }
  for (var j = 0u; j < COLS; j++) { cols[j] = min(col0 + j * WG, n - 1u); }
  var acc: array<array<f32, MAX_BLOCK>, MAX_BLOCK>;
  for (var p = 0u; p < params.k; p++) {
    var bv: array<f32, MAX_BLOCK>;
    for (var j = 0u; j < COLS; j++) { bv[j] = b[b_index(base_b, p, cols[j])]; }
    for (var r = 0u; r < ROWS; r++) {
      let av = a[a_index(base_a, rows[r], p)];
      for (var j = 0u; j < COLS; j++) { acc[r][j] = fma(av, bv[j], acc[r][j]); }
    }
  }
  let base_c = wid.z * params.stride_c;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    for (var j = 0u; j < COLS; j++) {
      let col = col0 + j * WG;
      if (col >= n) { break; }
      let index = base_c + row * n + col;
      c[index] = finish(index, row, col, acc[r][j]);
    }
  }
}
