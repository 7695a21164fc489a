// Float64 CPU reference for decoding attention against a key/value cache: the cache writes, then
// each query row's softmax over keys 0..position of its head, written out directly.
import { decodeCacheStride, type DecodeShape } from '../../src/kernels/attention_decode.ts';

/** k and v of each row copied into [heads, context, stride] caches at the row's position (past the cache: skipped). */
export function appendKeyValueRef(s: DecodeShape, positions: ArrayLike<number>, qkv: ArrayLike<number>, kCache: Float64Array, vCache: Float64Array): void {
  const width = s.heads * s.headDim, stride = decodeCacheStride(s.headDim);
  for (let row = 0; row < s.rows; row++) {
    const position = positions[row]!;
    if (position >= s.context) continue;
    for (let h = 0; h < s.heads; h++) {
      for (let d = 0; d < s.headDim; d++) {
        const slot = (h * s.context + position) * stride + d;
        kCache[slot] = qkv[row * 3 * width + width + h * s.headDim + d]!;
        vCache[slot] = qkv[row * 3 * width + 2 * width + h * s.headDim + d]!;
      }
    }
  }
}

/** out [rows, heads·headDim]: per row and head, softmax(q·k_j/√headDim) over j ≤ position, times v_j. */
export function attentionDecodeRef(s: DecodeShape, positions: ArrayLike<number>, qkv: ArrayLike<number>, kCache: ArrayLike<number>, vCache: ArrayLike<number>): Float64Array {
  const width = s.heads * s.headDim, stride = decodeCacheStride(s.headDim);
  const scale = 1 / Math.sqrt(s.headDim);
  const out = new Float64Array(s.rows * width);
  for (let row = 0; row < s.rows; row++) {
    const keys = Math.min(positions[row]! + 1, s.context);
    for (let h = 0; h < s.heads; h++) {
      const scores = new Float64Array(keys);
      for (let j = 0; j < keys; j++) {
        let dot = 0;
        for (let d = 0; d < s.headDim; d++) dot += qkv[row * 3 * width + h * s.headDim + d]! * kCache[(h * s.context + j) * stride + d]!;
        scores[j] = dot * scale;
      }
      const largest = Math.max(...scores);
      const weights = scores.map((score) => Math.exp(score - largest));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let d = 0; d < s.headDim; d++) {
        let value = 0;
        for (let j = 0; j < keys; j++) value += weights[j]! * vCache[(h * s.context + j) * stride + d]!;
        out[row * width + h * s.headDim + d] = value / total;
      }
    }
  }
  return out;
}
