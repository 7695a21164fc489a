// Fused optimizer steps with PyTorch semantics (torch.optim.SGD, Adam, AdamW), one dispatch per
// parameter tensor. Per-step values come from buffers the executor rewrites before each submit:
// hyper = [learning rate, step t (1-based), 0, 0]; clip[0] = the gradient scale from clipGradNorm.
struct SgdParams { n: u32, momentum: f32, dampening: f32, weight_decay: f32, l1: f32, nesterov: u32 }
struct AdamParams {
  n: u32, beta1: f32, beta2: f32,
  // 1 − β in f32 straight from float64: 1 − f32(0.999) is already 1.3e-5 off in relative terms.
  one_minus_beta1: f32, one_minus_beta2: f32,
  eps: f32, weight_decay: f32, l1: f32, decoupled: u32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> hyper: array<f32>;
@group(0) @binding(3) var<storage, read> clip: array<f32>;
@group(0) @binding(4) var<uniform> sgd_params: SgdParams;
@group(0) @binding(5) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(6) var<uniform> adam_params: AdamParams;
@group(0) @binding(7) var<storage, read_write> m: array<f32>;
@group(0) @binding(8) var<storage, read_write> v: array<f32>;
// Mixed precision: shaders/loss_scale.wgsl's State read as words, [scale, good steps, found
// Inf/NaN, skipped steps]. The *_scaled entries skip the whole update while the flag is set (the
// step GradScaler.step skips) and count Adam's t, and SGD's first step, in updates applied:
// hyper's step less the steps skipped before this one.
@group(0) @binding(9) var<storage, read> loss_scale: array<u32, 4>;

const WG = 256u;

fn element(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// The clipped gradient plus the coupled penalties (L2 weight decay, L1 via sign(w)).
fn penalized_grad(g: f32, w: f32, scale: f32, weight_decay: f32, l1: f32) -> f32 {
  return g * scale + weight_decay * w + l1 * sign(w);
}

fn update_skipped() -> bool {
  return loss_scale[2] != 0u;
}

fn applied_step() -> u32 {
  return u32(hyper[1]) - loss_scale[3];
}

// Each invocation updates elements first, first + stride, … (stride = all invocations): the
// per-step setup below is paid once per invocation, and neighbouring invocations still touch
// neighbouring elements.
fn sgd_update(gid: vec3u, groups: vec3u) {
  let p = sgd_params;
  let lr = hyper[0];
  let scale = clip[0];
  let stride = groups.x * groups.y * WG;
  for (var i = element(gid, groups); i < p.n; i += stride) {
    let w = param[i];
    param[i] = w - lr * penalized_grad(grad[i], w, scale, p.weight_decay, p.l1);
  }
}

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  sgd_update(gid, groups);
}

@compute @workgroup_size(WG)
fn sgd_scaled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  if (update_skipped()) { return; }
  sgd_update(gid, groups);
}

fn sgd_momentum_update(gid: vec3u, groups: vec3u, t: u32) {
  let p = sgd_params;
  let lr = hyper[0];
  let scale = clip[0];
  // PyTorch starts the momentum buffer as a copy of the first gradient (no dampening), so
  // whatever the velocity buffer held before step 1 is ignored.
  let first_step = t <= 1u;
  let stride = groups.x * groups.y * WG;
  for (var i = element(gid, groups); i < p.n; i += stride) {
    let w = param[i];
    let g = penalized_grad(grad[i], w, scale, p.weight_decay, p.l1);
    var buf = g;
    if (!first_step) { buf = p.momentum * velocity[i] + (1.0 - p.dampening) * g; }
    velocity[i] = buf;
    var direction = buf;
    if (p.nesterov != 0u) { direction = g + p.momentum * buf; }
    param[i] = w - lr * direction;
  }
}

// 1 − βᵗ by square-and-multiply on pairs (βᵏ, 1 − βᵏ): every update adds positive terms, so the
// result keeps f32 relative accuracy even for tiny 1 − βᵗ. WGSL lets pow() be exp2(t·log2 β) with
// log2 off by 2^-21 absolute, which at t = 1, β = 0.999 could cost 1 − βᵗ about 5e-4 relative.
fn one_minus_power(beta: f32, one_minus_beta: f32, t: u32) -> f32 {
  var power = 1.0;      // β^(bits consumed so far)
  var complement = 0.0; // 1 − power
  var base = beta;
  var base_complement = one_minus_beta;
  var rest = t;
  loop {
    if (rest == 0u) { break; }
    if ((rest & 1u) != 0u) {
      complement = complement + base_complement * power;
      power = power * base;
    }
    base_complement = base_complement * (1.0 + base);
    base = base * base;
    rest = rest >> 1u;
  }
  return complement;
}

@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  sgd_momentum_update(gid, groups, u32(hyper[1]));
}

@compute @workgroup_size(WG)
fn sgd_momentum_scaled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  if (update_skipped()) { return; }
  sgd_momentum_update(gid, groups, applied_step());
}

// m and v must start at zero, as PyTorch's state does.
fn adam_update(gid: vec3u, groups: vec3u, t: u32) {
  let p = adam_params;
  let lr = hyper[0];
  let scale = clip[0];
  let correction1 = one_minus_power(p.beta1, p.one_minus_beta1, t);
  let inv_sqrt_correction2 = 1.0 / sqrt(one_minus_power(p.beta2, p.one_minus_beta2, t));
  let step_size = lr / correction1;
  var coupled_decay = p.weight_decay;
  var shrink = 1.0;
  if (p.decoupled != 0u) {
    coupled_decay = 0.0;
    shrink = 1.0 - lr * p.weight_decay;
  }
  let stride = groups.x * groups.y * WG;
  for (var i = element(gid, groups); i < p.n; i += stride) {
    let w = param[i];
    let g = penalized_grad(grad[i], w, scale, coupled_decay, p.l1);
    let m_next = p.beta1 * m[i] + p.one_minus_beta1 * g;
    let v_next = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
    m[i] = m_next;
    v[i] = v_next;
    let denom = sqrt(v_next) * inv_sqrt_correction2 + p.eps;
    param[i] = w * shrink - step_size * (m_next / denom);
  }
}

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  adam_update(gid, groups, u32(hyper[1]));
}

@compute @workgroup_size(WG)
fn adam_scaled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  if (update_skipped()) { return; }
  adam_update(gid, groups, applied_step());
}
