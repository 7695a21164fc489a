// C = act(alpha·op(A)·op(B) + beta·C + bias), batched; all matrices row-major f32 (optionally rounded to f16 on the way, F16_ROUND).
// op(A) is m×k (A stored k×m when TRANS_A), op(B) is k×n (B stored n×k when TRANS_B).
//
// gemm_rows: one workgroup owns ROWS rows of C; each invocation owns COLS columns strided by the
// workgroup size. Every A element an invocation loads is the same for the whole workgroup, so on
// CPU rasterisers (llvmpipe runs a workgroup as SIMD lanes) it becomes one scalar load and a
// broadcast, and B loads of neighbouring lanes are neighbouring addresses. Any shape, any strides.

// #import gemm_params
// #import f16

// Mixed precision (autocast's f16 products on f32 storage): every A and B element is rounded to f16
// as it is read and every C element as it is written, while products and sums stay f32, as the f16
// storage kernels compute. A pipeline constant, so the f32 products compile without a trace of it.
override F16_ROUND: bool = false;

fn operand(x: f32) -> f32 {
  if (F16_ROUND) { return round_f16(x); }
  return x;
}

fn operand4(x: vec4f) -> vec4f {
  if (F16_ROUND) { return vec4f(round_f16(x.x), round_f16(x.y), round_f16(x.z), round_f16(x.w)); }
  return x;
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
// B seen four floats at a time, for gemm_rows4 (a different entry point from any that binds b).
@group(0) @binding(1) var<storage, read> b4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override ROWS: u32 = 4u;   // ≤ MAX_BLOCK (gemm_rows) or MAX_ROWS4 (gemm_rows4)
override COLS: u32 = 4u;   // ≤ MAX_BLOCK
override COLS4: u32 = 2u;  // ≤ MAX_COLS4; gemm_rows4 owns 4·COLS4 columns per invocation
override WG: u32 = 64u;
// Register arrays need a constant size; loops run to the override bounds and unroll once the
// pipeline's constants are known, leaving the unused tail dead. The bounds are kept as tight as the
// variants allow: on llvmpipe a larger declared array slows the same tile (declaring 32 rows where
// 16 are used made gemm_rows4's 16-row tile about 25% slower).
const MAX_BLOCK = 8u;
const MAX_ROWS4 = 16u;
const MAX_COLS4 = 4u;

// Scales, accumulates into C, adds bias and applies the activation for one output element.
fn finish(index: u32, row: u32, col: u32, sum: f32) -> f32 {
  var v = params.alpha * sum;
  // beta = 0 must not read C: it may hold NaN garbage from a previous tensor in the same buffer.
  if (params.beta != 0.0) { v += params.beta * operand(c[index]); }
  if (params.bias_axis == 1u) { v += bias[col]; }
  if (params.bias_axis == 2u) { v += bias[row]; }
  if (params.relu != 0u) { v = max(v, 0.0); }
  return operand(v);
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
    for (var j = 0u; j < COLS; j++) { bv[j] = operand(b[b_index(base_b, p, cols[j])]); }
    for (var r = 0u; r < ROWS; r++) {
      let av = operand(a[a_index(base_a, rows[r], p)]);
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

// gemm_rows4: gemm_rows with B read as vec4 — along n (each invocation owns COLS4 groups of four
// adjacent columns, groups strided by the workgroup size) or, when TRANS_B, along k. One vec4 load
// per lane costs llvmpipe less than four scalar loads do. The launcher picks it only when B's
// rows (n, or k when TRANS_B), its batch stride and its binding size are multiples of four floats.
@compute @workgroup_size(WG)
fn gemm_rows4(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let row0 = wid.y * ROWS;
  let group0 = wid.x * WG * COLS4 + lid.x;
  let base_a = wid.z * params.stride_a;
  let base_b = wid.z * params.stride_b;
  var rows: array<u32, MAX_ROWS4>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = min(row0 + r, m - 1u); }
  var acc: array<array<vec4f, MAX_COLS4>, MAX_ROWS4>;
  if (TRANS_B) {
    // B is n×k: each column's four consecutive k values are one vec4; k is a multiple of 4.
    var cols: array<vec4u, MAX_COLS4>;
    for (var j = 0u; j < COLS4; j++) {
      let col = (group0 + j * WG) * 4u;
      cols[j] = min(vec4u(col, col + 1u, col + 2u, col + 3u), vec4u(n - 1u));
    }
    for (var p = 0u; p < k; p += 4u) {
      var bt: array<mat4x4f, MAX_COLS4>; // bt[j][q] = B[col q of group j][p..p+3]
      for (var j = 0u; j < COLS4; j++) {
        bt[j] = transpose(mat4x4f(
          operand4(b4[(base_b + cols[j].x * k + p) / 4u]), operand4(b4[(base_b + cols[j].y * k + p) / 4u]),
          operand4(b4[(base_b + cols[j].z * k + p) / 4u]), operand4(b4[(base_b + cols[j].w * k + p) / 4u])));
      }
      for (var r = 0u; r < ROWS; r++) {
        let av = operand4(vec4f(a[a_index(base_a, rows[r], p)], a[a_index(base_a, rows[r], p + 1u)],
                                a[a_index(base_a, rows[r], p + 2u)], a[a_index(base_a, rows[r], p + 3u)]));
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
      for (var j = 0u; j < COLS4; j++) { bv[j] = operand4(b4[row_b + groups[j]]); }
      for (var r = 0u; r < ROWS; r++) {
        let av = operand(a[a_index(base_a, rows[r], p)]);
        for (var j = 0u; j < COLS4; j++) { acc[r][j] = fma(vec4f(av), bv[j], acc[r][j]); }
      }
    }
  }
  let base_c = wid.z * params.stride_c;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    for (var j = 0u; j < COLS4; j++) {
      for (var q = 0u; q < 4u; q++) {
        let col = (group0 + j * WG) * 4u + q;
        if (col >= n) { break; }
        let index = base_c + row * n + col;
        c[index] = finish(index, row, col, acc[r][j][q]);
      }
    }
  }
}

// gemm_tiled: the classic discrete-GPU shape. A WG_Y·4 × WG_X·4 tile of C per workgroup, staged
// through workgroup memory TILE_K steps of k at a time, each invocation accumulating a 4×4 block
// whose rows and columns are strided by the workgroup size so neighbouring invocations read
// neighbouring words. Loads are coalesced along whichever axis is contiguous in memory. Slow on
// llvmpipe, where every barrier is a coroutine switch; kept for hardware that autotuning finds, and
// for shapes too ragged for gemm_tiled4's vec4 loads.
override TILE_K: u32 = 16u;
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
var<workgroup> tile_a: array<f32, TILE_K * WG_Y * 4u>; // [p][row]
var<workgroup> tile_b: array<f32, TILE_K * WG_X * 4u>; // [p][col]

@compute @workgroup_size(WG_X, WG_Y)
fn gemm_tiled(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let tile_rows = WG_Y * 4u;
  let tile_cols = WG_X * 4u;
  let row0 = wid.y * tile_rows;
  let col0 = wid.x * tile_cols;
  let base_a = wid.z * params.stride_a;
  let base_b = wid.z * params.stride_b;
  let thread = lid.y * WG_X + lid.x;
  let threads = WG_X * WG_Y;
  var acc: array<vec4f, 4>;
  for (var p0 = 0u; p0 < k; p0 += TILE_K) {
    for (var e = thread; e < TILE_K * tile_rows; e += threads) {
      var p = e % TILE_K;
      var r = e / TILE_K;
      if (TRANS_A) { r = e % tile_rows; p = e / tile_rows; }
      var v = 0.0;
      if (row0 + r < m && p0 + p < k) { v = operand(a[a_index(base_a, row0 + r, p0 + p)]); }
      tile_a[p * tile_rows + r] = v;
    }
    for (var e = thread; e < TILE_K * tile_cols; e += threads) {
      var p = e / tile_cols;
      var col = e % tile_cols;
      if (TRANS_B) { p = e % TILE_K; col = e / TILE_K; }
      var v = 0.0;
      if (col0 + col < n && p0 + p < k) { v = operand(b[b_index(base_b, p0 + p, col0 + col)]); }
      tile_b[p * tile_cols + col] = v;
    }
    workgroupBarrier();
    for (var p = 0u; p < TILE_K; p++) {
      let ra = p * tile_rows + lid.y;
      let av = vec4f(tile_a[ra], tile_a[ra + WG_Y], tile_a[ra + 2u * WG_Y], tile_a[ra + 3u * WG_Y]);
      let cb = p * tile_cols + lid.x;
      let bv = vec4f(tile_b[cb], tile_b[cb + WG_X], tile_b[cb + 2u * WG_X], tile_b[cb + 3u * WG_X]);
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4f(av[i]), bv, acc[i]); }
    }
    workgroupBarrier();
  }
  let base_c = wid.z * params.stride_c;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y + i * WG_Y;
    if (row >= m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x + j * WG_X;
      if (col >= n) { continue; }
      let index = base_c + row * n + col;
      c[index] = finish(index, row, col, acc[i][j]);
    }
  }
}

