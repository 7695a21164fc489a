// Image classification data from a folder of PNGs, and single PNGs for prediction.
//
//   loadImageFolder(root, { height, width }) → ImageSet & { classNames }
//       root/<class>/*.png, one sub-folder per class; sorted folder names are the class names,
//       label i is the i-th name. Images are visited in sorted file-name order.
//   readGrayPng(path, { height, width, invertLight? }) → Uint8Array of height×width
//
// Any PNG pngjs reads (gray, RGB, palette, with or without alpha, 1-16 bits, any size) becomes
// 8-bit gray: transparent pixels are composited over white (paper), colour by BT.601 luma, then
// resized (src/data/resize.ts). MNIST digits are light on dark; `invertLight` flips images whose
// mean is above 127 (a dark digit on light paper, as photographs and drawings usually are).
// Before pngjs decodes anything, IHDR is read and an image over MAX_PNG_PIXELS is refused, so a
// small file claiming huge dimensions costs nothing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { MAX_IDX_BYTES, type ImageSet } from '../data/idx.ts';
import { resizeGray } from '../data/resize.ts';

export interface ImageSize {
  height: number;
  width: number;
}

export interface ReadPngOptions extends ImageSize {
  /** Invert images whose mean is above 127 so the digit is light on dark like MNIST. */
  invertLight?: boolean;
}

/**
 * The most pixels a PNG may have: 4096×4096 (16.8 megapixels). Decoding expands to 4 bytes a
 * pixel, so this keeps one image under 64 MiB of RGBA however small its file is.
 */
export const MAX_PNG_PIXELS = 4096 * 4096;

/** The largest PNG file read: far more than any image within MAX_PNG_PIXELS needs, even stored uncompressed at 16-bit RGBA. */
export const MAX_PNG_FILE_BYTES = 256 * 1024 * 1024;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples per pixel by PNG colour type (gray, RGB, palette index, gray+alpha, RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
// Adam7's seven passes: first column, first row, column step, row step.
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

interface PngHeader {
  width: number;
  height: number;
  bitsPerPixel: number;
  interlaced: boolean;
}

/** IHDR, read and checked before anything is inflated. */
function readPngHeader(path: string, bytes: Uint8Array): PngHeader {
  const invalid = (why: string) => new Error(`${path}: not a valid PNG (${why})`);
  if (bytes.length < 33 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw invalid('no PNG signature and IHDR');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8) !== 13 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') throw invalid('the first chunk is not a 13-byte IHDR');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const channels = CHANNELS[bytes[25]!];
  if (width === 0 || height === 0) throw invalid(`IHDR says ${width}×${height} pixels`);
  if (channels === undefined) throw invalid(`IHDR colour type ${bytes[25]} is not one PNG defines`);
  if (width * height > MAX_PNG_PIXELS) {
    throw new Error(`${path}: ${width}×${height} = ${width * height} pixels is more than the ${MAX_PNG_PIXELS} a PNG may have here (${Math.sqrt(MAX_PNG_PIXELS)}×${Math.sqrt(MAX_PNG_PIXELS)})`);
  }
  return { width, height, bitsPerPixel: channels * bytes[24]!, interlaced: bytes[28] === 1 };
}

/** The filtered scanline bytes the image data inflates to: one filter byte per row of each pass. */
function scanlineBytes({ width, height, bitsPerPixel, interlaced }: PngHeader): number {
  const rowBytes = (columns: number) => 1 + Math.ceil((columns * bitsPerPixel) / 8);
  if (!interlaced) return height * rowBytes(width);
  return ADAM7.reduce((sum, [x0, y0, dx, dy]) => {
    const columns = Math.ceil((width - x0) / dx);
    const rows = Math.ceil((height - y0) / dy);
    return columns > 0 && rows > 0 ? sum + rows * rowBytes(columns) : sum;
  }, 0);
}

/** The IDAT chunks' contents, joined: the one zlib stream of the image. */
function imageData(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'IDAT') parts.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return Buffer.concat(parts);
}

