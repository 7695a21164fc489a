// f32 ↔ packed f16 conversions, e.g. an f32 master copy of the weights → the f16 copy a step's
// products read. Packed buffers hold two halves per u32, element 2i in the low half of word i.
// Both sides are bound as u32 and converted in integer arithmetic (lib/f16.wgsl), so the result is
// bit for bit the CPU's packF16 / unpackF16, NaN payloads and subnormals included.
// count: elements (halves); an odd count leaves the last word's high half zero.
struct Params { count: u32 }

const WG = 256u;
@group(0) @binding(0) var<storage, read> f32_in: array<u32>;
@group(0) @binding(1) var<storage, read_write> packed_out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> packed_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> f32_out: array<u32>;

// #import grid
// #import f16

// One invocation per packed word.
@compute @workgroup_size(WG)
fn pack(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let word = linearIndex(gid, groups);
  let first = 2u * word;
  if (first >= params.count) { return; }
  var hi = 0u;
  if (first + 1u < params.count) { hi = f16_bits(f32_in[first + 1u]); }
  packed_out[word] = f16_bits(f32_in[first]) | (hi << 16u);
}

@compute @workgroup_size(WG)
fn unpack(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let word = linearIndex(gid, groups);
  let first = 2u * word;
  if (first >= params.count) { return; }
  let halves = packed_in[word];
  f32_out[first] = f32_bits_of_f16(halves & 0xffffu);
  if (first + 1u < params.count) { f32_out[first + 1u] = f32_bits_of_f16(halves >> 16u); }
}
