import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { crc32, crc32c } from '../../src/report/crc.ts';
import { encodePng, pngDataUri } from '../../src/report/png.ts';
import { rng } from '../helpers/random.ts';

const ascii = (text: string) => new TextEncoder().encode(text);

describe('CRCs', () => {
  it('match the standard check values', () => {
    // The "check" value of each CRC catalogue entry is its CRC of the ASCII digits 1-9.
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32(new Uint8Array())).toBe(0);
    // RFC 3720 (iSCSI) B.4: 32 bytes of zeros.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});

describe('encodePng', () => {
  it('decodes with pngjs to the same pixels, gray and RGB, odd sizes', async () => {
    for (const [width, height] of [[1, 1], [3, 17], [28, 28], [129, 2]] as const) {
      for (const channels of [1, 3] as const) {
        const next = rng(width * 1000 + height * 10 + channels);
        const pixels = Uint8Array.from({ length: width * height * channels }, () => Math.floor(next() * 256));
        const decoded = PNG.sync.read(Buffer.from(await encodePng(pixels, width, height, channels)));
        expect([decoded.width, decoded.height]).toEqual([width, height]);
        for (let i = 0; i < width * height; i++) {
          const expected = channels === 1 ? [pixels[i], pixels[i], pixels[i]] : [pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]];
          expect([decoded.data[4 * i], decoded.data[4 * i + 1], decoded.data[4 * i + 2], decoded.data[4 * i + 3]]).toEqual([...expected, 255]);
        }
      }
    }
  });

  it('writes the signature and the IHDR fields', async () => {
    const png = await encodePng(new Uint8Array(6 * 2 * 3), 6, 2, 3);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(new TextDecoder().decode(png.subarray(12, 16))).toBe('IHDR');
    expect(Array.from(png.subarray(16, 29))).toEqual([0, 0, 0, 6, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
    expect(new TextDecoder().decode(png.subarray(png.length - 8, png.length - 4))).toBe('IEND');
  });

  it('rejects a pixel count that does not match', async () => {
    await expect(encodePng(new Uint8Array(5), 2, 2)).rejects.toThrow('encodePng: 5 bytes is not 2×2×1');
  });

  it('makes a base64 data URI', () => {
    expect(pngDataUri(Uint8Array.from([0x89, 0x50, 0x4e]))).toBe('data:image/png;base64,iVBO');
  });
});
