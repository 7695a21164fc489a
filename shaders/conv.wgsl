// 2-D convolution kernels (PyTorch's Conv2d: cross-correlation, NCHW activations, OIHW weights):
// the direct register-blocked passes, and the im2col / col2im halves of the column path whose
// products run in shaders/gemm.wgsl (src/kernels/conv.ts picks per pass). No pass needs atomics;
// only the bias gradient uses workgroup barriers. The per-image im2col stays for the int8
// convolution, which quantizes its column matrix.
struct Params {
  batch: u32, inChannels: u32, height: u32, width: u32, outChannels: u32,
  kernelH: u32, kernelW: u32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  outH: u32, outW: u32,
  hasBias: u32, relu: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> gradOut: array<f32>;
@group(0) @binding(5) var<storage, read> partials: array<f32>;
@group(0) @binding(6) var<storage, read_write> output: array<f32>;
@group(0) @binding(7) var<storage, read> columns: array<f32>;

const WG = 256u;

// #import grid

// The batch-major column matrix [N][C·KH·KW][OH·OW]: rows in OIHW weight order, one column per
// output pixel, zeros where a tap falls in the padding. Invocation t writes element t.
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = linearIndex(gid, groups);
  let pixels = params.outH * params.outW;
  let taps = params.kernelH * params.kernelW;
  let rowCount = params.inChannels * taps;
  if (t >= params.batch * rowCount * pixels) { return; }
  let p = t % pixels;
  let n = t / (rowCount * pixels);
  let row = (t / pixels) % rowCount;
  let c = row / taps;
  let ky = (row % taps) / params.kernelW;
  let kx = row % params.kernelW;
  let iy = i32(p / params.outW) * params.strideH - params.padH + i32(ky);
  let ix = i32(p % params.outW) * params.strideW - params.padW + i32(kx);
  let inside = iy >= 0 && iy < i32(params.height) && ix >= 0 && ix < i32(params.width);
  let index = ((n * params.inChannels + c) * params.height + u32(clamp(iy, 0, i32(params.height) - 1))) * params.width + u32(clamp(ix, 0, i32(params.width) - 1));
  output[t] = select(0.0, image[index], inside);
}

// The image, kernel and output sizes of the column kernels, as pipeline constants: llvmpipe turns
// division by a constant into multiplies (and can unroll constant loops), but divides by a uniform
// lane by lane.
override IMAGE_H: u32 = 1u;
override IMAGE_W: u32 = 1u;
override OUT_H: u32 = 1u;
override OUT_W: u32 = 1u;
override KERNEL_H: u32 = 1u;
override KERNEL_W: u32 = 1u;
override IN_CHANNELS: u32 = 1u;

// The KH·KW taps of channel c that output pixel `column` of the batch reads, zeros in the padding,
// written tap by tap to output[first], output[first + stride], …: the body both column layouts share.
fn writeTaps(column: u32, c: u32, first: u32, stride: u32) {
  let pixels = OUT_H * OUT_W;
  let h = i32(IMAGE_H);
  let w = i32(IMAGE_W);
  let q = column % pixels;
  let base = ((column / pixels) * IN_CHANNELS + c) * IMAGE_H * IMAGE_W;
  let top = i32(q / OUT_W) * params.strideH - params.padH;
  let left = i32(q % OUT_W) * params.strideW - params.padW;
  var at = first;
  for (var ky = 0; ky < i32(KERNEL_H); ky++) {
    let iy = top + ky;
    for (var kx = 0; kx < i32(KERNEL_W); kx++) {
      let ix = left + kx;
      if (PADDED) {
        let inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
        output[at] = select(0.0, image[base + u32(clamp(iy, 0, h - 1) * w + clamp(ix, 0, w - 1))], inside);
      } else {
        output[at] = image[base + u32(iy * w + ix)];
      }
      at += stride;
    }
  }
}

