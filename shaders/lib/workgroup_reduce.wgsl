// Fixed-order workgroup reductions, so a run repeats bit for bit: a vec2 sum, and mean with variance
// in one pass (Welford's update per lane, Chan et al.'s merge across lanes) without E[x²] − E[x]²'s
// cancellation. The including shader defines its workgroup size as WG (a power of two).
var<workgroup> partial: array<vec2f, WG>;

// Workgroup sum in a fixed tree order; every lane gets the result.
fn workgroupSum(lane: u32, value: vec2f) -> vec2f {
  partial[lane] = value;
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { partial[lane] += partial[lane + width]; }
  }
  workgroupBarrier();
  return partial[0];
}

// Count, mean and sum of squared deviations of a set of values.
struct Moments { n: f32, mean: f32, m2: f32 }
var<workgroup> lanesMoments: array<Moments, WG>;

// Welford's update with one more value.
fn welford(m: Moments, v: f32) -> Moments {
  let n = m.n + 1.0;
  let delta = v - m.mean;
  let mean = m.mean + delta / n;
  return Moments(n, mean, m.m2 + delta * (v - mean));
}

// Chan et al.'s pairwise combination; lanes that saw no values (n = 0) merge as the identity.
fn merged(a: Moments, b: Moments) -> Moments {
  if (b.n == 0.0) { return a; }
  let n = a.n + b.n;
  let delta = b.mean - a.mean;
  let share = b.n / n;
  return Moments(n, a.mean + delta * share, a.m2 + b.m2 + delta * delta * a.n * share);
}

// The same fixed tree for moments; every lane gets the result.
fn workgroupMoments(lane: u32, value: Moments) -> Moments {
  lanesMoments[lane] = value;
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { lanesMoments[lane] = merged(lanesMoments[lane], lanesMoments[lane + width]); }
  }
  workgroupBarrier();
  return lanesMoments[0];
}
