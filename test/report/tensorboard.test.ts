import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEventFile } from '../../src/node/tensorboard-writer.ts';
import { fileVersionRecord, maskedCrc32c, scalarsRecord, tfRecord } from '../../src/report/tensorboard.ts';

type Field = number | bigint | Uint8Array;

/** Protobuf wire format → field number → values, enough for Event / Summary / Value. */
function decodeMessage(bytes: Uint8Array): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    let value: Field;
    switch (key & 7) {
      case 0: value = varint(); break;
      case 1: value = view.getFloat64(at, true); at += 8; break;
      case 5: value = view.getFloat32(at, true); at += 4; break;
      case 2: { const length = Number(varint()); value = bytes.subarray(at, at + length); at += length; break; }
      default: throw new Error(`wire type ${key & 7}`);
    }
    fields.set(key >> 3, [...(fields.get(key >> 3) ?? []), value]);
  }
  return fields;
}

/** Splits TFRecord framing, checking both masked CRCs. */
function decodeRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = Number(view.getBigUint64(at, true));
    expect(view.getUint32(at + 8, true)).toBe(maskedCrc32c(bytes.subarray(at, at + 8)));
    const data = bytes.subarray(at + 12, at + 12 + length);
    expect(view.getUint32(at + 12 + length, true)).toBe(maskedCrc32c(data));
    records.push(data);
    at += 16 + length;
  }
  return records;
}

const text = (field: Field | undefined) => new TextDecoder().decode(field as Uint8Array);

describe('TFRecord framing', () => {
  it('masks CRC-32C as TensorFlow does', () => {
    // CRC-32C of nothing is 0; rotating 0 is 0; the mask constant is what remains.
    expect(maskedCrc32c(new Uint8Array())).toBe(0xa282ead8);
    // CRC-32C("123456789") = 0xE3069283: >>> 15 gives 0x0001C60D, its low 15 bits 0x1283 << 17 give
    // 0x25060000, together 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5 (mod 2^32).
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(0xc78ab0e5);
  });

  it('frames data with length and CRCs', () => {
    const record = tfRecord(Uint8Array.from([7, 8, 9]));
    expect(Array.from(record.subarray(0, 8))).toEqual([3, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(record.subarray(12, 15))).toEqual([7, 8, 9]);
    expect(record.length).toBe(19);
    expect(decodeRecords(record).map((r) => Array.from(r))).toEqual([[7, 8, 9]]);
  });
});

describe('Event encoding', () => {
  it('writes the file_version event byte for byte', () => {
    const [event] = decodeRecords(fileVersionRecord(0));
    // field 1 double (key 0x09) = 0.0, field 3 string (key 0x1a) of 13 bytes.
    expect(Array.from(event!)).toEqual([0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 13, ...new TextEncoder().encode('brain.Event:2')]);
  });

  it('writes a scalar summary byte for byte', () => {
    const [event] = decodeRecords(scalarsRecord(300, [{ tag: 'a', value: 1.5 }], 2));
    expect(Array.from(event!)).toEqual([
      0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, // wall_time 2.0 (0x4000000000000000 little-endian)
      0x10, 0xac, 0x02, // step 300 = 0b10_0101100 → 0xac 0x02
      0x2a, 10, // summary, 10 bytes
      0x0a, 8, // value, 8 bytes
      0x0a, 1, 0x61, // tag "a"
      0x15, 0, 0, 0xc0, 0x3f, // simple_value 1.5f = 0x3fc00000
    ]);
  });

  it('round-trips several values, large steps and unicode tags', () => {
    const [event] = decodeRecords(scalarsRecord(2 ** 40 + 3, [{ tag: 'loss/train', value: 0.25 }, { tag: 'accuracy/val ✓', value: 0.9921875 }], 1.7e9 + 0.5));
    const fields = decodeMessage(event!);
    expect(fields.get(1)).toEqual([1.7e9 + 0.5]);
    expect(fields.get(2)).toEqual([BigInt(2 ** 40 + 3)]);
    const values = decodeMessage(fields.get(5)![0] as Uint8Array).get(1)!.map((v) => decodeMessage(v as Uint8Array));
    expect(values.map((v) => [text(v.get(1)![0]), v.get(2)![0]])).toEqual([['loss/train', 0.25], ['accuracy/val ✓', 0.9921875]]);
  });
});

describe('openEventFile', () => {
  it('writes a file TensorBoard can find and read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webgrad-tb-'));
    try {
      const log = openEventFile(join(dir, 'run'), 1_700_000_000_123);
      log.scalars(1, [{ tag: 'loss', value: 2 }], 1_700_000_001);
      log.scalars(2, [{ tag: 'loss', value: 1 }], 1_700_000_002);
      log.close();
      expect(() => log.scalars(3, [])).toThrow('event file is closed');
      expect(await readdir(join(dir, 'run'))).toEqual([`events.out.tfevents.1700000000.${hostname()}`]);
      const events = decodeRecords(new Uint8Array(await readFile(log.path))).map(decodeMessage);
      expect(text(events[0]!.get(3)![0])).toBe('brain.Event:2');
      expect(events[0]!.get(1)).toEqual([1_700_000_000.123]);
      expect(events.slice(1).map((e) => [e.get(2)![0], e.get(1)![0]])).toEqual([[1n, 1_700_000_001], [2n, 1_700_000_002]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
