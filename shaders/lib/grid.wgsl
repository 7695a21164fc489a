// The linear invocation index of a 1-D launch folded into y past 65,535 workgroups (grid1d() in
// src/gpu/kernel.ts); the including shader defines its workgroup size as WG.
fn linearIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}
