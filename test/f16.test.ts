import { describe, expect, it } from 'vitest';
import { f16Bits, f16BitsOfF32Bits, f16Value, f32BitsOfF16, packF16, roundToF16, unpackF16 } from '../src/data/f16.ts';
import { f16Bytes, packToF16, unpackFromF16 } from '../src/kernels/f16.ts';
import { readUint32, runDispatches, storageBuffer, uploadBuffer } from '../src/gpu/buffers.ts';
import { f16PatternValue, nearestF16Bits } from './reference/f16.ts';
import { testGpu } from './helpers/gpu.ts';
import { rng } from './helpers/random.ts';

const f32Of = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

/** [input, expected f16 bits, why]: each one a place where a rounding helper goes wrong. */
const EDGES: [number, number, string][] = [
  [0, 0x0000, 'zero'],
  [-0, 0x8000, 'negative zero keeps its sign'],
  [1, 0x3c00, 'one'],
  [-2.5, 0xc100, 'exact negative'],
  [65504, 0x7bff, 'largest finite'],
  [f32Of(0x477fefff), 0x7bff, 'just under 65520 rounds down to 65504'],
  [65520, 0x7c00, 'halfway to 2^16 ties to the even side, Inf'],
  [1e10, 0x7c00, 'overflow to Inf'],
  [-1e10, 0xfc00, 'overflow to -Inf'],
  [Infinity, 0x7c00, 'Inf'],
  [-Infinity, 0xfc00, '-Inf'],
  [NaN, 0x7e00, 'NaN'],
  [2 ** -14, 0x0400, 'smallest normal'],
  [2 ** -14 - 2 ** -25, 0x0400, 'halfway between the largest subnormal (odd) and the smallest normal'],
  [2 ** -24, 0x0001, 'smallest subnormal'],
  [2 ** -25, 0x0000, 'half the smallest subnormal ties to even zero'],
  [-(2 ** -25), 0x8000, 'and to negative zero'],
  [1.5 * 2 ** -25, 0x0001, 'over half the smallest subnormal'],
  [3 * 2 ** -25, 0x0002, '1.5 subnormal units tie to 2'],
  [5 * 2 ** -25, 0x0002, '2.5 subnormal units tie to 2'],
  [2 ** -26, 0x0000, 'far under the smallest subnormal'],
  [f32Of(1), 0x0000, 'an f32 subnormal'],
  [1 + 2 ** -11, 0x3c00, 'a tie above 1 goes down to the even 1'],
  [1 + 3 * 2 ** -11, 0x3c02, 'a tie goes up to the even neighbour'],
  [1 + 2 ** -11 + 2 ** -20, 0x3c01, 'just past a tie rounds up'],
  [2047.9, 0x6800, 'a carry out of the mantissa bumps the exponent'],
  [0.1, 0x2e66, '0.1'],
  [-65519, 0xfbff, 'under the overflow boundary, negative'],
];

describe('f16 rounding on the CPU', () => {
  it.each(EDGES)('%s → %s (%s)', (x, bits) => {
    expect(f16Bits(x)).toBe(bits);
  });

  it('keeps the sign of a negative NaN read as bits', () => {
    expect(f16BitsOfF32Bits(0xffc00001)).toBe(0xfe00);
    expect(f16BitsOfF32Bits(0x7f800001)).toBe(0x7e00);
  });

  it('agrees with the bisection oracle at every f16 value, every midpoint and their f32 neighbours', () => {
    const mismatches: string[] = [];
    const check = (x: number) => {
      // The oracle sees a number, which has no NaN sign; the sign is checked on its own above.
      const got = Number.isNaN(x) ? f16Bits(x) & 0x7fff : f16Bits(x), want = nearestF16Bits(Math.fround(x));
      if (got !== want && mismatches.length < 10) mismatches.push(`${x}: ${got.toString(16)} vs ${want.toString(16)}`);
    };
    const view = new Float32Array(1), bits = new Uint32Array(view.buffer);
    for (let pattern = 0; pattern < 0x7c00; pattern++) {
      for (const sign of [1, -1]) {
        const value = sign * f16PatternValue(pattern);
        const next = sign * (pattern === 0x7bff ? 65536 : f16PatternValue(pattern + 1));
        for (const x of [value, (value + next) / 2]) {
          view[0] = x;
          const at = bits[0]!;
          for (const neighbour of [at - 1, at, at + 1]) { bits[0] = neighbour; check(view[0]!); }
        }
      }
    }
    const next = rng(7);
    for (let i = 0; i < 200_000; i++) { bits[0] = Math.floor(next() * 2 ** 32); check(view[0]!); }
    expect(mismatches).toEqual([]);
  });

  it('decodes every f16 pattern exactly, as a number and as f32 bits', () => {
    const wrong: number[] = [];
    for (let pattern = 0; pattern < 0x10000; pattern++) {
      const want = f16PatternValue(pattern);
      const value = f16Value(pattern);
      const fromBits = f32Of(f32BitsOfF16(pattern));
      const same = Number.isNaN(want) ? Number.isNaN(value) && Number.isNaN(fromBits) : Object.is(value, want) && Object.is(fromBits, want);
      if (!same) wrong.push(pattern);
      // Every finite or infinite half round-trips through its f32 bits.
      if (!Number.isNaN(want) && f16BitsOfF32Bits(f32BitsOfF16(pattern)) !== pattern) wrong.push(pattern);
    }
    expect(wrong).toEqual([]);
    expect(f32BitsOfF16(0x7e01)).toBe(0x7fc02000); // NaN payload carried into f32
    expect(roundToF16(0.1)).toBe(f16PatternValue(0x2e66));
  });

  it('packs two halves per word, the first low, and unpacks an odd count', () => {
    const packed = packF16([1, -2, 65504]);
    expect([...packed]).toEqual([(0xc000 << 16 | 0x3c00) >>> 0, 0x7bff]);
    expect([...unpackF16(packed, 3)]).toEqual([1, -2, 65504]);
    expect(() => unpackF16(packed, 5)).toThrow(/count 5 is not a number of halves in 2 words/);
  });
});

