// What the softmax cross-entropy kernels (loss.wgsl, and loss_subgroup.wgsl's workgroup per row)
// share once a row's statistics are known. The including shader declares params (rows, cols,
// labelSmoothing), logits and dlogits.

// The row's largest logit (first one on ties) and log Σ exp(logit − largest), so that
// log softmax = logit − largest − logSumExp never overflows, even for logits of ±1000.
struct RowStats { largest: f32, best: u32, logSumExp: f32 }

// Writes dlogits = (softmax − target)/rows for one class and returns its loss term −target·log p.
fn classTerm(base: u32, c: u32, stats: RowStats, goal: f32) -> f32 {
  let logP = logits[base + c] - stats.largest - stats.logSumExp;
  dlogits[base + c] = (exp(logP) - goal) / f32(params.rows);
  return -goal * logP;
}

fn smoothed(goal: f32) -> f32 {
  return (1.0 - params.labelSmoothing) * goal + params.labelSmoothing / f32(params.cols);
}

// A label outside the classes is a data bug: its row loss is made non-finite, which the metrics
// count. All exponent bits set with the (non-zero) label as payload is a NaN, or ±Inf at worst;
// WGSL rejects a NaN constant, so it is built from the runtime label.
fn labelRowLoss(loss: f32, label: u32) -> f32 {
  return select(bitcast<f32>(0x7f800000u | label), loss, label < params.cols);
}
