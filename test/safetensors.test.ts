import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/io/safetensors.ts';
import { randomArray } from './helpers/random.ts';

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ['fc1.weight', { dtype: 'F32', shape: [3, 17], data: randomArray(51, 1) }],
    ['conv1.weight', { dtype: 'F32', shape: [2, 1, 3, 3], data: randomArray(18, 2) }],
    ['bn1.num_batches_tracked', { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) }],
    ['counts', { dtype: 'U8', shape: [5], data: Uint8Array.of(1, 2, 3, 4, 255) }],
    ['doubles', { dtype: 'F64', shape: [1, 2], data: Float64Array.of(Math.PI, -1e300) }],
    ['empty', { dtype: 'I32', shape: [0, 4], data: new Int32Array(0) }],
  ]);
}

/** Bytes of a file with a hand-written header, to build malformed files the encoder refuses to. */
function rawFile(header: string, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

function headerOf(bytes: Uint8Array): { length: number; json: Record<string, { data_offsets: [number, number] }> } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) };
}

describe('safetensors', () => {
  it('round-trips every supported dtype, shapes and metadata exactly', () => {
    const tensors = sample();
    const bytes = encodeSafetensors(tensors, { epoch: '3', note: 'héllo' });
    const decoded = decodeSafetensors(bytes, 'round-trip');
    expect(decoded.metadata).toEqual({ epoch: '3', note: 'héllo' });
    expect([...decoded.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const back = decoded.tensors.get(name)!;
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expect(back.data.constructor).toBe(t.data.constructor);
      expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it('lays out the header as the reference implementation does: 8-byte aligned data, sorted names, contiguous offsets', () => {
    const tensors = sample();
    const bytes = encodeSafetensors(tensors, { a: 'b' });
    const { length, json } = headerOf(bytes);
    expect(length % 8).toBe(0);
    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    expect(names).toEqual([...tensors.keys()].sort());
    let offset = 0;
    for (const name of names) {
      expect(json[name]!.data_offsets[0]).toBe(offset);
      offset = json[name]!.data_offsets[1];
      expect(offset - json[name]!.data_offsets[0]).toBe(tensors.get(name)!.data.byteLength);
    }
    expect(bytes.length).toBe(8 + length + offset);
  });

  it('reads a tensor from a subarray view of a larger buffer without its neighbours', () => {
    const backing = randomArray(40, 3);
    const bytes = encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [2, 5], data: backing.subarray(10, 20) }]]));
    expect(Array.from(decodeSafetensors(bytes).tensors.get('w')!.data as Float32Array)).toEqual(Array.from(backing.subarray(10, 20)));
  });

  it('decodes from a Node Buffer sharing a pool with other data, at an unaligned offset', () => {
    const bytes = encodeSafetensors(sample());
    const pooled = Buffer.concat([Buffer.from([9, 9, 9]), bytes]).subarray(3);
    const back = decodeSafetensors(pooled).tensors.get('fc1.weight')!;
    expect(back.data.length).toBe(51);
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(sample().get('fc1.weight')!.data as Float32Array));
  });

  it('refuses to encode data that does not match its dtype or shape', () => {
    expect(() => encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [3], data: new Float64Array(3) }]]))).toThrow(/w: dtype F32 needs a Float32Array/);
    expect(() => encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]]))).toThrow(/w: shape \[2, 2\] holds 4 values, data has 3/);
  });

  it('keeps prototype-named keys as plain keys', () => {
    const decoded = decodeSafetensors(rawFile('{"__metadata__": {"__proto__": "x", "constructor": "y"}, "__proto__": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', 1));
    expect(Object.getPrototypeOf(decoded.metadata)).toBe(Object.prototype);
    expect(Object.entries(decoded.metadata)).toEqual([['__proto__', 'x'], ['constructor', 'y']]);
    expect([...decoded.tensors.keys()]).toEqual(['__proto__']);
  });

  const faults: [string, () => Uint8Array, RegExp][] = [
    ['too short', () => new Uint8Array(5), /model\.st: 5 bytes is too short/],
    ['header length beyond the file', () => { const b = encodeSafetensors(sample()); new DataView(b.buffer).setBigUint64(0, 1n << 20n, true); return b; }, /model\.st: header length 1048576 runs beyond the file/],
    ['truncated data', () => encodeSafetensors(sample()).subarray(0, -3), /model\.st: tensor fc1\.weight: data_offsets \[\d+, \d+\] are outside the \d+-byte data section/],
    ['bad JSON', () => rawFile('{"w": {', 0), /model\.st: header is not valid JSON/],
    ['JSON that is not an object', () => rawFile('[1, 2]', 0), /model\.st: header is not a JSON object/],
    ['no dtype', () => rawFile('{"w": {"shape": [1], "data_offsets": [0, 4]}}', 4), /model\.st: tensor w: no dtype/],
    ['no shape', () => rawFile('{"w": {"dtype": "F32", "data_offsets": [0, 4]}}', 4), /model\.st: tensor w: no shape/],
    ['no data_offsets', () => rawFile('{"w": {"dtype": "F32", "shape": [1]}}', 4), /model\.st: tensor w: no data_offsets/],
    ['BF16', () => rawFile('{"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}', 4), /model\.st: tensor w: dtype BF16 is not supported yet/],
    ['an unknown dtype', () => rawFile('{"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 4]}}', 4), /tensor w: dtype Q4 is not a safetensors dtype/],
    ['offsets not matching shape × dtype', () => rawFile('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}', 8), /tensor w: data_offsets \[0, 4\] span 4 bytes, but F32 \[2\] needs 8/],
    ['reversed offsets', () => rawFile('{"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}}', 8), /tensor w: data_offsets \[4, 0\] are outside/],
    ['overlapping tensors', () => rawFile('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}', 12), /tensor b: data_offsets \[4, 12\] overlap tensor a \[0, 8\]/],
    ['metadata that is not strings', () => rawFile('{"__metadata__": {"epoch": 3}}', 0), /__metadata__\.epoch is not a string/],
    ['a tensor name given twice', () => rawFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8),
      /^model\.st: tensor name "w" appears twice in the header \(JSON readers would silently keep only the last\)$/],
    ['a tensor name given twice under another spelling', () => rawFile('{"w": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, "\\u0077": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}', 0),
      /tensor name "w" appears twice in the header/],
    ['a metadata key given twice', () => rawFile('{"__metadata__": {"epoch": "1", "epoch": "2"}}', 0), /^model\.st: __metadata__ key "epoch" appears twice/],
    ['a field given twice inside a tensor entry', () => rawFile('{"w": {"dtype": "F32", "dtype": "U8", "shape": [1], "data_offsets": [0, 4]}}', 4), /^model\.st: key "dtype" appears twice in w/],
    ['negative data_offsets', () => rawFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}', 4), /^model\.st: tensor w: data_offsets \[-4,0\]: -4 is not a whole number ≥ 0$/],
    ['fractional data_offsets', () => rawFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 3.5]}}', 4), /^model\.st: tensor w: data_offsets \[0,3\.5\]: 3\.5 is not a whole number ≥ 0$/],
    ['data_offsets that are not a pair', () => rawFile('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}', 4), /^model\.st: tensor w: data_offsets must be \[begin, end\], got \[0,4,8\]$/],
    ['a negative size in the shape', () => rawFile('{"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 4]}}', 4), /^model\.st: tensor w: shape \[2,-1\]: -1 is not a whole number ≥ 0$/],
  ];
  for (const [what, make, message] of faults) {
    it(`names the file and the tensor for ${what}`, () => {
      expect(() => decodeSafetensors(make(), 'model.st')).toThrow(message);
    });
  }
});