/** Every edge case, random f32 bit patterns (NaNs with payloads and signs included), odd in count. */
function conversionInputs(): Float32Array {
  const next = rng(11);
  const bits = new Uint32Array(EDGES.length + 4097);
  const view = new Float32Array(bits.buffer);
  EDGES.forEach(([x], i) => { view[i] = x; });
  for (let i = EDGES.length; i < bits.length; i++) bits[i] = Math.floor(next() * 2 ** 32);
  bits[EDGES.length] = 0xffc00001; // a negative NaN with a payload
  return view;
}

describe('f32 ↔ packed f16 kernels', () => {
  it('pack rounds bit for bit as packF16 and writes nothing past its words', async () => {
    const gpu = await testGpu();
    const input = conversionInputs();
    const words = f16Bytes(input.length) / 4;
    const inBuffer = uploadBuffer(gpu, input, 'f32');
    const out = uploadBuffer(gpu, new Uint32Array(words + 3).fill(0xdeadbeef), 'packed');
    await runDispatches(gpu, packToF16(gpu, { input: inBuffer, output: out, count: input.length }));
    const got = await readUint32(gpu, out);
    expect([...got.subarray(0, words)]).toEqual([...packF16(input)]);
    expect([...got.subarray(words)]).toEqual([0xdeadbeef, 0xdeadbeef, 0xdeadbeef]);
    gpu.destroyBuffer(inBuffer); gpu.destroyBuffer(out);
  });

  it('unpack gives every f16 pattern bit for bit as unpackF16, an odd count included', async () => {
    const gpu = await testGpu();
    const count = 0x10000 - 1; // every pattern but the last, so the final word is half used
    const packed = new Uint32Array(0x8000);
    for (let i = 0; i < 0x8000; i++) packed[i] = ((2 * i + 1) << 16 | 2 * i) >>> 0;
    const inBuffer = uploadBuffer(gpu, packed, 'packed');
    const out = uploadBuffer(gpu, new Uint32Array(count + 1).fill(0xdeadbeef), 'f32');
    await runDispatches(gpu, unpackFromF16(gpu, { input: inBuffer, output: out, count }));
    const got = await readUint32(gpu, out);
    expect([...got.subarray(0, count)]).toEqual([...new Uint32Array(unpackF16(packed, count).buffer)]);
    expect(got[count]).toBe(0xdeadbeef);
    gpu.destroyBuffer(inBuffer); gpu.destroyBuffer(out);
  });

  it('refuses buffers too small for the count, naming the field', async () => {
    const gpu = await testGpu();
    const small = storageBuffer(gpu, 8, 'small'), big = storageBuffer(gpu, 64, 'big');
    expect(() => packToF16(gpu, { input: small, output: big, count: 3 })).toThrow(/packToF16: input binds 8 bytes; 12 are needed/);
    expect(() => unpackFromF16(gpu, { input: small, output: big, count: 5 })).toThrow(/unpackFromF16: input binds 8 bytes; 12 are needed/);
    expect(() => packToF16(gpu, { input: big, output: small, count: 6 })).toThrow(/output binds 8 bytes; 12/);
    expect(() => packToF16(gpu, { input: big, output: big, count: 0 })).toThrow(/count must be a positive integer/);
    gpu.destroyBuffer(small); gpu.destroyBuffer(big);
  });
});
