// Batch assembly on the GPU. Token data (`gather_tokens`, at the end) is one long u32 stream cut
// into (input, next-token target) windows by start index. Image data is u8 (4 per u32, images back
// to back) with u32 class labels (any number of classes): `gather` and `gather_augment` gather
// the rows named by `indices`, optionally through a random affine augmentation, and scales each
// value v ∈ [0, 255] as (v − 255·mean) · 1/(255·std) = (v/255 − mean)/std. That is a subtraction
// then a product, both correctly rounded in WGSL and with nothing to fuse, so the plain path gives
// the same bits on every device.
//
// A dataset field larger than one storage binding is split into shards, buffers of whole samples:
// shard k holds samples first_sample = k·shard_samples onwards. The host records one dispatch per
// shard over the whole batch, and each writes only the rows whose sample falls in its shard (one
// subtraction and one unsigned compare, since a sample below first_sample wraps past shard_samples).
// An unsharded field is one shard with first_sample 0, so it still takes one dispatch.
// #import rng

struct GatherParams { batch: u32, pixels: u32, offset: f32, scale: f32, first_sample: u32, shard_samples: u32 }
struct AugmentParams {
  batch: u32, channels: u32, height: u32, width: u32, offset: f32, scale: f32,
  max_rotation: f32,  // radians
  max_translate: f32, // pixels
  min_scale: f32, max_scale: f32,
  first_sample: u32, shard_samples: u32,
}

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;
@group(0) @binding(5) var<uniform> gather_params: GatherParams;
@group(0) @binding(6) var<uniform> augment_params: AugmentParams;
@group(0) @binding(7) var<storage, read> seed: array<u32, 2>; // [seed, step], rewritten every step

// Dropout layers draw from streams 0, 1, 2… of the same per-step seed; augmentation has its own.
const AUGMENT_STREAM = 0x61756700u;

