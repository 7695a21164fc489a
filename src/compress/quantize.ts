// Post-training int8 quantization of weights: symmetric, one scale per output channel (a Dense row
// [out, in] or a Conv2D filter OIHW), scale = max|w| / 127, codes packed 4 per u32 (byte i of word j
// = code 4j + i, rows zero-padded to whole words). Biases and every other tensor stay f32.
import { runsInInt8 } from '../compiler/int8.ts';
import { elementCount } from '../graph/graph.ts';
import type { Model } from '../model/model.ts';
import { int8Words } from '../kernels/int8.ts';

export interface QuantizedTensor {
  /** Output channels. */
  rows: number;
  /** Values per output channel (in, or C·KH·KW). */
  depth: number;
  /** rows × int8Words(depth). */
  packed: Uint32Array;
  /** Per output channel; code · scale ≈ weight. */
  scales: Float32Array;
}

/** Codes in [-127, 127], row-major, packed into rows of whole u32 words. */
export function packInt8(codes: ArrayLike<number>, rows: number, depth: number): Uint32Array {
  const words = int8Words(depth);
  const packed = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < depth; k++) packed[r * words + (k >> 2)]! |= (codes[r * depth + k]! & 0xff) << (8 * (k & 3));
  }
  return packed;
}

export function unpackInt8(packed: Uint32Array, rows: number, depth: number): Int8Array {
  const words = int8Words(depth);
  const codes = new Int8Array(rows * depth);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < depth; k++) codes[r * depth + k] = (packed[r * words + (k >> 2)]! << (24 - 8 * (k & 3))) >> 24;
  }
  return codes;
}

export function quantizePerChannel(values: ArrayLike<number>, rows: number, depth: number): QuantizedTensor {
  if (values.length !== rows * depth) throw new Error(`quantizePerChannel: ${values.length} values are not ${rows}×${depth}`);
  const scales = new Float32Array(rows);
  const codes = new Int8Array(rows * depth);
  for (let r = 0; r < rows; r++) {
    let largest = 0;
    for (let k = 0; k < depth; k++) largest = Math.max(largest, Math.abs(values[r * depth + k]!));
    scales[r] = largest / 127;
    // The f32 scale is what inference multiplies by, so codes are chosen against it, not the exact one.
    const scale = scales[r]!;
    if (scale === 0) continue;
    for (let k = 0; k < depth; k++) {
      const v = values[r * depth + k]! / scale;
      codes[r * depth + k] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
    }
  }
  return { rows, depth, packed: packInt8(codes, rows, depth), scales };
}

export function dequantize(q: QuantizedTensor): Float32Array {
  const codes = unpackInt8(q.packed, q.rows, q.depth);
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i]! * q.scales[Math.floor(i / q.depth)]!;
  return out;
}

export interface QuantizedModel {
  /** Dense and Conv2D weights by parameter name (fc1.weight, conv2.weight, …). */
  int8: Map<string, QuantizedTensor>;
  /** Everything else (biases, batch-norm parameters and statistics), unchanged. */
  f32: Map<string, Float32Array>;
}

/** The parameter names quantization (and pruning) applies to: weights of Dense and Conv2D layers. */
export function linearWeightNames(model: Model): string[] {
  return model.plan.filter((p) => runsInInt8(p.layer)).map((p) => `${p.layer.name}.weight`);
}

export function quantizeModel(model: Model, weights: ReadonlyMap<string, Float32Array>): QuantizedModel {
  const quantizable = new Set(linearWeightNames(model));
  const int8 = new Map<string, QuantizedTensor>();
  const f32 = new Map<string, Float32Array>();
  for (const spec of [...model.parameterSpecs(), ...model.stateSpecs()]) {
    const value = weights.get(spec.name);
    if (!value) throw new Error(`quantizeModel: no value for ${spec.name}`);
    if (quantizable.has(spec.name)) {
      const rows = spec.shape[0]!;
      int8.set(spec.name, quantizePerChannel(value, rows, elementCount(spec.shape) / rows));
    } else {
      f32.set(spec.name, value);
    }
  }
  return { int8, f32 };
}

export interface ModelBytes {
  /** Every parameter and state tensor as f32. */
  f32: number;
  /** Packed int8 weights + their f32 scales + the tensors left in f32. */
  int8: number;
  /** The quantized weights alone: f32 bytes before, packed codes + scales after. */
  weightsF32: number;
  weightsInt8: number;
}

export function modelBytes(q: QuantizedModel): ModelBytes {
  let weightsF32 = 0, weightsInt8 = 0, other = 0;
  for (const t of q.int8.values()) {
    weightsF32 += t.rows * t.depth * 4;
    weightsInt8 += t.packed.byteLength + t.scales.byteLength;
  }
  for (const v of q.f32.values()) other += v.byteLength;
  return { f32: weightsF32 + other, int8: weightsInt8 + other, weightsF32, weightsInt8 };
}
