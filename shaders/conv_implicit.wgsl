// Convolution as implicit GEMM (PyTorch's Conv2d: NCHW activations, OIHW weights), for GPUs with
// fast workgroup memory. Each pass is a product C[m][n] = Σ_p A[m][p]·B[p][n] whose operands are
// read in place from the tensors, never written out as a column matrix:
//   forward (PASS 0):      y[OC][N·OH·OW] = weight[OC][C·KH·KW] · image gathered per (c, ky, kx)
//   input grad (PASS 1):   dx[C][N·H·W]   = weightᵀ[C][OC·KH·KW] · dy gathered per (o, ky, kx)
//   weight grad (PASS 2):  dw[OC][C·KH·KW] = dy[OC][N·OH·OW] · imageᵀ, the depth split over grid z
// The tiling is gemm_tiled4's (shaders/gemm.wgsl): SIDE_X×SIDE_Y invocations (16×16, or 64×4 for
// products with few rows), each a TM×TN register block of adjacent rows and columns; k advances TILE_K at a time through two workgroup buffers, the next
// k-tile fetched into registers while the current one is multiplied, one barrier per k-tile. The
// gathered operands have no alignment to offer, so global loads are scalar (zero outside the image,
// the stride grid or the matrix); the tiles are read back as vec4.
struct Params {
  m: u32, n: u32, k: u32,
  // Depth each grid-z slice sums: all of k, except in the weight gradient's split.
  kPerSlice: u32,
  batch: u32, inChannels: u32, height: u32, width: u32, outChannels: u32,
  kernelH: u32, kernelW: u32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  outH: u32, outW: u32,
  hasBias: u32, relu: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// A's and B's tensors: (weight, image) forward, (weight, dy) for the input gradient, (dy, image) for
// the weight gradient.
@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// y or dx in NCHW, or the weight gradient's per-slice partials [slice][OC·C·KH·KW].
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

override PASS: u32 = 0u;
override TM: u32 = 4u;       // rows per invocation, a multiple of 4, ≤ MAX_TM
override TN: u32 = 4u;       // columns per invocation, a multiple of 4, ≤ MAX_TN
override TILE_K: u32 = 16u;  // TILE_K·max(TM·SIDE_Y, TN·SIDE_X) ≤ MAX_LOADS·THREADS
override SIDE_X: u32 = 16u;  // invocations along the columns
override SIDE_Y: u32 = 16u;  // invocations along the rows; SIDE_X·SIDE_Y = THREADS
const THREADS = 256u;
const MAX_TM = 8u;
const MAX_TN = 8u;
const MAX_LOADS = 4u;

// [buffer][p][row / 4] and [buffer][p][col / 4]: k-major, so a register block's rows are adjacent.
var<workgroup> tile_a: array<vec4f, 2u * TILE_K * TM * SIDE_Y / 4u>;
var<workgroup> tile_b: array<vec4f, 2u * TILE_K * TN * SIDE_X / 4u>;

// What a B column's gathers share, decoded once: where its image (or dy) starts in rhs, and the
// window's corner: (oy·stride − pad, ox·stride − pad) for an output pixel's input window, or
// (iy + pad, ix + pad) for the output pixels an input pixel reaches.
struct Column { base: u32, top: i32, left: i32 }

// The input window of output pixel `pixel` of image `image_n`.
fn image_column(image_n: u32, pixel: u32) -> Column {
  let top = i32(pixel / params.outW) * params.strideH - params.padH;
  let left = i32(pixel % params.outW) * params.strideW - params.padW;
  return Column(image_n * params.inChannels * params.height * params.width, top, left);
}

// x[n][c][top + ky][left + kx], zero in the padding.
fn image_at(column: Column, c: u32, tap: u32) -> f32 {
  let iy = column.top + i32(tap / params.kernelW);
  let ix = column.left + i32(tap % params.kernelW);
  if (iy < 0 || ix < 0 || iy >= i32(params.height) || ix >= i32(params.width)) { return 0.0; }
  return rhs[column.base + (c * params.height + u32(iy)) * params.width + u32(ix)];
}

// The input gradient's column `col`: input pixel (n, iy, ix).
fn gradient_column(col: u32) -> Column {
  let plane = params.height * params.width;
  let q = col % plane;
  let base = (col / plane) * params.outChannels * params.outH * params.outW;
  return Column(base, i32(q / params.width) + params.padH, i32(q % params.width) + params.padW);
}

// dy[n][o][oy][ox] for the output pixel the column's input pixel meets through tap (ky, kx) of
// channel o = p / taps, zero where it does not exist or misses the stride grid.
fn gradient_at(column: Column, p: u32) -> f32 {
  let taps = params.kernelH * params.kernelW;
  let tap = p % taps;
  let y = column.top - i32(tap / params.kernelW);
  let x = column.left - i32(tap % params.kernelW);
  if (y < 0 || x < 0 || y % params.strideH != 0 || x % params.strideW != 0) { return 0.0; }
  let oy = u32(y / params.strideH);
  let ox = u32(x / params.strideW);
  if (oy >= params.outH || ox >= params.outW) { return 0.0; }
  return rhs[column.base + (p / taps) * params.outH * params.outW + oy * params.outW + ox];
}

// The column this invocation loads B elements of, forward and input gradient: with lanes along the
// columns (b_element) and whole rows of the tile per round of loads, it is the same for every load
// of the workgroup, so its divisions run once.
fn own_column(col: u32) -> Column {
  if (PASS == 1u) { return gradient_column(col); }
  let pixels = params.outH * params.outW;
  return image_column(col / pixels, col % pixels);
}

// op(A)[row][p]; the caller has checked both against the matrix.
fn load_a(row: u32, p: u32) -> f32 {
  let taps = params.kernelH * params.kernelW;
  if (PASS == 0u) { return lhs[row * params.k + p]; }
  if (PASS == 1u) { return lhs[((p / taps) * params.inChannels + row) * taps + p % taps]; }
  let pixels = params.outH * params.outW;
  return lhs[((p / pixels) * params.outChannels + row) * pixels + p % pixels];
}

// op(B)[p][col], `column` being own_column(col) outside the weight gradient; the caller has checked
// both against the matrix.
fn load_b(p: u32, col: u32, column: Column) -> f32 {
  let taps = params.kernelH * params.kernelW;
  if (PASS == 0u) { return image_at(column, p / taps, p % taps); }
  if (PASS == 1u) { return gradient_at(column, p); }
  let pixels = params.outH * params.outW;
  return image_at(image_column(p / pixels, p % pixels), col / taps, col % taps);
}

// Where element e of a k-tile lies: (row or col, p). Lanes run along whichever axis is contiguous in
// memory: k for A, the output pixel for B, except the weight gradient's B, whose k is the pixel.
fn a_element(e: u32) -> vec2u { return vec2u(e / TILE_K, e % TILE_K); }
fn b_element(e: u32) -> vec2u {
  if (PASS == 2u) { return vec2u(e / TILE_K, e % TILE_K); }
  let cols = TN * SIDE_X;
  return vec2u(e % cols, e / cols);
}

struct Loads { a: array<f32, MAX_LOADS>, b: array<f32, MAX_LOADS> }

// One k-tile from p0 (below k_end) of A's rows from row0 and B's columns from col0, into registers.
fn load_tile(thread: u32, p0: u32, k_end: u32, row0: u32, col0: u32, column: Column) -> Loads {
  var loads: Loads;
  for (var i = 0u; i < MAX_LOADS; i++) {
    let e = thread + i * THREADS;
    if (e < TILE_K * TM * SIDE_Y) {
      let at = a_element(e);
      let row = row0 + at.x;
      let p = p0 + at.y;
      loads.a[i] = 0.0;
      if (row < params.m && p < k_end) { loads.a[i] = load_a(row, p); }
    }
    if (e < TILE_K * TN * SIDE_X) {
      let at = b_element(e);
      let col = col0 + at.x;
      let p = p0 + at.y;
      loads.b[i] = 0.0;
      if (col < params.n && p < k_end) { loads.b[i] = load_b(p, col, column); }
    }
  }
  return loads;
}

// Registers from load_tile into workgroup buffer `buffer`.
fn store_tile(thread: u32, buffer: u32, loads: Loads) {
  let tile_m = TM * SIDE_Y;
  let tile_n = TN * SIDE_X;
  for (var i = 0u; i < MAX_LOADS; i++) {
    let e = thread + i * THREADS;
    if (e < TILE_K * tile_m) {
      let at = a_element(e);
      let index = (buffer * TILE_K + at.y) * tile_m + at.x;
      tile_a[index / 4u][index % 4u] = loads.a[i];
    }
    if (e < TILE_K * tile_n) {
      let at = b_element(e);
      let index = (buffer * TILE_K + at.y) * tile_n + at.x;
      tile_b[index / 4u][index % 4u] = loads.b[i];
    }
  }
}

// Where C[row][col] goes, with the forward's bias and activation applied.
fn store_output(slice: u32, row: u32, col: u32, sum: f32) {
  if (PASS == 0u) {
    let pixels = params.outH * params.outW;
    var v = sum;
    if (params.hasBias == 1u) { v += bias[row]; }
    if (params.relu == 1u) { v = max(v, 0.0); }
    output[((col / pixels) * params.outChannels + row) * pixels + col % pixels] = v;
  } else if (PASS == 1u) {
    let plane = params.height * params.width;
    output[((col / plane) * params.inChannels + row) * plane + col % plane] = sum;
  } else {
    output[(slice * params.m + row) * params.n + col] = sum;
  }
}

@compute @workgroup_size(SIDE_X, SIDE_Y)
fn implicitGemm(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tile_m4 = TM * SIDE_Y / 4u;
  let tile_n4 = TN * SIDE_X / 4u;
  let row0 = wid.y * TM * SIDE_Y;
  let col0 = wid.x * TN * SIDE_X;
  let thread = lid.y * SIDE_X + lid.x;
  let k_begin = wid.z * params.kPerSlice;
  let k_end = min(k_begin + params.kPerSlice, params.k);
  let tiles = (k_end - k_begin + TILE_K - 1u) / TILE_K;
  var column: Column;
  if (PASS != 2u) { column = own_column(col0 + thread % (TN * SIDE_X)); }
  var acc: array<array<vec4f, MAX_TN / 4u>, MAX_TM>;
  store_tile(thread, 0u, load_tile(thread, k_begin, k_end, row0, col0, column));
  workgroupBarrier();
  for (var t = 0u; t < tiles; t++) {
    let current = t % 2u;
    let more = t + 1u < tiles;
    var next: Loads;
    if (more) { next = load_tile(thread, k_begin + (t + 1u) * TILE_K, k_end, row0, col0, column); }
    for (var p = 0u; p < TILE_K; p++) {
      let ra = (current * TILE_K + p) * tile_m4 + lid.y * (TM / 4u);
      let rb = (current * TILE_K + p) * tile_n4 + lid.x * (TN / 4u);
      var av: array<vec4f, MAX_TM / 4u>;
      var bv: array<vec4f, MAX_TN / 4u>;
      for (var i = 0u; i < TM / 4u; i++) { av[i] = tile_a[ra + i]; }
      for (var j = 0u; j < TN / 4u; j++) { bv[j] = tile_b[rb + j]; }
      for (var r = 0u; r < TM; r++) {
        let a_rp = vec4f(av[r / 4u][r % 4u]);
        for (var j = 0u; j < TN / 4u; j++) { acc[r][j] = fma(a_rp, bv[j], acc[r][j]); }
      }
    }
    // The other buffer was last read before the previous barrier, so it is free to overwrite.
    if (more) { store_tile(thread, 1u - current, next); }
    workgroupBarrier();
  }
  for (var r = 0u; r < TM; r++) {
    let row = row0 + lid.y * TM + r;
    if (row >= params.m) { break; }
    for (var j = 0u; j < TN / 4u; j++) {
      for (var q = 0u; q < 4u; q++) {
        let col = col0 + lid.x * TN + j * 4u + q;
        if (col >= params.n) { break; }
        store_output(wid.z, row, col, acc[r][j][q]);
      }
    }
  }
}