// gemm_tiled4: the discrete-GPU kernel in full. A 16·TM × 16·TN tile of C per workgroup of 16×16
// invocations, each accumulating a TM×TN register block of adjacent rows and columns. k advances
// TILE_K at a time through two workgroup-memory buffers: while the block multiplies one, the next
// k-tile is already loaded into registers (global loads in flight during the arithmetic) and is
// stored into the other, so one barrier per k-tile suffices. A and B are read as vec4 along whichever
// axis is contiguous in memory, so the launcher offers it only where both operands' rows, batch
// strides and bound ranges are multiples of four floats (then a four-float group is wholly inside or
// wholly outside the matrix, and the ragged edges are zero-filled per group).
override TM: u32 = 4u;    // rows per invocation, a multiple of 4, ≤ MAX_TM
override TN: u32 = 4u;    // columns per invocation, a multiple of 4, ≤ 4·MAX_TN4
const TILED4_SIDE = 16u;  // invocations along each side of the workgroup
const TILED4_THREADS = 256u;
const MAX_TM = 8u;
const MAX_TN4 = 2u;
const MAX_LOADS4 = 2u;    // vec4 loads per invocation per operand per k-tile: TILE_K·max(TM, TN) ≤ 128
@group(0) @binding(0) var<storage, read> a4: array<vec4f>;
// [buffer][p][row / 4] and [buffer][p][col / 4]: k-major, so a block's rows (columns) are adjacent.
var<workgroup> tile_a4: array<vec4f, 2u * TILE_K * TM * TILED4_SIDE / 4u>;
var<workgroup> tile_b4: array<vec4f, 2u * TILE_K * TN * TILED4_SIDE / 4u>;

