// C = act(alpha·op(A)·op(B) + beta·C + bias) with A, B and C stored as f16, packed two per u32
// (element 2i in the low half of word i, as array<f16> lays them out), and every product and sum
// in f32: the portable f16 GEMM, for devices without shader-f16. Shapes and transposes as in
// gemm.wgsl; bias stays f32. Halves are read one element at a time by index, so rows that start in
// the middle of a word (k or a stride odd) need nothing special. C is written a word at a time, so
// the launcher requires n even and, batched, stride_c even: every word then lies in one row of one
// batch item and no two invocations share one.
//
// gemm16_rows: gemm_rows's shape. A workgroup owns ROWS rows of C; each invocation owns COLS2
// pairs of adjacent columns, pairs strided by the workgroup size.
// #import gemm_params

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> c: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// #import f16
// #import gemm16_epilogue

override ROWS: u32 = 8u;   // ≤ MAX_ROWS
override COLS2: u32 = 4u;  // ≤ MAX_COLS2
override WG: u32 = 8u;
const MAX_ROWS = 16u;
const MAX_COLS2 = 4u;

fn a_at(e: u32) -> f32 { return unpack2x16float(a[e >> 1u])[e & 1u]; }
fn b_at(e: u32) -> f32 { return unpack2x16float(b[e >> 1u])[e & 1u]; }

// B's elements e and e + 1: one word when e is even, else the halves of two.
fn b_pair(e: u32) -> vec2f {
  let first = unpack2x16float(b[e >> 1u]);
  if ((e & 1u) == 0u) { return first; }
  return vec2f(first.y, unpack2x16float(b[(e >> 1u) + 1u]).x);
}

@compute @workgroup_size(WG)
fn gemm16_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let pairs_per_row = n / 2u;
  let row0 = wid.y * ROWS;
  let pair0 = wid.x * WG * COLS2 + lid.x;
  let base_a = wid.z * params.stride_a;
  let base_b = wid.z * params.stride_b;
  // Out-of-range rows and pairs are clamped to the last valid one and computed redundantly; their
  // results are never stored.
  var rows: array<u32, MAX_ROWS>;
  var cols: array<u32, MAX_COLS2>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = min(row0 + r, m - 1u); }
  for (var j = 0u; j < COLS2; j++) { cols[j] = 2u * min(pair0 + j * WG, pairs_per_row - 1u); }
  var acc: array<array<vec2f, MAX_COLS2>, MAX_ROWS>;
  for (var p = 0u; p < k; p++) {
    var bv: array<vec2f, MAX_COLS2>;
    for (var j = 0u; j < COLS2; j++) {
      if (TRANS_B) {
        let e = base_b + cols[j] * k + p;
        bv[j] = vec2f(b_at(e), b_at(e + k));
      } else {
        bv[j] = b_pair(base_b + p * n + cols[j]);
      }
    }
    for (var r = 0u; r < ROWS; r++) {
      let av = a_at(a_index(base_a, rows[r], p));
      for (var j = 0u; j < COLS2; j++) { acc[r][j] = fma(vec2f(av), bv[j], acc[r][j]); }
    }
  }
  let base_c = wid.z * params.stride_c;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    for (var j = 0u; j < COLS2; j++) {
      let pair = pair0 + j * WG;
      if (pair >= pairs_per_row) { break; }
      let word = (base_c + row * n) / 2u + pair;
      c[word] = finish_pair(word, row, 2u * pair, acc[r][j]);
    }
  }
}
