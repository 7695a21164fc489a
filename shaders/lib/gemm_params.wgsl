// What every GEMM shader (f32 and f16 storage) shares: the uniform, the transpose constants and
// where op(A)[row][p] and op(B)[p][col] live, in elements from a batch item's base.
struct Params {
  m: u32, n: u32, k: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,
  alpha: f32, beta: f32,
  bias_axis: u32, // 0: no bias, 1: one per column (length n), 2: one per row (length m)
  relu: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

fn a_index(base: u32, row: u32, p: u32) -> u32 {
  if (TRANS_A) { return base + p * params.m + row; }
  return base + row * params.k + p;
}

fn b_index(base: u32, p: u32, col: u32) -> u32 {
  if (TRANS_B) { return base + col * params.k + p; }
  return base + p * params.n + col;
}
