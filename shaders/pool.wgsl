// 2-D max and average pooling over NCHW planes, forward and backward. Backward passes are gathers
// (one invocation per input element summing the windows that cover it), so they need no atomics and
// write every element of dx, including those no window reaches.
struct Params {
  planes: u32,   // batch * channels
}

// The plane geometry is fixed per pipeline (the launcher always sets it; the defaults only let a
// generic pipeline build): divisions by these constants compile to multiplies and
// shifts that vectorize, where divisions by uniforms run lane by lane on llvmpipe and cost more than
// the memory traffic.
override HEIGHT: u32 = 1u;
override WIDTH: u32 = 1u;
override OUT_H: u32 = 1u;
override OUT_W: u32 = 1u;
override WINDOW_H: i32 = 1;
override WINDOW_W: i32 = 1;
override STRIDE_H: i32 = 1;
override STRIDE_W: i32 = 1;
override PAD_H: i32 = 0;
override PAD_W: i32 = 0;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> argmaxIn: array<u32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

const WG = 256u;

// #import grid

// Output element `out` as (plane, first input row, first input column) of its window.
struct Window { plane: u32, top: i32, left: i32 }

fn windowOf(out: u32) -> Window {
  let ox = out % OUT_W;
  let oy = (out / OUT_W) % OUT_H;
  let plane = out / (OUT_W * OUT_H);
  return Window(plane, i32(oy) * STRIDE_H - PAD_H, i32(ox) * STRIDE_W - PAD_W);
}

// The outputs along one axis whose windows contain input coordinate `i`: [first, last], maybe empty.
fn coveringRange(i: i32, pad: i32, window: i32, stride: i32, outSize: u32) -> vec2i {
  let reach = i + pad - window + 1;   // windows starting before this cannot reach i
  var first = 0;
  if (reach > 0) { first = (reach + stride - 1) / stride; }
  let last = min((i + pad) / stride, i32(outSize) - 1);
  return vec2i(first, last);
}

// Input element `index` as its plane and the output rows and columns whose windows cover it.
struct Covering { plane: u32, rows: vec2i, cols: vec2i }

fn coveringWindows(index: u32) -> Covering {
  let ix = i32(index % WIDTH);
  let iy = i32((index / WIDTH) % HEIGHT);
  return Covering(index / (WIDTH * HEIGHT),
    coveringRange(iy, PAD_H, WINDOW_H, STRIDE_H, OUT_H),
    coveringRange(ix, PAD_W, WINDOW_W, STRIDE_W, OUT_W));
}

@compute @workgroup_size(WG)
fn maxPoolForward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let out = linearIndex(gid, groups);
  if (out >= params.planes * OUT_H * OUT_W) { return; }
  let w = windowOf(out);
  let h = i32(HEIGHT);
  let wd = i32(WIDTH);
  let base = w.plane * HEIGHT * WIDTH;
  var best = -3.402823e38;
  var at = 0xffffffffu;
  for (var wy = 0; wy < WINDOW_H; wy++) {
    let iy = w.top + wy;
    if (iy < 0 || iy >= h) { continue; }
    for (var wx = 0; wx < WINDOW_W; wx++) {
      let ix = w.left + wx;
      if (ix < 0 || ix >= wd) { continue; }
      let index = base + u32(iy * wd + ix);
      let v = x[index];
      // Strictly greater keeps the first maximum, like the reference; the first visit always wins.
      if (v > best || at == 0xffffffffu) { best = v; at = index; }
    }
  }
  y[out] = best;
  argmax[out] = at;
}

@compute @workgroup_size(WG)
fn maxPoolBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  if (index >= params.planes * HEIGHT * WIDTH) { return; }
  let cover = coveringWindows(index);
  let plane = cover.plane;
  let rows = cover.rows;
  let cols = cover.cols;
  var sum = 0.0;
  for (var oy = rows.x; oy <= rows.y; oy++) {
    let rowBase = (plane * OUT_H + u32(oy)) * OUT_W;
    for (var ox = cols.x; ox <= cols.y; ox++) {
      let out = rowBase + u32(ox);
      if (argmaxIn[out] == index) { sum += dy[out]; }
    }
  }
  dx[index] = sum;
}

@compute @workgroup_size(WG)
fn avgPoolForward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let out = linearIndex(gid, groups);
  if (out >= params.planes * OUT_H * OUT_W) { return; }
  let w = windowOf(out);
  let h = i32(HEIGHT);
  let wd = i32(WIDTH);
  let base = w.plane * HEIGHT * WIDTH;
  var sum = 0.0;
  for (var wy = max(0, -w.top); wy < min(WINDOW_H, h - w.top); wy++) {
    let row = base + u32((w.top + wy) * wd);
    for (var wx = max(0, -w.left); wx < min(WINDOW_W, wd - w.left); wx++) {
      sum += x[row + u32(w.left + wx)];
    }
  }
  // Padding counts toward the divisor (PyTorch's count_include_pad=True); with floor-sized outputs
  // no window runs past the padded edge, so the divisor is always the full window.
  y[out] = sum / f32(WINDOW_H * WINDOW_W);
}

@compute @workgroup_size(WG)
fn avgPoolBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  if (index >= params.planes * HEIGHT * WIDTH) { return; }
  let cover = coveringWindows(index);
  let plane = cover.plane;
  let rows = cover.rows;
  let cols = cover.cols;
  var sum = 0.0;
  for (var oy = rows.x; oy <= rows.y; oy++) {
    let rowBase = (plane * OUT_H + u32(oy)) * OUT_W;
    for (var ox = cols.x; ox <= cols.y; ox++) { sum += dy[rowBase + u32(ox)]; }
  }
  dx[index] = sum / f32(WINDOW_H * WINDOW_W);
}

// Max-pool backward when windows tile the plane (stride equal to the window, no padding): output
// window (oy, ox) owns the input block from its own corner up to the next window's (the last row
// and column of windows also own any remainder no window reaches), so one invocation per output
// writes its block: the gradient at the argmax, zero elsewhere. A quarter of the invocations of the
// gather for 2×2 windows, and no search over covering windows.
@compute @workgroup_size(WG)
fn maxPoolBackwardTiled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let out = linearIndex(gid, groups);
  if (out >= params.planes * OUT_H * OUT_W) { return; }
  let w = windowOf(out);
  let ox = u32(w.left) / u32(STRIDE_W);
  let oy = u32(w.top) / u32(STRIDE_H);
  let rowEnd = select(u32(w.top + STRIDE_H), HEIGHT, oy + 1u == OUT_H);
  let colEnd = select(u32(w.left + STRIDE_W), WIDTH, ox + 1u == OUT_W);
  let base = w.plane * HEIGHT * WIDTH;
  let at = argmaxIn[out];
  let g = dy[out];
  for (var iy = u32(w.top); iy < rowEnd; iy++) {
    for (var ix = u32(w.left); ix < colEnd; ix++) {
      let index = base + iy * WIDTH + ix;
      dx[index] = select(0.0, g, index == at);
    }
  }
}
