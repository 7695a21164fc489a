// The f16 GEMM for devices with shader-f16 (the launcher builds it nowhere else: this module does
// not compile without the feature). Same contract as gemm16.wgsl: A, B and C stored as f16, f32
// products and accumulators, bias f32, C rounded once to f16 through f16_bits and written a word
// (two columns) at a time. Here the halves are loaded as f16 values: A one at a time, B as
// vec4<f16> along its contiguous axis, so the launcher requires B's rows (n, or k when TRANS_B), its
// batch stride and its bound range to be whole groups of four halves.
//
// gemm16_native: gemm_rows4's shape. A workgroup owns ROWS rows; each invocation owns COLS4 groups
// of four adjacent columns, groups strided by the workgroup size.
enable f16;

// #import gemm_params

@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read_write> c: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// #import f16
// #import gemm16_epilogue

override ROWS: u32 = 8u;   // ≤ MAX_ROWS
override COLS4: u32 = 2u;  // ≤ MAX_COLS4
override WG: u32 = 8u;
const MAX_ROWS = 16u;
const MAX_COLS4 = 2u;

fn a_at(base: u32, row: u32, p: u32) -> f32 { return f32(a[a_index(base, row, p)]); }

@compute @workgroup_size(WG)
fn gemm16_native(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let row0 = wid.y * ROWS;
  let group0 = wid.x * WG * COLS4 + lid.x;
  let base_a = wid.z * params.stride_a;
  let base_b = wid.z * params.stride_b;
  var rows: array<u32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = min(row0 + r, m - 1u); }
  var acc: array<array<vec4f, MAX_COLS4>, MAX_ROWS>;
  if (TRANS_B) {
    // B is n×k: four consecutive k of one column are one vec4; k is a multiple of 4.
    var cols: array<vec4u, MAX_COLS4>;
    for (var j = 0u; j < COLS4; j++) {
      let col = (group0 + j * WG) * 4u;
      cols[j] = min(vec4u(col, col + 1u, col + 2u, col + 3u), vec4u(n - 1u));
    }
    for (var p = 0u; p < k; p += 4u) {
      var bt: array<mat4x4f, MAX_COLS4>; // bt[j][q] = B[column q of group j][p..p+3]
      for (var j = 0u; j < COLS4; j++) {
        bt[j] = transpose(mat4x4f(
          vec4f(b4[(base_b + cols[j].x * k + p) / 4u]), vec4f(b4[(base_b + cols[j].y * k + p) / 4u]),
          vec4f(b4[(base_b + cols[j].z * k + p) / 4u]), vec4f(b4[(base_b + cols[j].w * k + p) / 4u])));
      }
      for (var r = 0u; r < ROWS; r++) {
        let av = vec4f(a_at(base_a, rows[r], p), a_at(base_a, rows[r], p + 1u),
                       a_at(base_a, rows[r], p + 2u), a_at(base_a, rows[r], p + 3u));
        for (var j = 0u; j < COLS4; j++) { acc[r][j] += bt[j] * av; }
      }
    }
  } else {
    var groups: array<u32, MAX_COLS4>;
    let last_group = n / 4u - 1u;
    for (var j = 0u; j < COLS4; j++) { groups[j] = min(group0 + j * WG, last_group); }
    for (var p = 0u; p < k; p++) {
      var bv: array<vec4f, MAX_COLS4>;
      let row_b = (base_b + p * n) / 4u;
      for (var j = 0u; j < COLS4; j++) { bv[j] = vec4f(b4[row_b + groups[j]]); }
      for (var r = 0u; r < ROWS; r++) {
        let av = a_at(base_a, rows[r], p);
        for (var j = 0u; j < COLS4; j++) { acc[r][j] = fma(vec4f(av), bv[j], acc[r][j]); }
      }
    }
  }
  let base_c = wid.z * params.stride_c;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    for (var j = 0u; j < COLS4; j++) {
      let col = (group0 + j * WG) * 4u;
      if (col >= n) { break; }
      let word = (base_c + row * n + col) / 2u;
      c[word] = finish_pair(word, row, col, acc[r][j].xy);
      c[word + 1u] = finish_pair(word + 1u, row, col + 2u, acc[r][j].zw);
    }
  }
}
