// Softmax cross-entropy (loss.wgsl's softmaxCrossEntropyLabels and …Targets, same results up to
// summation order) with a workgroup per row: invocation i takes classes i, i + WG, …, and the row's
// argmax, exp-sum and loss are joined with subgroup operations (lib/subgroup_rows.wgsl). For rows
// of many classes (a language model's vocabulary), where one invocation per row walks the row
// three times alone. The module compiles only where the device has `subgroups`;
// src/kernels/loss.ts builds it nowhere else.
enable subgroups;

struct Params {
  rows: u32,
  cols: u32,
  labelSmoothing: f32,
  countCorrect: u32,
  delta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> targets: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowCorrect: array<f32>;

const WG = 128u;

// #import subgroup_rows
// #import cross_entropy

fn logitStats(base: u32, lane: Lane) -> RowStats {
  var best = Best(logits[base], 0u);
  for (var c = lane.local; c < params.cols; c += WG) {
    let v = logits[base + c];
    if (v > best.value) { best = Best(v, c); }
  }
  best = rowArgmax(best, lane);
  var total = 0.0;
  for (var c = lane.local; c < params.cols; c += WG) { total += exp(logits[base + c] - best.value); }
  return RowStats(best.value, best.index, log(rowSum(total, lane)));
}

@compute @workgroup_size(WG)
fn softmaxCrossEntropyLabelsSubgroup(group: RowGroup, lane: Lane) {
  let row = workgroupRow(group);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let stats = logitStats(base, lane);
  let label = labels[row];
  var loss = 0.0;
  for (var c = lane.local; c < params.cols; c += WG) {
    loss += classTerm(base, c, stats, smoothed(select(0.0, 1.0, c == label)));
  }
  loss = rowSum(loss, lane);
  if (lane.local == 0u) {
    rowLoss[row] = labelRowLoss(loss, label);
    rowCorrect[row] = select(0.0, 1.0, stats.best == label);
  }
}

@compute @workgroup_size(WG)
fn softmaxCrossEntropyTargetsSubgroup(group: RowGroup, lane: Lane) {
  let row = workgroupRow(group);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let stats = logitStats(base, lane);
  var loss = 0.0;
  var targetBest = Best(targets[base], 0u);
  for (var c = lane.local; c < params.cols; c += WG) {
    let given = targets[base + c];
    if (given > targetBest.value) { targetBest = Best(given, c); }
    loss += classTerm(base, c, stats, smoothed(given));
  }
  loss = rowSum(loss, lane);
  targetBest = rowArgmax(targetBest, lane);
  if (lane.local == 0u) {
    rowLoss[row] = loss;
    rowCorrect[row] = select(0.0, 1.0, stats.best == targetBest.index);
  }
}
