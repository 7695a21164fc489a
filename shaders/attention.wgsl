// Fused scaled-dot-product attention, O = softmax(Q·Kᵀ·scale + mask)·V per (batch, head), with
// q, k, v, o row-major [batch·heads, T, D]. Flash-attention style: the T×T scores are never
// written; the forward streams over keys with an online softmax and saves each query row's
// logsumexp, from which the backward recomputes the probabilities (FlashAttention-2's backward).
// Every sum has one owner and a fixed order (a key pass for dk and dv, a query pass for dq), so
// there are no float atomics and results repeat bit for bit.
//
// One invocation per query row (forward, dq) or key row (dk, dv), its rows held in private arrays;
// the lanes of a workgroup are consecutive rows of one head, so at each step of the stream they all
// read the same key (or query) row. No workgroup memory and no barriers: on llvmpipe, register
// blocking beats workgroup tiling, and a barrier costs more than the loads it would share.
// #import rng

struct Params {
  heads: u32,        // batch · heads
  seq: u32,          // T
  // D, 1 … MAX_HEAD_DIM. A uniform, not a pipeline constant: with a constant bound llvmpipe unrolls
  // every loop over D, and building a pipeline per head width cost far more than it saved.
  dim: u32,
  scale: f32,        // 1/√D
  rate: f32,         // dropout rate on the attention weights (DROPOUT only)
  keepScale: f32,    // 1/(1 − rate)
  stream: u32,       // distinct per attention layer, so layers draw independent masks
}

override CAUSAL: bool = false;     // query i sees keys j ≤ i only
override DROPOUT: bool = false;

const MAX_HEAD_DIM = 128u;
const WG = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read> seed: array<u32>;   // [seed, step], rewritten every step
@group(0) @binding(7) var<storage, read> dO: array<f32>;
@group(0) @binding(8) var<storage, read> oIn: array<f32>;
@group(0) @binding(9) var<storage, read_write> delta: array<f32>;
@group(0) @binding(10) var<storage, read> lseIn: array<f32>;
@group(0) @binding(11) var<storage, read> deltaIn: array<f32>;
@group(0) @binding(12) var<storage, read_write> dq: array<f32>;
@group(0) @binding(13) var<storage, read_write> dk: array<f32>;
@group(0) @binding(14) var<storage, read_write> dv: array<f32>;

// The (head, row) an invocation owns; row ≥ T for the ragged last workgroup.
struct Owner { head: u32, row: u32 }

fn ownerOf(gid: vec3u) -> Owner {
  return Owner(gid.y, gid.x);
}

// Index of element 0 of row `row` of `head`.
fn rowBase(head: u32, row: u32) -> u32 {
  return (head * params.seq + row) * params.dim;
}

// The dropout mask of a head's query row i is drawn from its own seed, so a pass that visits the
// row's weights out of order draws the same mask; src/kernels/attention.ts attentionDropoutKeeps()
// is the CPU twin of both functions.
fn dropoutRowSeed(head: u32, i: u32) -> u32 {
  let stepSeed = rng_u32(seed[0], seed[1], 0u);
  return rng_u32(stepSeed, params.stream, head * params.seq + i);
}

// The dropout factor of weight (i, j): 0 or 1/(1 − rate).
fn keepFactor(rowSeed: u32, j: u32) -> f32 {
  return select(0.0, params.keepScale, rng_uniform(rowSeed, 0u, j) >= params.rate);
}

// Keys query i attends to: [0, keyEnd).
fn keyEnd(i: u32) -> u32 {
  return select(params.seq, i + 1u, CAUSAL);
}

// Online softmax, one key at a time: the running maximum, the running sum and the output rescaled
// whenever the maximum grows. (Blocks of keys with one rescale each were slower on llvmpipe: the
// block's scores live in a dynamically indexed private array, which it keeps in memory.)
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  var qRow: array<f32, MAX_HEAD_DIM>;
  var acc: array<f32, MAX_HEAD_DIM>;
  let qBase = rowBase(me.head, me.row);
  for (var d = 0u; d < params.dim; d++) {
    qRow[d] = q[qBase + d] * params.scale;
    acc[d] = 0.0;
  }
  // A finite floor rather than −∞, so the first rescale is exp(floor − max) = 0, never NaN.
  var runningMax = -3.0e38;
  var runningSum = 0.0;
  var rowSeed = 0u;
  if (DROPOUT) { rowSeed = dropoutRowSeed(me.head, me.row); }
  for (var j = 0u; j < keyEnd(me.row); j++) {
    let kvBase = rowBase(me.head, j);
    var score = 0.0;
    for (var d = 0u; d < params.dim; d++) { score += qRow[d] * k[kvBase + d]; }
    let newMax = max(runningMax, score);
    let correction = exp(runningMax - newMax);
    let p = exp(score - newMax);
    runningSum = runningSum * correction + p;
    var weight = p;
    if (DROPOUT) { weight *= keepFactor(rowSeed, j); }
    for (var d = 0u; d < params.dim; d++) { acc[d] = acc[d] * correction + weight * v[kvBase + d]; }
    runningMax = newMax;
  }
  let inverse = 1.0 / runningSum;
  for (var d = 0u; d < params.dim; d++) { o[qBase + d] = acc[d] * inverse; }
  lse[me.head * params.seq + me.row] = runningMax + log(runningSum);
}

