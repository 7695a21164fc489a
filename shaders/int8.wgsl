// Int8 inference: f32 activation rows quantized on the fly (one symmetric scale per row), then a GEMM
// of int8 values packed four to a u32 with i32 accumulation and an f32 epilogue
//   y[r, o] = f32(Σ_k xq[r, k] · wq[o, k]) · x_scale[r] · w_scale[o] + bias[o]   (then ReLU)
// A row r is one sample (Dense) or one output pixel of one image, whose k runs over the C·KH·KW
// input taps under it (a convolution; quantizeRows reads those taps straight from the NCHW image,
// so no f32 column matrix is ever written). Byte i of a packed word holds element 4·word + i; rows
// are zero-padded to whole words.
struct Params {
  rows: u32,         // M: rows of x (samples, or images × output pixels)
  depth: u32,        // K: elements per row before padding
  words: u32,        // ceil(K / 4): u32 words per packed row
  cols: u32,         // N: output features / channels
  pixels: u32,       // output pixels per image (1 for Dense): y is [rows / pixels][cols][pixels]
  has_bias: u32,
  relu: u32,
  // The convolution a row's taps come from (quantizeRows with PATCHES).
  in_channels: u32, height: u32, width: u32, out_w: u32,
  kernel_h: u32, kernel_w: u32, stride_h: u32, stride_w: u32, pad_h: u32, pad_w: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// quantizeRows
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> packed: array<u32>;
@group(0) @binding(3) var<storage, read_write> scales: array<f32>;
// gemmInt8
@group(0) @binding(4) var<storage, read> x_packed: array<u32>;
@group(0) @binding(5) var<storage, read> x_scale: array<f32>;
@group(0) @binding(6) var<storage, read> w_packed: array<u32>;
@group(0) @binding(7) var<storage, read> w_scale: array<f32>;
@group(0) @binding(8) var<storage, read> bias: array<f32>;
@group(0) @binding(9) var<storage, read_write> y: array<f32>;

// dot4I8Packed where the device has the packed_4x8_integer_dot_product language feature; the
// launcher sets false otherwise (and tests force false to exercise the shift path).
override PACKED_DOT: bool = true;
// quantizeRows: rows are image patches of a convolution's input (else rows of a row-major matrix).
override PATCHES: bool = false;
override QUANTIZE_WG: u32 = 64u;
override WG: u32 = 8u;
override ROWS: u32 = 4u; // ≤ MAX_BLOCK
override COLS: u32 = 4u; // ≤ MAX_BLOCK
const MAX_BLOCK = 8u;

// Element k of row r; for patches, tap k = (c, ky, kx) of output pixel r % pixels, 0 in the padding.
fn element(row: u32, k: u32) -> f32 {
  if (!PATCHES) { return source[row * params.depth + k]; }
  let image = row / params.pixels;
  let pixel = row % params.pixels;
  let taps = params.kernel_h * params.kernel_w;
  let c = k / taps;
  let ky = (k % taps) / params.kernel_w;
  let kx = k % params.kernel_w;
  let iy = i32((pixel / params.out_w) * params.stride_h + ky) - i32(params.pad_h);
  let ix = i32((pixel % params.out_w) * params.stride_w + kx) - i32(params.pad_w);
  if (iy < 0 || iy >= i32(params.height) || ix < 0 || ix >= i32(params.width)) { return 0.0; }
  return source[((image * params.in_channels + c) * params.height + u32(iy)) * params.width + u32(ix)];
}

// One invocation per row: max |x| over the row, then round-to-nearest-even of x · 127 / max into
// [-127, 127]. An all-zero row gets scale 0 and all-zero codes.
@compute @workgroup_size(QUANTIZE_WG)
fn quantizeRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = gid.x + gid.y * groups.x * QUANTIZE_WG;
  if (row >= params.rows) { return; }
  var largest = 0.0;
  for (var k = 0u; k < params.depth; k++) { largest = max(largest, abs(element(row, k))); }
  let inverse = select(127.0 / largest, 0.0, largest == 0.0);
  scales[row] = largest / 127.0;
  for (var w = 0u; w < params.words; w++) {
    var word = 0u;
    for (var i = 0u; i < 4u; i++) {
      let k = 4u * w + i;
      if (k < params.depth) {
        let code = clamp(i32(round(element(row, k) * inverse)), -127, 127);
        word |= (bitcast<u32>(code) & 0xffu) << (8u * i);
      }
    }
    packed[row * params.words + w] = word;
  }
}

// The four signed bytes of each word by shifts: left to the top byte, arithmetic shift back down.
fn dot4Unpacked(a: u32, b: u32) -> i32 {
  let x = bitcast<i32>(a);
  let z = bitcast<i32>(b);
  return ((x << 24u) >> 24u) * ((z << 24u) >> 24u) + ((x << 16u) >> 24u) * ((z << 16u) >> 24u)
       + ((x << 8u) >> 24u) * ((z << 8u) >> 24u) + (x >> 24u) * (z >> 24u);
}

fn dot4(a: u32, b: u32) -> i32 {
  if (PACKED_DOT) { return dot4I8Packed(a, b); }
  return dot4Unpacked(a, b);
}

// A workgroup owns ROWS rows (their x words are the same for every lane: one load, broadcast on
// llvmpipe) and WG·COLS consecutive output columns, COLS per invocation. Workgroups are numbered
// linearly (row block major) so the grid folds into y past the per-dimension limit.
@compute @workgroup_size(WG)
fn gemmInt8(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let colGroups = (params.cols + WG * COLS - 1u) / (WG * COLS);
  let group = wid.x + wid.y * groups.x;
  let row0 = (group / colGroups) * ROWS;
  let col0 = ((group % colGroups) * WG + lid.x) * COLS;
  if (row0 >= params.rows || col0 >= params.cols) { return; }
  let words = params.words;
  var acc: array<array<i32, MAX_BLOCK>, MAX_BLOCK>;
  var xw: array<u32, MAX_BLOCK>;
  for (var w = 0u; w < words; w++) {
    for (var r = 0u; r < ROWS; r++) { xw[r] = x_packed[min(row0 + r, params.rows - 1u) * words + w]; }
    for (var c = 0u; c < COLS; c++) {
      let ww = w_packed[min(col0 + c, params.cols - 1u) * words + w];
      for (var r = 0u; r < ROWS; r++) { acc[r][c] += dot4(xw[r], ww); }
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= params.rows) { break; }
    let image = row / params.pixels;
    let pixel = row % params.pixels;
    for (var c = 0u; c < COLS; c++) {
      let col = col0 + c;
      if (col >= params.cols) { break; }
      var v = f32(acc[r][c]) * (x_scale[row] * w_scale[col]);
      if (params.has_bias != 0u) { v += bias[col]; }
      if (params.relu != 0u) { v = max(v, 0.0); }
      y[(image * params.cols + col) * params.pixels + pixel] = v;
    }
  }
}
