// IDX files (the MNIST container format): magic 0x0000_08_NN (unsigned bytes, NN dimensions),
// NN big-endian u32 sizes, then the bytes. Files may be gzipped (detected by the 1f 8b magic).
//
//   decodeIdx(name, bytes)                       → { dims, data }, any IDX u8 file
//   decodeIdxSplit(images, labels, numClasses)   → ImageSet, an images+labels pair checked against each other
//
// Every fault throws an Error that starts with the file name and says what is wrong; nothing
// half-validated is returned.
import { gunzip } from '#platform';

/**
 * One split of an image-classification dataset: `count` images of channels×rows×cols u8 pixels
 * (channels first, each plane row-major) and a class label per image.
 */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array | Uint32Array;
  count: number;
  rows: number;
  cols: number;
  /** Planes per image; 1 (gray) when absent. */
  channels?: number;
}

/** A file's name (used in error messages) and its bytes, gzipped or raw. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const IDX_UNSIGNED_BYTE = 0x08;
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function looksLikeIdx(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === IDX_UNSIGNED_BYTE;
}

function hexMagic(bytes: Uint8Array): string {
  return '0x' + Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function inflateIfGzipped(name: string, bytes: Uint8Array): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzip(bytes);
  } catch (error) {
    throw new Error(`${name}: gzip data is corrupt (${(error as Error).message})`);
  }
}

/** Parses one u8 IDX file; the byte count must be exactly what the header announces. */
export async function decodeIdx(name: string, raw: Uint8Array): Promise<IdxArray> {
  if (raw.length === 0) throw new Error(`${name}: file is empty`);
  if (!isGzip(raw) && !looksLikeIdx(raw)) throw new Error(`${name}: not a gzip or IDX file (magic ${hexMagic(raw)})`);
  const bytes = await inflateIfGzipped(name, raw);
  if (!looksLikeIdx(bytes)) throw new Error(`${name}: gzip content is not an IDX u8 file (magic ${hexMagic(bytes)})`);
  const rank = bytes[3]!;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new Error(`${name}: truncated: header of ${rank} dimensions needs ${headerBytes} bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    const what = actual < expected ? 'truncated' : 'trailing bytes';
    throw new Error(`${name}: ${what}: header says ${dims.join('×')} = ${expected} bytes of data, file has ${actual}`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

async function decodeWithMagic(file: NamedBytes, magic: number, what: string): Promise<IdxArray> {
  const idx = await decodeIdx(file.name, file.bytes);
  const found = (IDX_UNSIGNED_BYTE << 8) | idx.dims.length;
  if (found !== magic) {
    throw new Error(`${file.name}: expected IDX magic ${magic} (${what}), found ${found} (${idx.dims.length} dimensions)`);
  }
  return idx;
}

/** Decodes an images file (magic 2051) and its labels file (magic 2049) into one checked ImageSet. */
export async function decodeIdxSplit(images: NamedBytes, labels: NamedBytes, numClasses: number): Promise<ImageSet> {
  const [pixels, classes] = await Promise.all([
    decodeWithMagic(images, IDX_IMAGES_MAGIC, 'images, 3 dimensions'),
    decodeWithMagic(labels, IDX_LABELS_MAGIC, 'labels, 1 dimension'),
  ]);
  const [count, rows, cols] = pixels.dims as [number, number, number];
  const labelCount = classes.dims[0]!;
  if (labelCount !== count) {
    throw new Error(`${labels.name}: has ${labelCount} labels but ${images.name} has ${count} images`);
  }
  const bad = classes.data.findIndex((label) => label >= numClasses);
  if (bad >= 0) {
    throw new Error(`${labels.name}: label ${classes.data[bad]} at index ${bad} is outside 0..${numClasses - 1}`);
  }
  return { images: pixels.data, labels: classes.data, count, rows, cols };
}