// delta_i = Σ_d dO[i, d]·O[i, d] = Σ_j P̃_ij·dP̃_ij, the row term of the softmax backward.
@compute @workgroup_size(WG)
fn backwardDelta(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  let base = rowBase(me.head, me.row);
  var sum = 0.0;
  for (var d = 0u; d < params.dim; d++) { sum += dO[base + d] * oIn[base + d]; }
  delta[me.head * params.seq + me.row] = sum;
}

// With P_ij = exp(scale·q_i·k_j − lse_i), Z the dropout factors (1 without dropout), P̃ = P∘Z:
//   dV_j = Σ_i P̃_ij dO_i,  dS_ij = P_ij (Z_ij dO_i·v_j − delta_i),  dK_j = scale · Σ_i dS_ij q_i.
@compute @workgroup_size(WG)
fn backwardKeys(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  var kRow: array<f32, MAX_HEAD_DIM>;
  var vRow: array<f32, MAX_HEAD_DIM>;
  var dkAcc: array<f32, MAX_HEAD_DIM>;
  var dvAcc: array<f32, MAX_HEAD_DIM>;
  let base = rowBase(me.head, me.row);
  for (var d = 0u; d < params.dim; d++) {
    kRow[d] = k[base + d];
    vRow[d] = v[base + d];
    dkAcc[d] = 0.0;
    dvAcc[d] = 0.0;
  }
  let j = me.row;
  for (var i = select(0u, j, CAUSAL); i < params.seq; i++) {
    let iBase = rowBase(me.head, i);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < params.dim; d++) {
      s += q[iBase + d] * kRow[d];
      dp += dO[iBase + d] * vRow[d];
    }
    let row = me.head * params.seq + i;
    let p = exp(s * params.scale - lseIn[row]);
    var z = 1.0;
    if (DROPOUT) { z = keepFactor(dropoutRowSeed(me.head, i), j); }
    let ds = p * (z * dp - deltaIn[row]);
    let pv = p * z;
    for (var d = 0u; d < params.dim; d++) {
      dvAcc[d] += pv * dO[iBase + d];
      dkAcc[d] += ds * q[iBase + d];
    }
  }
  for (var d = 0u; d < params.dim; d++) {
    dk[base + d] = dkAcc[d] * params.scale;
    dv[base + d] = dvAcc[d];
  }
}

// dQ_i = scale · Σ_j dS_ij k_j, with dS as in backwardKeys.
@compute @workgroup_size(WG)
fn backwardQueries(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  var qRow: array<f32, MAX_HEAD_DIM>;
  var dORow: array<f32, MAX_HEAD_DIM>;
  var dqAcc: array<f32, MAX_HEAD_DIM>;
  let base = rowBase(me.head, me.row);
  for (var d = 0u; d < params.dim; d++) {
    qRow[d] = q[base + d];
    dORow[d] = dO[base + d];
    dqAcc[d] = 0.0;
  }
  let row = me.head * params.seq + me.row;
  let rowLse = lseIn[row];
  let rowDelta = deltaIn[row];
  var rowSeed = 0u;
  if (DROPOUT) { rowSeed = dropoutRowSeed(me.head, me.row); }
  for (var j = 0u; j < keyEnd(me.row); j++) {
    let jBase = rowBase(me.head, j);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < params.dim; d++) {
      s += qRow[d] * k[jBase + d];
      dp += dORow[d] * v[jBase + d];
    }
    let p = exp(s * params.scale - rowLse);
    var z = 1.0;
    if (DROPOUT) { z = keepFactor(rowSeed, j); }
    let ds = p * (z * dp - rowDelta);
    for (var d = 0u; d < params.dim; d++) { dqAcc[d] += ds * k[jBase + d]; }
  }
  for (var d = 0u; d < params.dim; d++) { dq[base + d] = dqAcc[d] * params.scale; }
}
