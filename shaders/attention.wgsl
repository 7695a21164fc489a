// Fused scaled-dot-product attention, O = softmax(Q·Kᵀ·scale + mask)·V per (batch, head), with
// q, k, v, o row-major [batch·heads, T, D], or token-major: q, k and v the three thirds of each row
// of one [batch, T, 3·heads·D] tensor (a fused qkv projection's output, read where it lies) and o
// [batch, T, heads·D], so a transformer needs no split and no permutes around attention. Row
// starts come from rowStart() with each tensor's row stride and offset. Flash-attention style: the T×T scores are never
// written; the forward streams over keys with an online softmax and saves each query row's
// logsumexp, from which the backward recomputes the probabilities (FlashAttention-2's backward).
// Every sum has one owner and a fixed order (a key pass for dk and dv, a query pass for dq), so
// there are no float atomics and results repeat bit for bit.
//
// One invocation per pair of query rows (forward), query row (dq) or key row (dk, dv), its rows
// held as vec4 chunks in private arrays; the lanes of a workgroup are consecutive rows of one head,
// so at each step of the stream they all read the same key (or query) row. No workgroup memory and
// no barriers: on llvmpipe, register blocking beats workgroup tiling, and a barrier costs more than
// the loads it would share. For heads up to UNROLLED_CHUNKS chunks the chunk count is a pipeline
// constant, so the loops over it unroll and the private arrays stay in registers (with a runtime
// bound llvmpipe keeps them in memory, several times slower); wider heads use the runtime count,
// because unrolling them made pipeline builds take minutes.
// #import rng

struct Params {
  heads: u32,        // batch · heads
  seq: u32,          // T
  dim: u32,          // D, 1 … 4·MAX_CHUNKS
  chunks: u32,       // ⌈D/4⌉, read when CHUNKS = 0
  scale: f32,        // 1/√D
  rate: f32,         // dropout rate on the attention weights (DROPOUT only)
  keepScale: f32,    // 1/(1 − rate)
  stream: u32,       // distinct per attention layer, so layers draw independent masks
  headsPerItem: u32, // heads of one batch item in the token-major layout; 1 in the [batch·heads, T, D] one
  inStride: u32,     // words from one row of q, k, v (and dq, dk, dv) to the next
  outStride: u32,    // the same for o, dO and oIn
  qOffset: u32,      // where a row's q, k and v start within it
  kOffset: u32,
  vOffset: u32,
}

override CHUNKS: u32 = 0u;         // ⌈D/4⌉ when it is at most UNROLLED_CHUNKS, else 0 (use params.chunks)
override ALIGNED: bool = false;    // D % 4 = 0: rows are whole vec4s, read and written through the vec4 views
override CAUSAL: bool = false;     // query i sees keys j ≤ i only
override DROPOUT: bool = false;
// The token-major layout: dq, dk and dv are thirds of one tensor, bound once (as dk) because
// writable bindings of one buffer may not alias; the key pass writes dv through it too.
override TOKEN_MAJOR: bool = false;

const MAX_CHUNKS = 32u;            // D ≤ 128
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
// The same tensors seen four floats at a time, used when ALIGNED.
@group(0) @binding(15) var<storage, read> q4: array<vec4f>;
@group(0) @binding(16) var<storage, read> k4: array<vec4f>;
@group(0) @binding(17) var<storage, read> v4: array<vec4f>;
@group(0) @binding(18) var<storage, read> dO4: array<vec4f>;
@group(0) @binding(19) var<storage, read> oIn4: array<vec4f>;

// Chunks per row: a constant where CHUNKS is set, so loops over it unroll.
fn chunkCount() -> u32 {
  return select(params.chunks, CHUNKS, CHUNKS > 0u);
}

// The (head, row) an invocation owns; row ≥ T for the ragged last workgroup.
struct Owner { head: u32, row: u32 }

fn ownerOf(gid: vec3u) -> Owner {
  return Owner(gid.y, gid.x);
}

