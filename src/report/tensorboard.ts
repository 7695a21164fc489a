// TensorBoard event records, encoded by hand (no protobuf library).
//
//   fileVersionRecord(wallTime)                     → the first record of every events file
//   scalarsRecord(step, scalars, wallTime)          → one Event with summary values (tag, simple_value)
//   tfRecord(data) / maskedCrc32c(bytes)            → the TFRecord framing around each Event
//
// TFRecord: u64 LE length, u32 LE masked CRC-32C of those 8 bytes, the data, u32 LE masked
// CRC-32C of the data. The mask ((crc >>> 15 | crc << 17) + 0xa282ead8) keeps CRCs of data that
// itself holds CRCs from being degenerate.
// Event (tensorflow/core/util/event.proto): wall_time = 1 (double), step = 2 (int64),
// file_version = 3 (string), summary = 5 (Summary). Summary: repeated value = 1 (Value).
// Value: tag = 1 (string), simple_value = 2 (float).
import { crc32c } from './crc.ts';

export interface Scalar {
  tag: string;
  value: number;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Appends protobuf fields to a growing byte list. */
class ProtoWriter {
  private readonly bytes: number[] = [];

  private varint(value: number): void {
    // Arithmetic instead of bit operations: steps may pass 2^31.
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new Error(`protobuf varint: ${value} is not a non-negative safe integer`);
    while (value >= 0x80) {
      this.bytes.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    this.bytes.push(value);
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  uint64(field: number, value: number): this {
    this.key(field, VARINT);
    this.varint(value);
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, FIXED64);
    const raw = new Uint8Array(8);
    new DataView(raw.buffer).setFloat64(0, value, true);
    this.bytes.push(...raw);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, FIXED32);
    const raw = new Uint8Array(4);
    new DataView(raw.buffer).setFloat32(0, value, true);
    this.bytes.push(...raw);
    return this;
  }

  bytesField(field: number, value: Uint8Array): this {
    this.key(field, LENGTH_DELIMITED);
    this.varint(value.length);
    this.bytes.push(...value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

export function fileVersionRecord(wallTime: number): Uint8Array {
  return tfRecord(new ProtoWriter().double(1, wallTime).string(3, 'brain.Event:2').finish());
}

export function scalarsRecord(step: number, scalars: Scalar[], wallTime: number): Uint8Array {
  const summary = new ProtoWriter();
  for (const { tag, value } of scalars) summary.bytesField(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  return tfRecord(new ProtoWriter().double(1, wallTime).uint64(2, step).bytesField(5, summary.finish()).finish());
}
