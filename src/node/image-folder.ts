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
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { ImageSet } from '../data/idx.ts';
import { resizeGray } from '../data/resize.ts';

export interface ImageSize {
  height: number;
  width: number;
}

export interface ReadPngOptions extends ImageSize {
  /** Invert images whose mean is above 127 so the digit is light on dark like MNIST. */
  invertLight?: boolean;
}

function decodeGray(path: string): { pixels: Uint8Array; height: number; width: number } {
  let png: PNG;
  try {
    png = PNG.sync.read(readFileSync(path));
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
