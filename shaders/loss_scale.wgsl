// Dynamic loss scaling for mixed-precision training, PyTorch GradScaler's rule: the loss gradient is
// multiplied by the scale before the backward pass; afterwards every gradient is divided by it and
// checked for Inf/NaN; a step that saw one is to be skipped and the scale multiplied by the backoff
// factor, and after growth_interval clean steps in a row it is multiplied by the growth factor.
// All of it stays on the GPU in one 16-byte state buffer, so a step needs no readback.
struct State {
  scale: f32,
  good_steps: u32,         // clean steps since the scale last changed
  found_nonfinite: atomic<u32>, // set by unscale_check, cleared by update_scale
  skipped_steps: u32,      // steps that found Inf/NaN, in total
}
struct ValuesParams { count: u32 }
struct UpdateParams { growth_factor: f32, backoff_factor: f32, growth_interval: u32 }

const WG = 256u;
@group(0) @binding(0) var<storage, read_write> state: State;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<uniform> params: ValuesParams;
@group(0) @binding(3) var<uniform> update: UpdateParams;

// #import grid

// Inf and NaN told apart from finite values by their exponent bits: float compares may be compiled
// on the assumption that no NaN exists.
fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// values *= scale: the loss gradient (dLogits) before the backward pass.
@compute @workgroup_size(WG)
fn scale_values(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  values[i] = values[i] * state.scale;
}

// values *= 1 / scale, flagging the step when a gradient is Inf or NaN before or after (a scale
// backed off below 1 could overflow a large finite gradient).
@compute @workgroup_size(WG)
fn unscale_check(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i >= params.count) { return; }
  let g = values[i];
  let unscaled = g * (1.0 / state.scale);
  if (!finite(g) || !finite(unscaled)) { atomicStore(&state.found_nonfinite, 1u); }
  values[i] = unscaled;
}

// One invocation, after the optimizer has read the flag: back off or count a clean step, grow the
// scale when the interval is reached (unless growing would overflow it), and clear the flag.
@compute @workgroup_size(1)
fn update_scale() {
  if (atomicLoad(&state.found_nonfinite) != 0u) {
    state.scale = state.scale * update.backoff_factor;
    state.good_steps = 0u;
    state.skipped_steps = state.skipped_steps + 1u;
  } else {
    let good = state.good_steps + 1u;
    if (good >= update.growth_interval) {
      let grown = state.scale * update.growth_factor;
      if (finite(grown)) { state.scale = grown; }
      state.good_steps = 0u;
    } else {
      state.good_steps = good;
    }
  }
  atomicStore(&state.found_nonfinite, 0u);
}