// Where row 0 of `head` (an index into batch·heads) starts, rows being `stride` words apart.
fn headStart(head: u32, stride: u32) -> u32 {
  let item = head / params.headsPerItem;
  return item * params.seq * stride + (head - item * params.headsPerItem) * params.dim;
}

// Row `row` of `head` in q, k, v, dq, dk, dv (before each one's offset) and in o, dO, oIn.
fn inRowStart(head: u32, row: u32) -> u32 { return headStart(head, params.inStride) + row * params.inStride; }
fn outRowStart(head: u32, row: u32) -> u32 { return headStart(head, params.outStride) + row * params.outStride; }

// Which of chunk c's four elements lie inside the row; the ones past D read as 0 (select, not a
// product, so whatever a read past the row returns cannot turn into NaN).
fn inRow(c: u32) -> vec4<bool> {
  return vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u) < vec4u(params.dim);
}

// Chunk c of the row starting at `base`, one function per tensor (WGSL cannot pass a storage array).
fn qChunk(row: u32, c: u32) -> vec4f {
  let base = row + params.qOffset;
  if (ALIGNED) { return q4[base / 4u + c]; }
  let i = base + 4u * c;
  return select(vec4f(0.0), vec4f(q[i], q[i + 1u], q[i + 2u], q[i + 3u]), inRow(c));
}

fn kChunk(row: u32, c: u32) -> vec4f {
  let base = row + params.kOffset;
  if (ALIGNED) { return k4[base / 4u + c]; }
  let i = base + 4u * c;
  return select(vec4f(0.0), vec4f(k[i], k[i + 1u], k[i + 2u], k[i + 3u]), inRow(c));
}

fn vChunk(row: u32, c: u32) -> vec4f {
  let base = row + params.vOffset;
  if (ALIGNED) { return v4[base / 4u + c]; }
  let i = base + 4u * c;
  return select(vec4f(0.0), vec4f(v[i], v[i + 1u], v[i + 2u], v[i + 3u]), inRow(c));
}

fn dOChunk(base: u32, c: u32) -> vec4f {
  if (ALIGNED) { return dO4[base / 4u + c]; }
  let i = base + 4u * c;
  return select(vec4f(0.0), vec4f(dO[i], dO[i + 1u], dO[i + 2u], dO[i + 3u]), inRow(c));
}

fn oInChunk(base: u32, c: u32) -> vec4f {
  if (ALIGNED) { return oIn4[base / 4u + c]; }
  let i = base + 4u * c;
  return select(vec4f(0.0), vec4f(oIn[i], oIn[i + 1u], oIn[i + 2u], oIn[i + 3u]), inRow(c));
}

