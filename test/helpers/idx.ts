// Builds small IDX files in memory for data-loading tests.
import { gzipSync } from 'node:zlib';

/** Raw IDX u8 bytes: magic 0x0000_08_<rank>, big-endian sizes, then `data`. */
export function idxBytes(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((size, i) => view.setUint32(4 + 4 * i, size, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes));
}

/** A consistent images+labels pair: `count` images of rows×cols with labels i % classes. */
export function tinySplit(count: number, rows: number, cols: number, classes: number): { images: Uint8Array; labels: Uint8Array } {
  const pixels = Array.from({ length: count * rows * cols }, (_, i) => (i * 37) % 256);
  const labels = Array.from({ length: count }, (_, i) => i % classes);
  return { images: idxBytes([count, rows, cols], pixels), labels: idxBytes([count], labels) };
}