// Scalar store into the vec4-typed tiles, for the operands whose vec4 runs along k.
fn store_tile_a(index: u32, v: f32) { tile_a4[index / 4u][index % 4u] = v; }
fn store_tile_b(index: u32, v: f32) { tile_b4[index / 4u][index % 4u] = v; }

struct Tiled4Loads { a: array<vec4f, MAX_LOADS4>, b: array<vec4f, MAX_LOADS4> }

// Loads one k-tile (k from p0) of A's rows from row0 and B's columns from col0 into registers.
fn load_tiled4(thread: u32, p0: u32, row0: u32, col0: u32, base_a: u32, base_b: u32) -> Tiled4Loads {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let tile_m = TM * TILED4_SIDE;
  let tile_n = TN * TILED4_SIDE;
  var loads: Tiled4Loads;
  for (var i = 0u; i * TILED4_THREADS < TILE_K * max(tile_m, tile_n) / 4u; i++) {
    let e = thread + i * TILED4_THREADS;
    if (e < TILE_K * tile_m / 4u) {
      if (TRANS_A) { // A is k×m: four adjacent rows of one k
        let p = p0 + e / (tile_m / 4u);
        let row = row0 + (e % (tile_m / 4u)) * 4u;
        if (p < k && row < m) { loads.a[i] = operand4(a4[(base_a + p * m + row) / 4u]); }
      } else { // A is m×k: four adjacent k of one row
        let row = row0 + e / (TILE_K / 4u);
        let p = p0 + (e % (TILE_K / 4u)) * 4u;
        if (p < k && row < m) { loads.a[i] = operand4(a4[(base_a + row * k + p) / 4u]); }
      }
    }
    if (e < TILE_K * tile_n / 4u) {
      if (TRANS_B) { // B is n×k: four adjacent k of one column
        let col = col0 + e / (TILE_K / 4u);
        let p = p0 + (e % (TILE_K / 4u)) * 4u;
        if (p < k && col < n) { loads.b[i] = operand4(b4[(base_b + col * k + p) / 4u]); }
      } else { // B is k×n: four adjacent columns of one k
        let p = p0 + e / (tile_n / 4u);
        let col = col0 + (e % (tile_n / 4u)) * 4u;
        if (p < k && col < n) { loads.b[i] = operand4(b4[(base_b + p * n + col) / 4u]); }
      }
    }
  }
  return loads;
}

