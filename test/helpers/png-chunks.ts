// Hand-built PNGs for decoder tests: any IHDR, any image data, including what encoders never write.
import { crc32 } from '../../src/report/crc.ts';

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One chunk: length, type, data, CRC over type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + data.length);
  body.set(new TextEncoder().encode(type));
  body.set(data, 4);
  const out = new Uint8Array(8 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(body, 4);
  view.setUint32(4 + body.length, crc32(body));
  return out;
}

export function ihdr(width: number, height: number, options: { bitDepth?: number; colourType?: number; interlaced?: boolean } = {}): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data.set([options.bitDepth ?? 8, options.colourType ?? 0, 0, 0, options.interlaced ? 1 : 0], 8);
  return pngChunk('IHDR', data);
}

/** Signature, the given chunks in order, IEND. */
export function pngFile(...chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat([SIGNATURE, ...chunks, pngChunk('IEND', new Uint8Array())]);
}
