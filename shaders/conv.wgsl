// The data movement around the GEMMs that carry 2-D convolution: im2col (image → column matrix),
// col2im (column gradients → image gradient, as a gather), and the layout changes the weight
// gradient needs. Every entry is one invocation per output element, so no atomics and no barriers
// except the per-channel sum.
//
// Column matrices have one row per (c, ky, kx) — C·KH·KW rows in OIHW weight order — and one column
// per output pixel. Two layouts:
//   batch-major: [N][C·KH·KW][OH·OW] — per-image GEMMs write NCHW directly (forward, input gradient);
//   row-major:   [C·KH·KW][N·OH·OW]  — one GEMM reduces over the whole batch (weight gradient).
struct Params {
  batch: u32, inChannels: u32, height: u32, width: u32, outChannels: u32,
  kernelH: u32, kernelW: u32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  outH: u32, outW: u32,
  batchMajor: u32,   // 1: column layout [N][CKK][P]; 0: [CKK][N·P]
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read_write> columns: array<f32>;
@group(0) @binding(3) var<storage, read> columnsIn: array<f32>;
@group(0) @binding(4) var<storage, read_write> imageOut: array<f32>;
@group(0) @binding(5) var<storage, read> nchw: array<f32>;
@group(0) @binding(6) var<storage, read_write> rows: array<f32>;
@group(0) @binding(7) var<storage, read_write> channelSum: array<f32>;

const WG = 256u;

fn linearIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// Thread t writes column element t in either layout; only the decoding of (n, row) differs.
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = linearIndex(gid, groups);
  let pixels = params.outH * params.outW;
  let taps = params.kernelH * params.kernelW;
  let rowCount = params.inChannels * taps;
  if (t >= params.batch * rowCount * pixels) { return; }
  let p = t % pixels;
  let q = t / pixels;
  var n: u32;
  var row: u32;
  if (params.batchMajor == 1u) { n = q / rowCount; row = q % rowCount; } else { n = q % params.batch; row = q / params.batch; }
  let c = row / taps;
  let ky = (row % taps) / params.kernelW;
  let kx = row % params.kernelW;
  let iy = i32(p / params.outW) * params.strideH - params.padH + i32(ky);
  let ix = i32(p % params.outW) * params.strideW - params.padW + i32(kx);
  var v = 0.0;
  if (iy >= 0 && iy < i32(params.height) && ix >= 0 && ix < i32(params.width)) {
    v = image[((n * params.inChannels + c) * params.height + u32(iy)) * params.width + u32(ix)];
  }
  columns[t] = v;
}

// dx[n, c, iy, ix] = Σ over the taps (ky, kx) whose output pixel lands on the stride grid and inside
// the output of the batch-major column gradient at that (row, pixel). Writes every dx element.
@compute @workgroup_size(WG)
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  if (index >= params.batch * params.inChannels * params.height * params.width) { return; }
  let ix = i32(index % params.width);
  let iy = i32((index / params.width) % params.height);
  let plane = index / (params.width * params.height);   // n * inChannels + c
  let pixels = params.outH * params.outW;
  let taps = params.kernelH * params.kernelW;
  // Batch-major: image plane (n, c) owns rows c·taps … of block n, which start at plane·taps·pixels.
  let base = plane * taps * pixels;
  var sum = 0.0;
  for (var ky = 0; ky < i32(params.kernelH); ky++) {
    let y = iy + params.padH - ky;
    if (y < 0 || y % params.strideH != 0) { continue; }
    let oy = y / params.strideH;
    if (oy >= i32(params.outH)) { continue; }
    for (var kx = 0; kx < i32(params.kernelW); kx++) {
      let x = ix + params.padW - kx;
      if (x < 0 || x % params.strideW != 0) { continue; }
      let ox = x / params.strideW;
      if (ox >= i32(params.outW)) { continue; }
      let row = u32(ky) * params.kernelW + u32(kx);
      sum += columnsIn[base + row * pixels + u32(oy) * params.outW + u32(ox)];
    }
  }
  imageOut[index] = sum;
}

// [N][OC][P] → [OC][N·P]: the output gradient as the left operand of the weight-gradient GEMM.
@compute @workgroup_size(WG)
fn nchwToRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = linearIndex(gid, groups);
  let pixels = params.outH * params.outW;
  if (t >= params.batch * params.outChannels * pixels) { return; }
  let p = t % pixels;
  let n = (t / pixels) % params.batch;
  let o = t / (pixels * params.batch);
  rows[t] = nchw[(n * params.outChannels + o) * pixels + p];
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
    for (var p = lane; p < pixels; p += SUM_WG) { sum += nchw[base + p]; }
  }
  partial[lane] = sum;
  for (var width = SUM_WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { partial[lane] += partial[lane + width]; }
  }
  if (lane == 0u) { channelSum[o] = partial[0]; }
}