// The column matrix of the whole batch, [C·KH·KW][N·OH·OW], so that one GEMM with the OIHW weight
// matrix covers every image (a product per image would leave lanes idle on small images). The grid
// runs over output pixels (folded as grid1d) and, in z, input channels; each invocation writes the
// KH·KW rows of its channel, and neighbouring lanes write neighbouring words.
@compute @workgroup_size(WG)
fn im2colBatch(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let column = linearIndex(gid, groups);
  let width = params.batch * OUT_H * OUT_W;
  if (column >= width) { return; }
  writeTaps(column, gid.z, gid.z * KERNEL_H * KERNEL_W * width + column, width);
}

// The same columns transposed, [N·OH·OW][C·KH·KW]: a row per output pixel. The weight gradient
// dW[OC][C·KH·KW] = dY[OC][N·P] · this is then a plain product whose B rows are contiguous; read
// through a transpose, [C·KH·KW][N·P] would make every vector load of B a strided gather, which costs
// the GEMM over half its speed on llvmpipe. The grid is im2colBatch's (output pixels, and input
// channels in z), each invocation writing its channel's KH·KW taps of one row; one invocation per
// element was measured slower, its index arithmetic costing more than the strided stores it avoids.
@compute @workgroup_size(WG)
fn im2colBatchRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let column = linearIndex(gid, groups);
  if (column >= params.batch * OUT_H * OUT_W) { return; }
  writeTaps(column, gid.z, (column * IN_CHANNELS + gid.z) * KERNEL_H * KERNEL_W, 1u);
}

// The output pixel an input pixel meets through one tap, given y = iy + padH − ky and
// x = ix + padW − kx: its index in the output plane (clamped into range) and whether it exists and
// lies on the stride grid.
struct TapTarget { pixel: u32, valid: bool }

fn tapTarget(y: i32, x: i32) -> TapTarget {
  let outH = i32(params.outH);
  let outW = i32(params.outW);
  var oy = y;
  var ox = x;
  var onGrid = true;
  // Integer division has no SIMD form on x86, so llvmpipe runs it lane by lane: skip it at stride 1.
  if (!UNIT_STRIDE) {
    oy = y / params.strideH;
    ox = x / params.strideW;
    onGrid = y % params.strideH == 0 && x % params.strideW == 0;
  }
  let valid = y >= 0 && x >= 0 && onGrid && oy < outH && ox < outW;
  return TapTarget(u32(clamp(oy, 0, outH - 1) * outW + clamp(ox, 0, outW - 1)), valid);
}

// col2im for the input gradient, as a gather so no two invocations write one word: each input pixel
// (n, c, iy, ix) sums the column-gradient entries [(c, ky, kx)][(n, oy, ox)] of the taps whose output
// pixel exists and lands on the stride grid.
@compute @workgroup_size(WG)
fn col2imBatch(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let plane = IMAGE_H * IMAGE_W;
  if (index >= params.batch * plane) { return; }
  let c = gid.z;
  let n = index / plane;
  let q = index % plane;
  let pixels = OUT_H * OUT_W;
  let width = params.batch * pixels;
  let down = i32(q / IMAGE_W) + params.padH;
  let across = i32(q % IMAGE_W) + params.padW;
  var row = c * params.kernelH * params.kernelW;
  var sum = 0.0;
  for (var ky = 0; ky < i32(params.kernelH); ky++) {
    for (var kx = 0; kx < i32(params.kernelW); kx++) {
      let reached = tapTarget(down - ky, across - kx);
      sum += select(0.0, columns[row * width + n * pixels + reached.pixel], reached.valid);
      row++;
    }
  }
  output[(n * params.inChannels + c) * plane + q] = sum;
}