// The elements of chunk c that lie inside the row, as (first index, count) for the stores.
fn storeCount(c: u32) -> u32 {
  return min(4u, params.dim - 4u * c);
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

// The running state of one query row's online softmax.
struct Softmax { largest: f32, sum: f32 }

// Folds one more score into a row's running maximum and sum; returns the factor that rescales the
// row's output accumulated so far, and (in .y) the new weight before dropout.
fn foldScore(state: ptr<function, Softmax>, score: f32) -> vec2f {
  let newMax = max((*state).largest, score);
  let correction = exp((*state).largest - newMax);
  let p = exp(score - newMax);
  (*state).sum = (*state).sum * correction + p;
  (*state).largest = newMax;
  return vec2f(correction, p);
}

// Online softmax, one key at a time: the running maximum, the running sum and the output rescaled
// whenever the maximum grows. Each invocation owns two consecutive query rows, so every key and
// value chunk it loads serves both (register blocking: the loads, not the arithmetic, bound this
// loop on llvmpipe). For an odd T the last invocation's second row repeats its first and is not stored.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u) {
  let head = gid.y;
  let row0 = 2u * gid.x;
  if (row0 >= params.seq) { return; }
  let hasRow1 = row0 + 1u < params.seq;
  let row1 = select(row0, row0 + 1u, hasRow1);
  var q0: array<vec4f, MAX_CHUNKS>;
  var q1: array<vec4f, MAX_CHUNKS>;
  var acc0: array<vec4f, MAX_CHUNKS>;
  var acc1: array<vec4f, MAX_CHUNKS>;
  let base0 = inRowStart(head, row0);
  let base1 = inRowStart(head, row1);
  for (var c = 0u; c < chunkCount(); c++) {
    q0[c] = qChunk(base0, c) * params.scale;
    q1[c] = qChunk(base1, c) * params.scale;
    acc0[c] = vec4f(0.0);
    acc1[c] = vec4f(0.0);
  }
  // A finite floor rather than −∞, so the first rescale is exp(floor − max) = 0, never NaN.
  var state0 = Softmax(-3.0e38, 0.0);
  var state1 = Softmax(-3.0e38, 0.0);
  var seed0 = 0u;
  var seed1 = 0u;
  if (DROPOUT) {
    seed0 = dropoutRowSeed(head, row0);
    seed1 = dropoutRowSeed(head, row1);
  }
  // Under the causal mask row 1 sees one key more than row 0 (the row0 + 1 key, row 1's own).
  let end0 = keyEnd(row0);
  let keys = headStart(head, params.inStride);
  for (var j = 0u; j < keyEnd(row1); j++) {
    let kvBase = keys + j * params.inStride;
    var score0 = 0.0;
    var score1 = 0.0;
    for (var c = 0u; c < chunkCount(); c++) {
      let key = kChunk(kvBase, c);
      score0 += dot(q0[c], key);
      score1 += dot(q1[c], key);
    }
    var fold0 = vec2f(1.0, 0.0);
    if (j < end0) { fold0 = foldScore(&state0, score0); }
    var fold1 = foldScore(&state1, score1);
    if (DROPOUT) {
      fold0.y *= keepFactor(seed0, j);
      fold1.y *= keepFactor(seed1, j);
    }
    for (var c = 0u; c < chunkCount(); c++) {
      let value = vChunk(kvBase, c);
      acc0[c] = acc0[c] * fold0.x + fold0.y * value;
      acc1[c] = acc1[c] * fold1.x + fold1.y * value;
    }
  }
  let inverse0 = 1.0 / state0.sum;
  let inverse1 = 1.0 / state1.sum;
  let out0 = outRowStart(head, row0);
  let out1 = outRowStart(head, row1);
  for (var c = 0u; c < chunkCount(); c++) {
    let value0 = acc0[c] * inverse0;
    let value1 = acc1[c] * inverse1;
    for (var e = 0u; e < storeCount(c); e++) {
      o[out0 + 4u * c + e] = value0[e];
      if (hasRow1) { o[out1 + 4u * c + e] = value1[e]; }
    }
  }
  lse[head * params.seq + row0] = state0.largest + log(state0.sum);
  if (hasRow1) { lse[head * params.seq + row1] = state1.largest + log(state1.sum); }
}

// delta_i = Σ_d dO[i, d]·O[i, d] = Σ_j P̃_ij·dP̃_ij, the row term of the softmax backward.
@compute @workgroup_size(WG)
fn backwardDelta(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  let base = outRowStart(me.head, me.row);
  var sum = 0.0;
  for (var c = 0u; c < chunkCount(); c++) { sum += dot(dOChunk(base, c), oInChunk(base, c)); }
  delta[me.head * params.seq + me.row] = sum;
}

