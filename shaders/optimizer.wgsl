// Fused optimizer steps, one invocation per parameter element, PyTorch semantics (torch.optim.SGD,
// Adam, AdamW). Per-step values come from buffers the executor rewrites before each submit:
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

const WG = 256u;

fn element(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// The clipped gradient plus the coupled penalties (L2 weight decay, L1 via sign(w)).
fn penalized_grad(i: u32, w: f32, weight_decay: f32, l1: f32) -> f32 {
  return grad[i] * clip[0] + weight_decay * w + l1 * sign(w);
}

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = element(gid, groups);
  if (i >= sgd_params.n) { return; }
  let w = param[i];
  param[i] = w - hyper[0] * penalized_grad(i, w, sgd_params.weight_decay, sgd_params.l1);
}

@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = element(gid, groups);
  if (i >= sgd_params.n) { return; }
  let w = param[i];
  let g = penalized_grad(i, w, sgd_params.weight_decay, sgd_params.l1);
  // PyTorch starts the momentum buffer as a copy of the first gradient (no dampening), so
  // whatever the velocity buffer held before step 1 is ignored.
  var buf = g;
  if (u32(hyper[1]) > 1u) {
    buf = sgd_params.momentum * velocity[i] + (1.0 - sgd_params.dampening) * g;
  }
  velocity[i] = buf;
  var direction = buf;
  if (sgd_params.nesterov != 0u) { direction = g + sgd_params.momentum * buf; }
  param[i] = w - hyper[0] * direction;
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

// m and v must start at zero, as PyTorch's state does.
@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = element(gid, groups);
  if (i >= adam_params.n) { return; }
  let lr = hyper[0];
  let t = u32(hyper[1]);
  var w = param[i];
  var coupled_decay = adam_params.weight_decay;
  if (adam_params.decoupled != 0u) {
    coupled_decay = 0.0;
    w = w * (1.0 - lr * adam_params.weight_decay);
  }
  let g = penalized_grad(i, param[i], coupled_decay, adam_params.l1);
  let m_next = adam_params.beta1 * m[i] + adam_params.one_minus_beta1 * g;
  let v_next = adam_params.beta2 * v[i] + adam_params.one_minus_beta2 * g * g;
  m[i] = m_next;
  v[i] = v_next;
  let correction1 = one_minus_power(adam_params.beta1, adam_params.one_minus_beta1, t);
  let correction2 = one_minus_power(adam_params.beta2, adam_params.one_minus_beta2, t);
  let denom = sqrt(v_next) / sqrt(correction2) + adam_params.eps;
  param[i] = w - (lr / correction1) * (m_next / denom);
}