// Direct convolution, register-blocked like a GEMM whose B operand is gathered from the image on the
// fly (no column matrix): a workgroup owns CHANNEL_BLOCK output channels; each invocation owns
// PIXEL_BLOCK output pixels, strided by the workgroup size, over the flattened (n, oy, ox). Weight
// loads are the same for every invocation of the workgroup, which llvmpipe turns into one scalar
// load, and pixel blocks span images, so small images waste no lanes.
override CHANNEL_BLOCK: u32 = 4u;   // ≤ MAX_BLOCK
override PIXEL_BLOCK: u32 = 4u;     // ≤ MAX_BLOCK
override DIRECT_WG: u32 = 64u;
// Unpadded convolutions never read outside the image, so they skip the bounds checks and selects
// that otherwise cost more than the multiply-adds they guard.
override PADDED: bool = true;
override UNIT_STRIDE: bool = false;
const MAX_BLOCK = 8u;

@compute @workgroup_size(DIRECT_WG)
fn forwardDirect(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let pixels = params.outH * params.outW;
  let total = params.batch * pixels;
  let plane = params.height * params.width;
  let h = i32(params.height);
  let w = i32(params.width);
  let taps = params.kernelH * params.kernelW;
  let o0 = wid.y * CHANNEL_BLOCK;
  // Out-of-range pixels and channels are clamped to the last valid one, computed and not stored.
  var imageBase: array<u32, MAX_BLOCK>;
  var top: array<i32, MAX_BLOCK>;
  var left: array<i32, MAX_BLOCK>;
  for (var j = 0u; j < PIXEL_BLOCK; j++) {
    let p = min(wid.x * DIRECT_WG * PIXEL_BLOCK + j * DIRECT_WG + lid.x, total - 1u);
    let q = p % pixels;
    imageBase[j] = (p / pixels) * params.inChannels * plane;
    top[j] = i32(q / params.outW) * params.strideH - params.padH;
    left[j] = i32(q % params.outW) * params.strideW - params.padW;
  }
  var weightRow: array<u32, MAX_BLOCK>;
  for (var r = 0u; r < CHANNEL_BLOCK; r++) { weightRow[r] = min(o0 + r, params.outChannels - 1u) * params.inChannels * taps; }
  var acc: array<array<f32, MAX_BLOCK>, MAX_BLOCK>;
  for (var c = 0u; c < params.inChannels; c++) {
    for (var ky = 0u; ky < params.kernelH; ky++) {
      for (var kx = 0u; kx < params.kernelW; kx++) {
        var xv: array<f32, MAX_BLOCK>;
        for (var j = 0u; j < PIXEL_BLOCK; j++) {
          let iy = top[j] + i32(ky);
          let ix = left[j] + i32(kx);
          if (PADDED) {
            let inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            let index = imageBase[j] + c * plane + u32(clamp(iy, 0, h - 1) * w + clamp(ix, 0, w - 1));
            xv[j] = select(0.0, image[index], inside);
          } else {
            xv[j] = image[imageBase[j] + c * plane + u32(iy * w + ix)];
          }
        }
        let tap = c * taps + ky * params.kernelW + kx;
        for (var r = 0u; r < CHANNEL_BLOCK; r++) {
          let wv = weight[weightRow[r] + tap];
          for (var j = 0u; j < PIXEL_BLOCK; j++) { acc[r][j] = fma(wv, xv[j], acc[r][j]); }
        }
      }
    }
  }
  for (var j = 0u; j < PIXEL_BLOCK; j++) {
    let p = wid.x * DIRECT_WG * PIXEL_BLOCK + j * DIRECT_WG + lid.x;
    if (p >= total) { break; }
    let outBase = (p / pixels) * params.outChannels * pixels + p % pixels;
    for (var r = 0u; r < CHANNEL_BLOCK; r++) {
      let o = o0 + r;
      if (o >= params.outChannels) { break; }
      var v = acc[r][j];
      if (params.hasBias == 1u) { v += bias[o]; }
      if (params.relu == 1u) { v = max(v, 0.0); }
      output[outBase + o * pixels] = v;
    }
  }
}

