// Losses fused with their gradients, and the per-epoch metric totals. One invocation per row for
// the losses: a row is a handful of classes, and a single pass per row keeps logits in cache.
struct Params {
  rows: u32,
  cols: u32,             // classes for cross-entropy, values per row for MSE
  labelSmoothing: f32,   // cross-entropy only: targets become (1 − ε)·target + ε/classes
  countCorrect: u32,     // accumulateMetrics only: 1 when rowCorrect holds real values
  delta: f32,            // huberLoss only: where the loss turns from quadratic to linear
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> targets: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowCorrect: array<f32>;
@group(0) @binding(7) var<storage, read> predictions: array<f32>;
@group(0) @binding(8) var<storage, read_write> dpredictions: array<f32>;
@group(0) @binding(9) var<storage, read> rowLossIn: array<f32>;
@group(0) @binding(10) var<storage, read> rowCorrectIn: array<f32>;
@group(0) @binding(11) var<storage, read_write> totals: array<f32>;
@group(0) @binding(12) var<storage, read_write> rowMetrics: array<f32>;
@group(0) @binding(13) var<storage, read> lossElements: array<f32>;
@group(0) @binding(14) var<storage, read> rowMetricsIn: array<f32>;

const ROWS_PER_GROUP = 64u;

fn rowIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * ROWS_PER_GROUP;
}

// #import cross_entropy

fn logitStats(base: u32) -> RowStats {
  var largest = logits[base];
  var best = 0u;
  for (var c = 1u; c < params.cols; c++) {
    let v = logits[base + c];
    if (v > largest) { largest = v; best = c; }
  }
  var total = 0.0;
  for (var c = 0u; c < params.cols; c++) { total += exp(logits[base + c] - largest); }
  return RowStats(largest, best, log(total));
}

@compute @workgroup_size(ROWS_PER_GROUP)
fn softmaxCrossEntropyLabels(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let stats = logitStats(base);
  let label = labels[row];
  var loss = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    loss += classTerm(base, c, stats, smoothed(select(0.0, 1.0, c == label)));
  }
  rowLoss[row] = labelRowLoss(loss, label);
  rowCorrect[row] = select(0.0, 1.0, stats.best == label);
}

@compute @workgroup_size(ROWS_PER_GROUP)
fn softmaxCrossEntropyTargets(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let stats = logitStats(base);
  var loss = 0.0;
  var targetBest = 0u;
  var targetLargest = targets[base];
  for (var c = 0u; c < params.cols; c++) {
    let given = targets[base + c];
    if (given > targetLargest) { targetLargest = given; targetBest = c; }
    loss += classTerm(base, c, stats, smoothed(given));
  }
  rowLoss[row] = loss;
  rowCorrect[row] = select(0.0, 1.0, stats.best == targetBest);
}

// PyTorch MSELoss('mean') over all rows·cols elements; rowLoss[r] = Σ_c (p − t)² / cols.
@compute @workgroup_size(ROWS_PER_GROUP)
fn mseLoss(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let gradScale = 2.0 / (f32(params.rows) * f32(params.cols));
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let diff = predictions[base + c] - targets[base + c];
    dpredictions[base + c] = gradScale * diff;
    sum += diff * diff;
  }
  rowLoss[row] = sum / f32(params.cols);
}

// The elementwise losses below follow PyTorch's reduction='mean' over all rows·cols elements:
// each writes dpredictions = ∂(mean loss)/∂p and rowLoss[r] = the row's mean, so that
// Σ_r rowLoss / rows is the loss.
fn elementGradScale() -> f32 {
  return 1.0 / (f32(params.rows) * f32(params.cols));
}

// PyTorch L1Loss: |p − t|; its gradient takes sign(0) = 0, as torch.sign does.
@compute @workgroup_size(ROWS_PER_GROUP)
fn l1Loss(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let scale = elementGradScale();
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let diff = predictions[base + c] - targets[base + c];
    dpredictions[base + c] = scale * sign(diff);
    sum += abs(diff);
  }
  rowLoss[row] = sum / f32(params.cols);
}

