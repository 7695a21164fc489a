// Float64 CPU references for the shared reductions.

export function biasGradientRef(dy: ArrayLike<number>, batch: number, channels: number, spatial: number): Float64Array {
  const dbias = new Float64Array(channels);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      for (let s = 0; s < spatial; s++) dbias[c]! += dy[(n * channels + c) * spatial + s]!;
    }
  }
  return dbias;
}

/** First index of each row's maximum. */
export function argmaxRowsRef(x: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const indices = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c]! > x[r * cols + best]!) best = c;
    indices[r] = best;
  }
  return indices;
}
