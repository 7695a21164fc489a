// Recurrent cells (LSTM in PyTorch's gate order i, f, g, o; SimpleRNN with tanh), one dispatch per
// time step in each direction. Each step kernel fuses the recurrent product with W_hh into its gate
// math, so a step needs no separate GEMM and reads its rows at offsets given in params (a storage
// binding offset would have to be 256-byte aligned). Sequences live time-major: hidden/cell states [T+1, B, H] with row 0 the zero initial state,
// projections and gate values [T, B, G·H] (G = 4 for LSTM, 1 for RNN).
struct Params {
  batch: u32,
  steps: u32,
  step: u32,     // t, the time step this dispatch computes
  width: u32,    // H
  offset: u32,   // element offset of this step's output gradient (backward)
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
@group(0) @binding(13) var<storage, read> weight_hh_t: array<f32>;

const WG = 64u;

// #import grid

// #import sigmoid

// tanh is exactly ±1 in f32 beyond |v| = 9; the clamp keeps exp-based tanh implementations finite.
fn safeTanh(v: f32) -> f32 {
  return tanh(clamp(v, -15.0, 15.0));
}

// Blocking that suits llvmpipe, which runs a workgroup as SIMD lanes: a workgroup owns ROWS batch
// rows (so every load from a hidden or gradient row is the same for all lanes: one scalar load and
// a broadcast) and WG consecutive units j (so weight loads of neighbouring lanes are neighbouring
// addresses). Out-of-range rows and units are clamped and computed redundantly, never stored.
override ROWS: u32 = 4u;   // ≤ MAX_ROWS
const MAX_ROWS = 8u;

struct Block {
  rows: array<u32, MAX_ROWS>,
  j: u32,
  // Whether this lane's unit exists; row validity is checked per row.
  valid: bool,
}

fn stepBlock(wid: vec3u, lid: vec3u) -> Block {
  var out: Block;
  let j = wid.x * WG + lid.x;
  out.j = min(j, params.width - 1u);
  out.valid = j < params.width;
  for (var r = 0u; r < ROWS; r++) { out.rows[r] = min(wid.y * ROWS + r, params.batch - 1u); }
  return out;
}

fn rowExists(wid: vec3u, r: u32) -> bool {
  return wid.y * ROWS + r < params.batch;
}

// One LSTM step: gates from xproj (which carries bias_ih) + bias_hh + h_{t-1}·W_hhᵀ, then c_t and
// h_t. W_hh comes transposed ([H, 4H]) so the four gate weights of unit j at input k are lane-
// contiguous. Step 0 also writes the zero initial state that later steps and dW_hh read.
@compute @workgroup_size(WG)
fn lstmStep(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let H = params.width;
  let B = params.batch;
  let G = 4u * H;
  let t = params.step;
  let blk = stepBlock(wid, lid);
  let j = blk.j;
  var acc: array<vec4f, MAX_ROWS>;
  if (t > 0u) {
    for (var k = 0u; k < H; k++) {
      let w = k * G + j;
      let wk = vec4f(weight_hh_t[w], weight_hh_t[w + H], weight_hh_t[w + 2u * H], weight_hh_t[w + 3u * H]);
      for (var r = 0u; r < ROWS; r++) { acc[r] = fma(vec4f(hidden[(t * B + blk.rows[r]) * H + k]), wk, acc[r]); }
    }
  }
  if (!blk.valid) { return; }
  let bias = vec4f(bias_hh[j], bias_hh[H + j], bias_hh[2u * H + j], bias_hh[3u * H + j]);
  for (var r = 0u; r < ROWS; r++) {
    if (!rowExists(wid, r)) { break; }
    let b = blk.rows[r];
    let row = (t * B + b) * G;
    let pre = acc[r] + bias + vec4f(xproj[row + j], xproj[row + H + j], xproj[row + 2u * H + j], xproj[row + 3u * H + j]);
    var cPrev = 0.0;
    if (t > 0u) {
      cPrev = cell[t * B * H + b * H + j];
    } else {
      hidden[b * H + j] = 0.0;
      cell[b * H + j] = 0.0;
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
    cell[((t + 1u) * B + b) * H + j] = c;
    hidden[((t + 1u) * B + b) * H + j] = o * safeTanh(c);
  }
}

// Σ_n dgates_{t+1}[b, n] · W_hh[n, j] for each row of the block: the gradient reaching h_t through
// the next step's gates (rows of G = gates·H pre-activations).
fn recurrentGradient(blk: Block, G: u32) -> array<f32, MAX_ROWS> {
  let H = params.width;
  let next = (params.step + 1u) * params.batch;
  var acc: array<f32, MAX_ROWS>;
  for (var n = 0u; n < G; n++) {
    let w = weight_hh[n * H + blk.j];
    for (var r = 0u; r < ROWS; r++) { acc[r] = fma(dgates[(next + blk.rows[r]) * G + n], w, acc[r]); }
  }
  return acc;
}

// BPTT through one LSTM step (run for t = T-1 down to 0): dh_t from the output gradient and the next
// step's gates, dc_t from the next step (kept in dcell, overwritten with dc_{t-1}), gate
// pre-activation gradients into dgates[t].
@compute @workgroup_size(WG)
fn lstmStepBackward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let H = params.width;
  let B = params.batch;
  let G = 4u * H;
  let t = params.step;
  let last = t + 1u == params.steps;
  let blk = stepBlock(wid, lid);
  let j = blk.j;
  var recurrent: array<f32, MAX_ROWS>;
  if (!last) { recurrent = recurrentGradient(blk, G); }
  if (!blk.valid) { return; }
  for (var r = 0u; r < ROWS; r++) {
    if (!rowExists(wid, r)) { break; }
    let b = blk.rows[r];
    let unit = b * H + j;
    var dh = recurrent[r];
    if (params.has_dy != 0u) { dh += dy[params.offset + unit]; }
    var dc = 0.0;
    if (!last) { dc = dcell[unit]; }
    let row = (t * B + b) * G;
    let i = gates[row + j];
    let f = gates[row + H + j];
    let g = gates[row + 2u * H + j];
    let o = gates[row + 3u * H + j];
    let c = cell_in[(t + 1u) * B * H + unit];
    let cPrev = cell_in[t * B * H + unit];
    let tc = safeTanh(c);
    dc += dh * o * (1.0 - tc * tc);
    dgates[row + j] = dc * g * i * (1.0 - i);
    dgates[row + H + j] = dc * cPrev * f * (1.0 - f);
    dgates[row + 2u * H + j] = dc * i * (1.0 - g * g);
    dgates[row + 3u * H + j] = dh * tc * o * (1.0 - o);
    dcell[unit] = dc * f;
  }
}

// One SimpleRNN step: h_t = tanh(xproj + bias_hh + h_{t-1}·W_hhᵀ), W_hh transposed as for the LSTM.
@compute @workgroup_size(WG)
fn rnnStep(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let H = params.width;
  let B = params.batch;
  let t = params.step;
  let blk = stepBlock(wid, lid);
  let j = blk.j;
  var acc: array<f32, MAX_ROWS>;
  if (t > 0u) {
    for (var k = 0u; k < H; k++) {
      let w = weight_hh_t[k * H + j];
      for (var r = 0u; r < ROWS; r++) { acc[r] = fma(hidden[(t * B + blk.rows[r]) * H + k], w, acc[r]); }
    }
  }
  if (!blk.valid) { return; }
  for (var r = 0u; r < ROWS; r++) {
    if (!rowExists(wid, r)) { break; }
    let b = blk.rows[r];
    if (t == 0u) { hidden[b * H + j] = 0.0; }
    hidden[((t + 1u) * B + b) * H + j] = safeTanh(acc[r] + xproj[(t * B + b) * H + j] + bias_hh[j]);
  }
}

@compute @workgroup_size(WG)
fn rnnStepBackward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let H = params.width;
  let B = params.batch;
  let t = params.step;
  let blk = stepBlock(wid, lid);
  let j = blk.j;
  var recurrent: array<f32, MAX_ROWS>;
  if (t + 1u < params.steps) { recurrent = recurrentGradient(blk, H); }
  if (!blk.valid) { return; }
  for (var r = 0u; r < ROWS; r++) {
    if (!rowExists(wid, r)) { break; }
    let b = blk.rows[r];
    var dh = recurrent[r];
    if (params.has_dy != 0u) { dh += dy[params.offset + b * H + j]; }
    let h = hidden_in[((t + 1u) * B + b) * H + j];
    dgates[(t * B + b) * H + j] = dh * (1.0 - h * h);
  }
}