// PyTorch HuberLoss(delta): ½d² where |d| ≤ delta, else delta·(|d| − ½delta); the gradient is d
// clamped to ±delta.
@compute @workgroup_size(ROWS_PER_GROUP)
fn huberLoss(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let scale = elementGradScale();
  let delta = params.delta;
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let diff = predictions[base + c] - targets[base + c];
    let size = abs(diff);
    dpredictions[base + c] = scale * clamp(diff, -delta, delta);
    sum += select(delta * (size - 0.5 * delta), 0.5 * diff * diff, size <= delta);
  }
  rowLoss[row] = sum / f32(params.cols);
}

// PyTorch BCEWithLogitsLoss: max(x, 0) − x·t + log(1 + e^−|x|), which never overflows; the gradient
// is σ(x) − t. A label counts as right when (x > 0) agrees with (t > ½): rowMetrics[r, c] holds it
// per label and rowCorrect[r] its mean over the row's labels.
@compute @workgroup_size(ROWS_PER_GROUP)
fn binaryCrossEntropyWithLogits(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let scale = elementGradScale();
  var sum = 0.0;
  var right = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let x = predictions[base + c];
    let t = targets[base + c];
    let e = exp(-abs(x));
    let sigmoid = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
    dpredictions[base + c] = scale * (sigmoid - t);
    sum += max(x, 0.0) - x * t + log(1.0 + e);
    let agrees = select(0.0, 1.0, (x > 0.0) == (t > 0.5));
    rowMetrics[base + c] = agrees;
    right += agrees;
  }
  rowLoss[row] = sum / f32(params.cols);
  rowCorrect[row] = right / f32(params.cols);
}

// Regression metrics per row: rowMetrics[r] = (mean (p − t)², mean |p − t|) over the row.
@compute @workgroup_size(ROWS_PER_GROUP)
fn regressionMetrics(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var squared = 0.0;
  var absolute = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let diff = predictions[base + c] - targets[base + c];
    squared += diff * diff;
    absolute += abs(diff);
  }
  rowMetrics[2u * row] = squared / f32(params.cols);
  rowMetrics[2u * row + 1u] = absolute / f32(params.cols);
}

// rowLoss[r] = the mean of a row of per-element losses (a loss the user drew as tensor ops).
@compute @workgroup_size(ROWS_PER_GROUP)
fn rowMean(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = rowIndex(gid, groups);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) { sum += lossElements[base + c]; }
  rowLoss[row] = sum / f32(params.cols);
}

const METRIC_LANES = 64u;
var<workgroup> metricPartial: array<vec3f, METRIC_LANES>;

// Tested on the bits: compilers may assume floats are finite and fold `v != v` away.
fn isNonFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// One workgroup: strided register sums, then a fixed tree, then totals += (Σ loss, Σ correct, rows,
// non-finite count). A fixed order and no float atomics make the totals identical on every run.
@compute @workgroup_size(METRIC_LANES)
fn accumulateMetrics(@builtin(local_invocation_index) lane: u32) {
  var sums = vec3f(0.0);
  for (var r = lane; r < params.rows; r += METRIC_LANES) {
    let loss = rowLossIn[r];
    let correct = select(0.0, rowCorrectIn[r], params.countCorrect != 0u);
    sums += vec3f(loss, correct, select(0.0, 1.0, isNonFinite(loss)));
  }
  metricPartial[lane] = sums;
  for (var width = METRIC_LANES / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { metricPartial[lane] += metricPartial[lane + width]; }
  }
  if (lane == 0u) {
    let total = metricPartial[0];
    totals[0] += total.x;
    totals[1] += total.y;
    totals[2] += f32(params.rows);
    totals[3] += total.z;
  }
}

var<workgroup> columnPartial: array<f32, METRIC_LANES>;

// One workgroup per column m of rowMetricsIn [rows, cols]: totals[4 + m] += Σ_r rowMetricsIn[r, m],
// in the same fixed order as accumulateMetrics, so these totals are deterministic too.
@compute @workgroup_size(METRIC_LANES)
fn accumulateColumns(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3u) {
  let column = group.x;
  var sum = 0.0;
  for (var r = lane; r < params.rows; r += METRIC_LANES) { sum += rowMetricsIn[r * params.cols + column]; }
  columnPartial[lane] = sum;
  for (var width = METRIC_LANES / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (lane < width) { columnPartial[lane] += columnPartial[lane + width]; }
  }
  if (lane == 0u) { totals[4u + column] += columnPartial[0]; }
}
