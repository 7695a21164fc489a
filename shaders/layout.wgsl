// Layout changes that move whole rows. swapOuterAxes: src[offset..] seen as [outer][inner][width]
// is written to dst as [inner][outer][width]; recurrent layers use it to go between batch-major and
// time-major sequences, the column convolution between NCHW and channel-major [C][N][H·W].
// copyBlocks: `outer` rows of `width` words from a strided place in src to a strided place in dst;
// concatenation and slicing along any axis are this.
struct Params {
  outer: u32,
  inner: u32,
  width: u32,
  offset: u32,
  // copyBlocks only: row strides of src and dst, and where the first dst row starts.
  srcStride: u32,
  dstStride: u32,
  dstOffset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG = 64u;

// #import grid

// For rows of at least a workgroup: the grid is [width / ROW_SPAN, outer, inner] and each
// workgroup moves up to ROW_SPAN words of one row, neighbouring lanes neighbouring words. No integer
// division per element (llvmpipe runs those lane by lane), and few enough workgroups that their
// start-up cost on llvmpipe does not dominate.
const ROW_SPAN = 1024u;

@compute @workgroup_size(WG)
fn swapOuterAxes(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = wid.y;
  let i = wid.z;
  let srcRow = params.offset + (o * params.inner + i) * params.width;
  let dstRow = (i * params.outer + o) * params.width;
  let end = min(params.width, (wid.x + 1u) * ROW_SPAN);
  for (var e = wid.x * ROW_SPAN + lid.x; e < end; e += WG) { dst[dstRow + e] = src[srcRow + e]; }
}

// For narrow rows (a matrix transpose has width 1): one invocation per element of dst over a 1-D
// grid, paying the divisions instead of leaving most lanes of every workgroup idle.
@compute @workgroup_size(WG)
fn swapOuterAxesNarrow(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let width = params.width;
  if (index >= params.outer * params.inner * width) { return; }
  let row = index / width;
  let e = index - row * width;
  let i = row / params.outer;
  let o = row - i * params.outer;
  dst[index] = src[params.offset + (o * params.inner + i) * width + e];
}

// One invocation per word moved: dst[dstOffset + o·dstStride + e] = src[offset + o·srcStride + e].
@compute @workgroup_size(WG)
fn copyBlocks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let width = params.width;
  if (index >= params.outer * width) { return; }
  let o = index / width;
  let e = index - o * width;
  dst[params.dstOffset + o * params.dstStride + e] = src[params.offset + o * params.srcStride + e];
}