fn image_byte(b: u32) -> u32 {
  return (images[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

// Each invocation writes a contiguous run of up to RUN values within one row: the row's index
// lookup and the division are paid once per run.
const RUN = 16u;

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = gather_params;
  let run = gid.x + gid.y * groups.x * 64u;
  let runs_per_row = (p.pixels + RUN - 1u) / RUN;
  let row = run / runs_per_row;
  if (row >= p.batch) { return; }
  let first = (run - row * runs_per_row) * RUN;
  let last = min(first + RUN, p.pixels);
  let image = indices[row] - p.first_sample;
  if (image >= p.shard_samples) { return; }
  let source = image * p.pixels;
  let out = row * p.pixels;
  for (var pixel = first; pixel < last; pixel++) {
    x[out + pixel] = (f32(image_byte(source + pixel)) - p.offset) * p.scale;
  }
  if (first == 0u) { y[row] = labels[image]; }
}

// One source pixel of a plane, zero outside the image.
fn source_pixel(plane: u32, sx: i32, sy: i32) -> f32 {
  let p = augment_params;
  if (sx < 0 || sy < 0 || sx >= i32(p.width) || sy >= i32(p.height)) { return 0.0; }
  return f32(image_byte(plane + u32(sy) * p.width + u32(sx)));
}

// The inverse map (output → source) of: rotate counter-clockwise on screen by `angle` and scale by
// `zoom` about the image centre, then translate by (tx, ty). A zero-strength draw gives angle 0,
// zoom 1, shift 0, every source point lands exactly on its own pixel and bilinear weights are 0 or
// 1, so the result equals the plain gather bit for bit.
struct Affine { cos_a: f32, sin_a: f32, inv_zoom: f32, tx: f32, ty: f32 }

fn draw_affine(row: u32) -> Affine {
  let p = augment_params;
  let step_seed = rng_u32(seed[0], seed[1], 0u);
  let angle = (2.0 * rng_uniform(step_seed, AUGMENT_STREAM, 4u * row) - 1.0) * p.max_rotation;
  let zoom = p.min_scale + (p.max_scale - p.min_scale) * rng_uniform(step_seed, AUGMENT_STREAM, 4u * row + 1u);
  let tx = (2.0 * rng_uniform(step_seed, AUGMENT_STREAM, 4u * row + 2u) - 1.0) * p.max_translate;
  let ty = (2.0 * rng_uniform(step_seed, AUGMENT_STREAM, 4u * row + 3u) - 1.0) * p.max_translate;
  return Affine(cos(angle), sin(angle), 1.0 / zoom, tx, ty);
}

// One invocation per output image line (row, channel, line): the draw and its sin/cos are paid once
// per line instead of once per pixel, and each invocation writes a contiguous run.
@compute @workgroup_size(64)
fn gather_augment(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = augment_params;
  let line = gid.x + gid.y * groups.x * 64u;
  if (line >= p.batch * p.channels * p.height) { return; }
  let oy = line % p.height;
  let plane_index = line / p.height; // row · channels + channel
  let row = plane_index / p.channels;
  let channel = plane_index - row * p.channels;
  let image = indices[row] - p.first_sample;
  if (image >= p.shard_samples) { return; }
  let plane_size = p.height * p.width;
  let plane = (image * p.channels + channel) * plane_size;
  let t = draw_affine(row);
  let cx = 0.5 * f32(p.width - 1u);
  let cy = 0.5 * f32(p.height - 1u);
  let dy = f32(oy) - cy - t.ty;
  let out_base = plane_index * plane_size + oy * p.width;
  for (var ox = 0u; ox < p.width; ox++) {
    let dx = f32(ox) - cx - t.tx;
    let sx = cx + (t.cos_a * dx - t.sin_a * dy) * t.inv_zoom;
    let sy = cy + (t.sin_a * dx + t.cos_a * dy) * t.inv_zoom;
    let x0 = floor(sx);
    let y0 = floor(sy);
    let fx = sx - x0;
    let fy = sy - y0;
    let ix = i32(x0);
    let iy = i32(y0);
    let top = (1.0 - fx) * source_pixel(plane, ix, iy) + fx * source_pixel(plane, ix + 1, iy);
    let bottom = (1.0 - fx) * source_pixel(plane, ix, iy + 1) + fx * source_pixel(plane, ix + 1, iy + 1);
    // Rounding could push a convex blend of bytes a hair past 255; keep values in [0, 255].
    let v = clamp((1.0 - fy) * top + fy * bottom, 0.0, 255.0);
    x[out_base + ox] = (v - p.offset) * p.scale;
  }
  if (channel == 0u && oy == 0u) { y[row] = labels[image]; }
}

struct TokenParams { batch: u32, context: u32 }

@group(0) @binding(8) var<storage, read> token_stream: array<u32>;
@group(0) @binding(9) var<storage, read> starts: array<u32>;
@group(0) @binding(10) var<storage, read_write> token_x: array<u32>;
@group(0) @binding(11) var<storage, read_write> token_y: array<u32>;
@group(0) @binding(12) var<uniform> token_params: TokenParams;

// One invocation per (row, position): x[row, t] = stream[start + t], y[row, t] = stream[start + t + 1].
// The runtime checks every start leaves room for context + 1 tokens before it uploads the starts.
@compute @workgroup_size(64)
fn gather_tokens(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = token_params;
  let i = gid.x + gid.y * groups.x * 64u;
  if (i >= p.batch * p.context) { return; }
  let row = i / p.context;
  let source = starts[row] + (i - row * p.context);
  token_x[i] = token_stream[source];
  token_y[i] = token_stream[source + 1u];
}

// Named-tensor datasets: each field is its own buffer of `width` values per sample. f32 and u32
// fields are copied word for word (the bits are the same either way); u8 fields are scaled like
// the images above, with an (offset, scale) pair per channel plane, so each channel can have its
// own mean and std.
struct FieldParams { batch: u32, width: u32, plane: u32, first_sample: u32, shard_samples: u32 }

@group(0) @binding(13) var<storage, read> field_words: array<u32>;
@group(0) @binding(14) var<storage, read> field_bytes: array<u32>;
@group(0) @binding(15) var<storage, read> field_rows: array<u32>;
@group(0) @binding(16) var<storage, read_write> field_copy: array<u32>;
@group(0) @binding(17) var<storage, read_write> field_scaled: array<f32>;
@group(0) @binding(18) var<storage, read> channel_scaling: array<vec2f>; // (offset, scale) per channel
@group(0) @binding(19) var<uniform> field_params: FieldParams;

// One invocation per output value: out[row, i] = field[rows[row], i].
@compute @workgroup_size(64)
fn gather_words(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = field_params;
  let i = gid.x + gid.y * groups.x * 64u;
  if (i >= p.batch * p.width) { return; }
  let row = i / p.width;
  let sample = field_rows[row] - p.first_sample;
  if (sample >= p.shard_samples) { return; }
  let within = i - row * p.width;
  field_copy[i] = field_words[sample * p.width + within];
}

// (byte − offset_c) · scale_c, c the channel plane the value lies in; like `gather`, each invocation
// writes a run of up to RUN values within one row.
@compute @workgroup_size(64)
fn gather_scaled_bytes(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = field_params;
  let run = gid.x + gid.y * groups.x * 64u;
  let runs_per_row = (p.width + RUN - 1u) / RUN;
  let row = run / runs_per_row;
  if (row >= p.batch) { return; }
  let first = (run - row * runs_per_row) * RUN;
  let last = min(first + RUN, p.width);
  let sample = field_rows[row] - p.first_sample;
  if (sample >= p.shard_samples) { return; }
  let source = sample * p.width;
  let out = row * p.width;
  for (var i = first; i < last; i++) {
    let b = source + i;
    let byte = (field_bytes[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
    let s = channel_scaling[i / p.plane];
    field_scaled[out + i] = (f32(byte) - s.x) * s.y;
  }
}
