// A minimal PNG encoder: 8-bit grayscale or RGB, every scanline with filter 0 (none), one IDAT
// chunk compressed by the platform's zlib deflate. Enough for pictures of 28×28 digits; no
// palettes, alpha or adaptive filters.
//
//   encodePng(pixels, width, height, channels = 1) → Promise<Uint8Array> (a complete .png file)
//   pngDataUri(png)                                 → "data:image/png;base64,…" for embedding in SVG
import { deflate } from '#platform';
import { crc32 } from './crc.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOR_TYPE = { 1: 0, 3: 2 } as const; // grayscale, truecolour

/** length (4 bytes BE), type, data, CRC-32 of type+data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length, false);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)), false);
  return out;
}

export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 = 1): Promise<Uint8Array> {
  if (!(width >= 1 && height >= 1)) throw new Error(`encodePng: size ${width}×${height} is empty`);
  const rowBytes = width * channels;
  if (pixels.length !== rowBytes * height) throw new Error(`encodePng: ${pixels.length} bytes is not ${width}×${height}×${channels}`);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width, false);
  view.setUint32(4, height, false);
  header.set([8, COLOR_TYPE[channels], 0, 0, 0], 8); // bit depth, colour type, deflate, filter method 0, no interlace
  const scanlines = new Uint8Array((rowBytes + 1) * height); // each row: filter byte 0, then the row
  for (let y = 0; y < height; y++) scanlines.set(pixels.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', header), chunk('IDAT', await deflate(scanlines)), chunk('IEND', new Uint8Array())];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function pngDataUri(png: Uint8Array): string {
  let binary = '';
  for (const byte of png) binary += String.fromCharCode(byte);
  return `data:image/png;base64,${btoa(binary)}`;
}
