// IDX files (the MNIST container format): magic 0x0000_08_NN (unsigned bytes, NN dimensions),
// NN big-endian u32 sizes, then the bytes. Files may be gzipped (detected by the 1f 8b magic).
//
//   decodeIdx(name, bytes, maxBytes?)            → { dims, data }, any IDX u8 file of at most maxBytes of data
//   decodeIdxSplit(images, labels, numClasses)   → ImageSet, an images+labels pair checked against each other
//
// Every fault throws an Error that starts with the file name and says what is wrong; nothing
// half-validated is returned. Memory is bounded by what the header promises (MAX_IDX_BYTES at
// most): gzip is inflated as a stream, header first, and the reading stops at the first byte past
// the promise, however far the archive would have inflated.
import { gunzipChunks } from '#platform';

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

/**
 * The most data bytes one IDX file may promise: 256 MiB, over five times MNIST's training images
 * (47 MB) and within the buffer size GPUs commonly allow. A header promising more is refused
 * before anything past it is inflated.
 */
export const MAX_IDX_BYTES = 256 * 1024 * 1024;

/** The longest IDX header: magic plus 255 sizes. */
export const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function looksLikeIdx(bytes: ArrayLike<number>): boolean {
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === IDX_UNSIGNED_BYTE;
}

function hexMagic(bytes: ArrayLike<number>): string {
  return '0x' + Array.from({ length: Math.min(4, bytes.length) }, (_, i) => bytes[i]!.toString(16).padStart(2, '0')).join('');
}

async function* inflated(name: string, bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  try {
    yield* gunzipChunks(bytes);
  } catch (error) {
    throw new Error(`${name}: gzip data is corrupt (${(error as Error).message})`);
  }
}

/**
 * Reads the header from the first bytes, then copies exactly the data it promises into one array
 * of that size; the first byte beyond it stops the reading (and with it any inflation).
 */
async function readIdx(name: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<IdxArray> {
  const header: number[] = [];
  let headerBytes = 4;
  let dims: number[] = [];
  let data: Uint8Array | undefined;
  let filled = 0;
  for await (const chunk of chunks) {
    let at = 0;
    if (!data) {
      while (at < chunk.length && header.length < headerBytes) {
        header.push(chunk[at++]!);
        if (header.length === 4) {
          if (!looksLikeIdx(header)) throw new Error(`${name}: gzip content is not an IDX u8 file (magic ${hexMagic(header)})`);
          headerBytes = 4 + 4 * header[3]!;
        }
      }
      if (header.length < headerBytes) continue;
      const view = new DataView(Uint8Array.from(header).buffer);
      dims = Array.from({ length: header[3]! }, (_, i) => view.getUint32(4 + 4 * i, false));
      const promised = dims.reduce((a, b) => a * b, 1);
      if (promised > maxBytes) {
        throw new Error(`${name}: header says ${dims.join('×')} = ${promised} bytes of data, more than the ${maxBytes} bytes an IDX file may hold`);
      }
      data = new Uint8Array(promised);
    }
    const take = Math.min(chunk.length - at, data.length - filled);
    data.set(chunk.subarray(at, at + take), filled);
    filled += take;
    if (at + take < chunk.length) {
      const seen = filled + chunk.length - at - take;
      throw new Error(`${name}: trailing bytes: header says ${dims.join('×')} = ${data.length} bytes of data, file has at least ${seen}`);
    }
  }
  if (header.length < 4) throw new Error(`${name}: gzip content is not an IDX u8 file (magic ${hexMagic(header)})`);
  if (!data) throw new Error(`${name}: truncated: header of ${header[3]} dimensions needs ${headerBytes} bytes, file has ${header.length}`);
  if (filled < data.length) throw new Error(`${name}: truncated: header says ${dims.join('×')} = ${data.length} bytes of data, file has ${filled}`);
  return { dims, data };
}

/**
 * Parses one u8 IDX file; the byte count must be exactly what the header announces, and at most
 * `maxBytes`. Gzip is inflated as a stream, so neither a bomb nor a lying header costs more memory
 * than the data the header promises.
 */
export async function decodeIdx(name: string, raw: Uint8Array, maxBytes = MAX_IDX_BYTES): Promise<IdxArray> {
  if (raw.length === 0) throw new Error(`${name}: file is empty`);
  if (isGzip(raw)) return readIdx(name, inflated(name, raw), maxBytes);
  if (!looksLikeIdx(raw)) throw new Error(`${name}: not a gzip or IDX file (magic ${hexMagic(raw)})`);
  return readIdx(name, [raw], maxBytes);
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
