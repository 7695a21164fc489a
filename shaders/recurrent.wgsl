// Recurrent cells (LSTM in PyTorch's gate order i, f, g, o; SimpleRNN with tanh), one dispatch per
// time step in each direction. Each step kernel fuses the recurrent product with W_hh into its gate
// math, so a step reads the previous step's whole hidden row and the sequence needs no per-step
// GEMM. Sequences live time-major: hidden/cell states [T+1, B, H] with row 0 the zero initial state,
// projections and gate values [T, B, G·H] (G = 4 for LSTM, 1 for RNN).
struct Params {
  batch: u32,
  steps: u32,
  step: u32,     // t, the time step this dispatch computes
  width: u32,    // H for the cell kernels; the row length for the layout changes
  offset: u32,   // element offset of this step's output gradient (backward) or of the source rows (toBatchMajor)
  has_dy: u32,   // backward: whether an output gradient reaches this step
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> xproj: array<f32>;
@group(0) @binding(2) var<storage, read> weight_hh: array<f32>;
@group(0) @binding(3) var<storage, read> bias_hh: array<f32>;
@group(0) @binding(4) var<storage, read_write> hidden: array<f32>;
@group(0) @binding(5) var<storage, read_write> cell: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates_out: array<f32>;
@group(0) @binding(7) var<storage, read> hidden_in: array<f32>;
@group(0) @binding(8) var<storage, read> cell_in: array<f32>;
@group(0) @binding(9) var<storage, read> gates: array<f32>;
@group(0) @binding(10) var<storage, read> dy: array<f32>;
@group(0) @binding(11) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(12) var<storage, read_write> dcell: array<f32>;
@group(0) @binding(13) var<storage, read> src: array<f32>;
@group(0) @binding(14) var<storage, read_write> dst: array<f32>;

const WG = 64u;

fn linearIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// Split by sign so exp never overflows.
fn sigmoid(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

// tanh is exactly ±1 in f32 beyond |v| = 9; the clamp keeps exp-based tanh implementations finite.
fn safeTanh(v: f32) -> f32 {
  return tanh(clamp(v, -15.0, 15.0));
}

// Σ_k h_{t-1}[b, k] · W_hh[row, k]: the previous hidden row starts at `prev`.
fn recurrentDot(prev: u32, row: u32, hiddenSize: u32) -> f32 {
  var sum = 0.0;
  let w = row * hiddenSize;
  for (var k = 0u; k < hiddenSize; k++) { sum += hidden[prev + k] * weight_hh[w + k]; }
  return sum;
}

// Σ_n dgates_{t+1}[b, n] · W_hh[n, j]: the gradient reaching h_t through the next step's gates.
fn recurrentGradient(next: u32, j: u32, rows: u32, hiddenSize: u32) -> f32 {
  var sum = 0.0;
  for (var n = 0u; n < rows; n++) { sum += dgates[next + n] * weight_hh[n * hiddenSize + j]; }
  return sum;
}

// One LSTM step for every (b, j): gates from xproj (which carries bias_ih) + bias_hh + h_{t-1}·W_hhᵀ,
// then c_t and h_t. Step 0 also writes the zero initial state that later steps and dW_hh read.
@compute @workgroup_size(WG)
fn lstmStep(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let H = params.width;
  let B = params.batch;
  let t = params.step;
  if (index >= B * H) { return; }
  let b = index / H;
  let j = index - b * H;
  let row = (t * B + b) * 4u * H;
  var pre = vec4f(xproj[row + j], xproj[row + H + j], xproj[row + 2u * H + j], xproj[row + 3u * H + j])
    + vec4f(bias_hh[j], bias_hh[H + j], bias_hh[2u * H + j], bias_hh[3u * H + j]);
  var cPrev = 0.0;
  if (t > 0u) {
    let prev = t * B * H + b * H;
    pre += vec4f(recurrentDot(prev, j, H), recurrentDot(prev, H + j, H), recurrentDot(prev, 2u * H + j, H), recurrentDot(prev, 3u * H + j, H));
    cPrev = cell[t * B * H + index];
  } else {
    hidden[index] = 0.0;
    cell[index] = 0.0;
  }
  let i = sigmoid(pre.x);
  let f = sigmoid(pre.y);
  let g = safeTanh(pre.z);
  let o = sigmoid(pre.w);
  let c = f * cPrev + i * g;
  gates_out[row + j] = i;
  gates_out[row + H + j] = f;
  gates_out[row + 2u * H + j] = g;
  gates_out[row + 3u * H + j] = o;
  cell[(t + 1u) * B * H + index] = c;
  hidden[(t + 1u) * B * H + index] = o * safeTanh(c);
}

// BPTT through one LSTM step (run for t = T-1 down to 0): dh_t from the output gradient and the next
// step's gates, dc_t from the next step (kept in dcell, overwritten with dc_{t-1}), gate
// pre-activation gradients into dgates[t].
@compute @workgroup_size(WG)
fn lstmStepBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let H = params.width;
  let B = params.batch;
  let t = params.step;
  if (index >= B * H) { return; }
  let b = index / H;
  let j = index - b * H;
  let G = 4u * H;
  let last = t + 1u == params.steps;
  var dh = 0.0;
  if (params.has_dy != 0u) { dh = dy[params.offset + index]; }
  var dc = 0.0;
  if (!last) {
    dh += recurrentGradient(((t + 1u) * B + b) * G, j, G, H);
    dc = dcell[index];
  }
  let row = (t * B + b) * G;
  let i = gates[row + j];
  let f = gates[row + H + j];
  let g = gates[row + 2u * H + j];
  let o = gates[row + 3u * H + j];
  let c = cell_in[(t + 1u) * B * H + index];
  let cPrev = cell_in[t * B * H + index];
  let tc = safeTanh(c);
  dc += dh * o * (1.0 - tc * tc);
  dgates[row + j] = dc * g * i * (1.0 - i);
  dgates[row + H + j] = dc * cPrev * f * (1.0 - f);
  dgates[row + 2u * H + j] = dc * i * (1.0 - g * g);
  dgates[row + 3u * H + j] = dh * tc * o * (1.0 - o);
  dcell[index] = dc * f;
}

// One SimpleRNN step: h_t = tanh(xproj + bias_hh + h_{t-1}·W_hhᵀ).
@compute @workgroup_size(WG)
fn rnnStep(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let H = params.width;
  let B = params.batch;
  let t = params.step;
  if (index >= B * H) { return; }
  let b = index / H;
  let j = index - b * H;
  var pre = xproj[(t * B + b) * H + j] + bias_hh[j];
  if (t > 0u) {
    pre += recurrentDot(t * B * H + b * H, j, H);
  } else {
    hidden[index] = 0.0;
  }
  hidden[(t + 1u) * B * H + index] = safeTanh(pre);
}

@compute @workgroup_size(WG)
fn rnnStepBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let H = params.width;
  let B = params.batch;
  let t = params.step;
  if (index >= B * H) { return; }
  let b = index / H;
  let j = index - b * H;
  var dh = 0.0;
  if (params.has_dy != 0u) { dh = dy[params.offset + index]; }
  if (t + 1u < params.steps) { dh += recurrentGradient(((t + 1u) * B + b) * H, j, H, H); }
  let h = hidden_in[(t + 1u) * B * H + index];
  dgates[(t * B + b) * H + j] = dh * (1.0 - h * h);
}

// [B, T, width] → [T, B, width].
@compute @workgroup_size(WG)
fn toTimeMajor(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let W = params.width;
  if (index >= params.batch * params.steps * W) { return; }
  let row = index / W;
  let e = index - row * W;
  let t = row / params.batch;
  let b = row - t * params.batch;
  dst[index] = src[(b * params.steps + t) * W + e];
}

// [T, B, width] starting at src[offset] → [B, T, width].
@compute @workgroup_size(WG)
fn toBatchMajor(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(gid, groups);
  let W = params.width;
  if (index >= params.batch * params.steps * W) { return; }
  let row = index / W;
  let e = index - row * W;
  let b = row / params.steps;
  let t = row - b * params.steps;
  dst[index] = src[params.offset + (t * params.batch + b) * W + e];
}