/**
 * pngjs bounds the inflation of non-interlaced images by their size but inflates interlaced ones
 * without a limit, so those are inflated here first under the size their IHDR allows.
 */
function checkInterlacedInflation(path: string, bytes: Uint8Array, header: PngHeader): void {
  if (!header.interlaced) return;
  const allowed = scanlineBytes(header);
  try {
    inflateSync(imageData(bytes), { maxOutputLength: allowed });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${path}: image data inflates past the ${allowed} bytes a ${header.width}×${header.height} interlaced PNG holds`);
    }
    throw new Error(`${path}: not a valid PNG (${(error as Error).message})`);
  }
}

function decodeGray(path: string): { pixels: Uint8Array; height: number; width: number } {
  const size = statSync(path, { throwIfNoEntry: false })?.size;
  if (size === undefined) throw new Error(`${path}: no such file`);
  if (size > MAX_PNG_FILE_BYTES) throw new Error(`${path}: ${size} bytes is more than the ${MAX_PNG_FILE_BYTES} a PNG file may have here`);
  const bytes = readFileSync(path);
  checkInterlacedInflation(path, bytes, readPngHeader(path, bytes));
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (error) {
    throw new Error(`${path}: not a valid PNG (${(error as Error).message})`);
  }
  const { width, height, data } = png;
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const luma = 0.299 * data[4 * i]! + 0.587 * data[4 * i + 1]! + 0.114 * data[4 * i + 2]!;
    const alpha = data[4 * i + 3]! / 255;
    pixels[i] = Math.round(luma * alpha + 255 * (1 - alpha));
  }
  return { pixels, height, width };
}

export function readGrayPng(path: string, options: ReadPngOptions): Uint8Array {
  const image = decodeGray(path);
  const out = resizeGray(image.pixels, image.height, image.width, options.height, options.width);
  if (options.invertLight) {
    const mean = out.reduce((sum, v) => sum + v, 0) / out.length;
    if (mean > 127) for (let i = 0; i < out.length; i++) out[i] = 255 - out[i]!;
  }
  return out;
}

function sortedEntries(dir: string): string[] {
  return readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function loadImageFolder(root: string, size: ImageSize): ImageSet & { classNames: string[] } {
  const stats = statSync(root, { throwIfNoEntry: false });
  if (!stats) throw new Error(`${root}: no such folder`);
  if (!stats.isDirectory()) throw new Error(`${root}: not a folder`);
  const classNames = sortedEntries(root).filter((name) => isDirectory(join(root, name)));
  if (classNames.length === 0) throw new Error(`${root}: no class folders (expected one sub-folder of PNGs per class)`);
  if (classNames.length < 2) throw new Error(`${root}: only one class folder (${classNames[0]}); classification needs at least 2`);
  if (classNames.length > 256) throw new Error(`${root}: ${classNames.length} class folders; labels are bytes, so at most 256`);
  const files = classNames.map((name) => {
    const pngs = sortedEntries(join(root, name)).filter((file) => file.toLowerCase().endsWith('.png'));
    if (pngs.length === 0) throw new Error(`${join(root, name)}: class "${name}" has no .png images`);
    return pngs.map((file) => join(root, name, file));
  });
  const count = files.reduce((sum, list) => sum + list.length, 0);
  const pixels = size.height * size.width;
  // The whole set becomes one array (and one GPU buffer), held to the limit an IDX file has.
  if (count * pixels > MAX_IDX_BYTES) {
    throw new Error(`${root}: ${count} images of ${size.height}×${size.width} make ${count * pixels} bytes, more than the ${MAX_IDX_BYTES} a dataset may hold`);
  }
  const images = new Uint8Array(count * pixels);
  const labels = new Uint8Array(count);
  let next = 0;
  files.forEach((list, label) => {
    for (const path of list) {
      images.set(readGrayPng(path, size), next * pixels);
      labels[next++] = label;
    }
  });
  return { images, labels, count, rows: size.height, cols: size.width, classNames };
}