// The input gradient as a direct gather, blocked the same way: a workgroup owns CHANNEL_BLOCK input
// channels, each invocation PIXEL_BLOCK input pixels; each sums w[o, c, ky, kx] · dy[n, o, oy, ox]
// over the taps whose output pixel (oy, ox) exists and lands on the stride grid.
@compute @workgroup_size(DIRECT_WG)
fn backwardInputDirect(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let plane = params.height * params.width;
  let total = params.batch * plane;
  let pixels = params.outH * params.outW;
  let taps = params.kernelH * params.kernelW;
  let c0 = wid.y * CHANNEL_BLOCK;
  var gradBase: array<u32, MAX_BLOCK>;
  var down: array<i32, MAX_BLOCK>;    // iy + padH: the output row times stride plus ky
  var across: array<i32, MAX_BLOCK>;
  for (var j = 0u; j < PIXEL_BLOCK; j++) {
    let p = min(wid.x * DIRECT_WG * PIXEL_BLOCK + j * DIRECT_WG + lid.x, total - 1u);
    let q = p % plane;
    gradBase[j] = (p / plane) * params.outChannels * pixels;
    down[j] = i32(q / params.width) + params.padH;
    across[j] = i32(q % params.width) + params.padW;
  }
  var weightRow: array<u32, MAX_BLOCK>;
  for (var r = 0u; r < CHANNEL_BLOCK; r++) { weightRow[r] = min(c0 + r, params.inChannels - 1u) * taps; }
  var acc: array<array<f32, MAX_BLOCK>, MAX_BLOCK>;
  for (var ky = 0u; ky < params.kernelH; ky++) {
    for (var kx = 0u; kx < params.kernelW; kx++) {
      // Which output pixel each input pixel meets through this tap, the same for every channel.
      var gradIndex: array<u32, MAX_BLOCK>;
      var valid: array<bool, MAX_BLOCK>;
      for (var j = 0u; j < PIXEL_BLOCK; j++) {
        let reached = tapTarget(down[j] - i32(ky), across[j] - i32(kx));
        valid[j] = reached.valid;
        gradIndex[j] = gradBase[j] + reached.pixel;
      }
      let tap = ky * params.kernelW + kx;
      for (var o = 0u; o < params.outChannels; o++) {
        var g: array<f32, MAX_BLOCK>;
        for (var j = 0u; j < PIXEL_BLOCK; j++) { g[j] = select(0.0, gradOut[gradIndex[j] + o * pixels], valid[j]); }
        let weightAt = o * params.inChannels * taps + tap;
        for (var r = 0u; r < CHANNEL_BLOCK; r++) {
          let wv = weight[weightAt + weightRow[r]];
          for (var j = 0u; j < PIXEL_BLOCK; j++) { acc[r][j] = fma(wv, g[j], acc[r][j]); }
        }
      }
    }
  }
  for (var j = 0u; j < PIXEL_BLOCK; j++) {
    let p = wid.x * DIRECT_WG * PIXEL_BLOCK + j * DIRECT_WG + lid.x;
    if (p >= total) { break; }
    let outBase = (p / plane) * params.inChannels * plane + p % plane;
    for (var r = 0u; r < CHANNEL_BLOCK; r++) {
      let c = c0 + r;
      if (c >= params.inChannels) { break; }
      output[outBase + c * plane] = acc[r][j];
    }
  }
}

// The weight gradient in two passes without a column matrix. Pass 1: each invocation owns one image
// (lanes run over the batch, so no cross-lane reduction is needed) and a block of CHANNEL_BLOCK
// output channels × PIXEL_BLOCK consecutive kx taps of one (c, ky) kernel row, and sums
// dy[n, o, oy, ox] · x[n, c, iy, ix] over the output pixels into per-image partials [N][OC·C·KH·KW].
override WEIGHT_WG: u32 = 64u;