// Stores registers from load_tiled4 into workgroup buffer `buffer`, k-major.
fn store_tiled4(thread: u32, buffer: u32, loads: Tiled4Loads) {
  let tile_m = TM * TILED4_SIDE;
  let tile_n = TN * TILED4_SIDE;
  let base_a = buffer * TILE_K * tile_m;
  let base_b = buffer * TILE_K * tile_n;
  for (var i = 0u; i * TILED4_THREADS < TILE_K * max(tile_m, tile_n) / 4u; i++) {
    let e = thread + i * TILED4_THREADS;
    if (e < TILE_K * tile_m / 4u) {
      if (TRANS_A) {
        tile_a4[base_a / 4u + e] = loads.a[i];
      } else {
        let row = e / (TILE_K / 4u);
        let p = (e % (TILE_K / 4u)) * 4u;
        for (var q = 0u; q < 4u; q++) { store_tile_a(base_a + (p + q) * tile_m + row, loads.a[i][q]); }
      }
    }
    if (e < TILE_K * tile_n / 4u) {
      if (TRANS_B) {
        let col = e / (TILE_K / 4u);
        let p = (e % (TILE_K / 4u)) * 4u;
        for (var q = 0u; q < 4u; q++) { store_tile_b(base_b + (p + q) * tile_n + col, loads.b[i][q]); }
      } else {
        tile_b4[base_b / 4u + e] = loads.b[i];
      }
    }
  }
}

@compute @workgroup_size(TILED4_SIDE, TILED4_SIDE)
fn gemm_tiled4(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = params.m;
  let n = params.n;
  let tile_m4 = TM * TILED4_SIDE / 4u;
  let tile_n4 = TN * TILED4_SIDE / 4u;
  let row0 = wid.y * TM * TILED4_SIDE;
  let col0 = wid.x * TN * TILED4_SIDE;
  let base_a = wid.z * params.stride_a;
  let base_b = wid.z * params.stride_b;
  let thread = lid.y * TILED4_SIDE + lid.x;
  let tiles = (params.k + TILE_K - 1u) / TILE_K;
  var acc: array<array<vec4f, MAX_TN4>, MAX_TM>;
  store_tiled4(thread, 0u, load_tiled4(thread, 0u, row0, col0, base_a, base_b));
  workgroupBarrier();
  for (var t = 0u; t < tiles; t++) {
    let current = t % 2u;
    let more = t + 1u < tiles;
    var next: Tiled4Loads;
    if (more) { next = load_tiled4(thread, (t + 1u) * TILE_K, row0, col0, base_a, base_b); }
    for (var p = 0u; p < TILE_K; p++) {
      let ra = (current * TILE_K + p) * tile_m4 + lid.y * (TM / 4u);
      let rb = (current * TILE_K + p) * tile_n4 + lid.x * (TN / 4u);
      var av: array<vec4f, MAX_TM / 4u>;
      var bv: array<vec4f, MAX_TN4>;
      for (var i = 0u; i < TM / 4u; i++) { av[i] = tile_a4[ra + i]; }
      for (var j = 0u; j < TN / 4u; j++) { bv[j] = tile_b4[rb + j]; }
      for (var r = 0u; r < TM; r++) {
        let a_rp = vec4f(av[r / 4u][r % 4u]);
        for (var j = 0u; j < TN / 4u; j++) { acc[r][j] = fma(a_rp, bv[j], acc[r][j]); }
      }
    }
    // The other buffer was last read before the previous barrier, so it is free to overwrite.
    if (more) { store_tiled4(thread, 1u - current, next); }
    workgroupBarrier();
  }
  let base_c = wid.z * params.stride_c;
  for (var r = 0u; r < TM; r++) {
    let row = row0 + lid.y * TM + r;
    if (row >= m) { break; }
    for (var j = 0u; j < TN / 4u; j++) {
      for (var q = 0u; q < 4u; q++) {
        let col = col0 + lid.x * TN + j * 4u + q;
        if (col >= n) { break; }
        let index = base_c + row * n + col;
        c[index] = finish(index, row, col, acc[r][j][q]);
      }
    }
  }
}