// With P_ij = exp(scale·q_i·k_j − lse_i), Z the dropout factors (1 without dropout), P̃ = P∘Z:
//   dV_j = Σ_i P̃_ij dO_i,  dS_ij = P_ij (Z_ij dO_i·v_j − delta_i),  dK_j = scale · Σ_i dS_ij q_i.
// One key row per invocation, not two as in the forward: with the six to eight private row arrays
// two rows need here, llvmpipe left some invocations' outputs unwritten for T past 64.
@compute @workgroup_size(WG)
fn backwardKeys(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  var kRow: array<vec4f, MAX_CHUNKS>;
  var vRow: array<vec4f, MAX_CHUNKS>;
  var dkAcc: array<vec4f, MAX_CHUNKS>;
  var dvAcc: array<vec4f, MAX_CHUNKS>;
  let base = inRowStart(me.head, me.row);
  for (var c = 0u; c < chunkCount(); c++) {
    kRow[c] = kChunk(base, c);
    vRow[c] = vChunk(base, c);
    dkAcc[c] = vec4f(0.0);
    dvAcc[c] = vec4f(0.0);
  }
  let j = me.row;
  let queries = headStart(me.head, params.inStride);
  let grads = headStart(me.head, params.outStride);
  for (var i = select(0u, j, CAUSAL); i < params.seq; i++) {
    let iBase = queries + i * params.inStride;
    let iOut = grads + i * params.outStride;
    var s = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < chunkCount(); c++) {
      s += dot(qChunk(iBase, c), kRow[c]);
      dp += dot(dOChunk(iOut, c), vRow[c]);
    }
    let row = me.head * params.seq + i;
    let p = exp(s * params.scale - lseIn[row]);
    var z = 1.0;
    if (DROPOUT) { z = keepFactor(dropoutRowSeed(me.head, i), j); }
    let ds = p * (z * dp - deltaIn[row]);
    let pv = p * z;
    for (var c = 0u; c < chunkCount(); c++) {
      dvAcc[c] += pv * dOChunk(iOut, c);
      dkAcc[c] += ds * qChunk(iBase, c);
    }
  }
  for (var c = 0u; c < chunkCount(); c++) {
    let dkValue = dkAcc[c] * params.scale;
    for (var e = 0u; e < storeCount(c); e++) {
      dk[base + params.kOffset + 4u * c + e] = dkValue[e];
      if (TOKEN_MAJOR) { dk[base + params.vOffset + 4u * c + e] = dvAcc[c][e]; } else { dv[base + params.vOffset + 4u * c + e] = dvAcc[c][e]; }
    }
  }
}

// dQ_i = scale · Σ_j dS_ij k_j, with dS as in backwardKeys.
@compute @workgroup_size(WG)
fn backwardQueries(@builtin(global_invocation_id) gid: vec3u) {
  let me = ownerOf(gid);
  if (me.row >= params.seq) { return; }
  var qRow: array<vec4f, MAX_CHUNKS>;
  var dORow: array<vec4f, MAX_CHUNKS>;
  var dqAcc: array<vec4f, MAX_CHUNKS>;
  let base = inRowStart(me.head, me.row);
  for (var c = 0u; c < chunkCount(); c++) {
    qRow[c] = qChunk(base, c);
    dORow[c] = dOChunk(outRowStart(me.head, me.row), c);
    dqAcc[c] = vec4f(0.0);
  }
  let row = me.head * params.seq + me.row;
  let rowLse = lseIn[row];
  let rowDelta = deltaIn[row];
  var rowSeed = 0u;
  if (DROPOUT) { rowSeed = dropoutRowSeed(me.head, me.row); }
  let keys = headStart(me.head, params.inStride);
  for (var j = 0u; j < keyEnd(me.row); j++) {
    let jBase = keys + j * params.inStride;
    var s = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < chunkCount(); c++) {
      s += dot(qRow[c], kChunk(jBase, c));
      dp += dot(dORow[c], vChunk(jBase, c));
    }
    let p = exp(s * params.scale - rowLse);
    var z = 1.0;
    if (DROPOUT) { z = keepFactor(rowSeed, j); }
    let ds = p * (z * dp - rowDelta);
    for (var c = 0u; c < chunkCount(); c++) { dqAcc[c] += ds * kChunk(jBase, c); }
  }
  for (var c = 0u; c < chunkCount(); c++) {
    let value = dqAcc[c] * params.scale;
    for (var e = 0u; e < storeCount(c); e++) { dq[base + params.qOffset + 4u * c + e] = value[e]; }
  }
}