@compute @workgroup_size(WEIGHT_WG)
fn weightGradientPartials(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n = wid.x * WEIGHT_WG + lid.x;
  let image_n = min(n, params.batch - 1u);
  let kxBlocks = (params.kernelW + PIXEL_BLOCK - 1u) / PIXEL_BLOCK;
  let kx0 = (wid.y % kxBlocks) * PIXEL_BLOCK;
  let ky = (wid.y / kxBlocks) % params.kernelH;
  let c = wid.y / (kxBlocks * params.kernelH);
  let o0 = wid.z * CHANNEL_BLOCK;
  let pixels = params.outH * params.outW;
  let h = i32(params.height);
  let w = i32(params.width);
  var gradBase: array<u32, MAX_BLOCK>;
  for (var r = 0u; r < CHANNEL_BLOCK; r++) { gradBase[r] = (image_n * params.outChannels + min(o0 + r, params.outChannels - 1u)) * pixels; }
  let imageBase = (image_n * params.inChannels + c) * params.height * params.width;
  var acc: array<array<f32, MAX_BLOCK>, MAX_BLOCK>;
  for (var oy = 0u; oy < params.outH; oy++) {
    let iy = i32(oy) * params.strideH - params.padH + i32(ky);
    let rowInside = iy >= 0 && iy < h;
    let rowBase = imageBase + u32(clamp(iy, 0, h - 1) * w);
    for (var ox = 0u; ox < params.outW; ox++) {
      let left = i32(ox) * params.strideW - params.padW + i32(kx0);
      var xv: array<f32, MAX_BLOCK>;
      for (var j = 0u; j < PIXEL_BLOCK; j++) {
        let ix = left + i32(j);
        if (PADDED) {
          xv[j] = select(0.0, image[rowBase + u32(clamp(ix, 0, w - 1))], rowInside && ix >= 0 && ix < w);
        } else {
          xv[j] = image[rowBase + u32(min(ix, w - 1))];   // min: only the unused tail of a kx block reaches past
        }
      }
      let p = oy * params.outW + ox;
      for (var r = 0u; r < CHANNEL_BLOCK; r++) {
        let g = gradOut[gradBase[r] + p];
        for (var j = 0u; j < PIXEL_BLOCK; j++) { acc[r][j] = fma(g, xv[j], acc[r][j]); }
      }
    }
  }
  if (n >= params.batch) { return; }
  let weights = params.outChannels * params.inChannels * params.kernelH * params.kernelW;
  for (var r = 0u; r < CHANNEL_BLOCK; r++) {
    let o = o0 + r;
    if (o >= params.outChannels) { break; }
    let row = n * weights + ((o * params.inChannels + c) * params.kernelH + ky) * params.kernelW;
    for (var j = 0u; j < PIXEL_BLOCK; j++) {
      if (kx0 + j >= params.kernelW) { break; }
      output[row + kx0 + j] = acc[r][j];
    }
  }
}

// Pass 2: dweight = Σ over images of the partials, one invocation per weight, overwriting dweight.
@compute @workgroup_size(WG)
fn sumPartials(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  let weights = params.outChannels * params.inChannels * params.kernelH * params.kernelW;
  if (i >= weights) { return; }
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) { sum += partials[n * weights + i]; }
  output[i] = sum;
}

const SUM_WG = 64u;
var<workgroup> partial: array<f32, SUM_WG>;

// The bias gradient: one workgroup per output channel sums that channel of dy over batch and pixels.
@compute @workgroup_size(SUM_WG)
fn channelSums(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {
  let o = group.x;
  let pixels = params.outH * params.outW;
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) {
    let base = (n * params.outChannels + o) * pixels;
    for (var p = lane; p < pixels; p += SUM_WG) { sum += gradOut[base + p]; }
  }
  partial[lane] = sum;
  for (var width = SUM_WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { partial[lane] += partial[lane + width]; }
  }
  if (lane == 0u) { output[o] = partial[0]; }
}
