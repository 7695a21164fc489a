// A grid of misclassified images with their true and predicted classes, as an SVG that embeds
// one PNG of all tiles (each upscaled by an integer factor, nearest neighbour) and draws the
// labels as SVG text. Text in SVG needs no font of our own, stays readable at any zoom, and
// carries class names such as "T-shirt/top" that a built-in digit bitmap font could not.
//
//   misclassifiedGridSvg(examples, { rows, cols, classNames, columns?, scale? }) → Promise<string>
//   findMisclassified(labels, predictions, limit)                                → sample indices
import { encodePng, pngDataUri } from './png.ts';
import { escapeXml } from './svg.ts';

export interface Misclassified {
  /** rows×cols u8 pixels. */
  image: Uint8Array;
  label: number;
  predicted: number;
}

export interface GridOptions {
  rows: number;
  cols: number;
  classNames: string[];
  /** Tiles per grid row; default 8. */
  columns?: number;
  /** Pixel upscaling of each tile; default 2. */
  scale?: number;
}

const LABEL_HEIGHT = 28;
const MIN_CELL_WIDTH = 96;

/** Indices of the first `limit` samples whose prediction differs from the label. */
export function findMisclassified(labels: ArrayLike<number>, predictions: ArrayLike<number>, limit: number): number[] {
  const found: number[] = [];
  for (let i = 0; i < labels.length && found.length < limit; i++) if (labels[i] !== predictions[i]) found.push(i);
  return found;
}

export async function misclassifiedGridSvg(examples: Misclassified[], options: GridOptions): Promise<string> {
  const { rows, cols, classNames } = options;
  const scale = options.scale ?? 2;
  const columns = Math.max(1, Math.min(options.columns ?? 8, examples.length));
  const gridRows = Math.max(1, Math.ceil(examples.length / columns));
  const tileW = cols * scale;
  const tileH = rows * scale;
  const cellW = Math.max(MIN_CELL_WIDTH, tileW + 8);
  const cellH = tileH + LABEL_HEIGHT + 8;
  const width = columns * cellW;
  const height = gridRows * cellH + 24;
  const name = (c: number) => escapeXml(classNames[c] ?? String(c));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-weight="bold" font-size="12">${examples.length ? `Misclassified (${examples.length})` : 'No misclassified images'}</text>`,
  ];
  if (examples.length) {
    // The sheet places tile i at the same spot, relative to the grid, as the SVG's cell i.
    const sheetW = columns * cellW;
    const sheetH = gridRows * cellH;
    const sheet = new Uint8Array(sheetW * sheetH).fill(255);
    examples.forEach((example, i) => {
      if (example.image.length !== rows * cols) throw new Error(`misclassifiedGridSvg: example ${i} has ${example.image.length} pixels, not ${rows}×${cols}`);
      const left = (i % columns) * cellW + Math.floor((cellW - tileW) / 2);
      const top = Math.floor(i / columns) * cellH + 4;
      for (let y = 0; y < tileH; y++) {
        for (let x = 0; x < tileW; x++) sheet[(top + y) * sheetW + left + x] = example.image[Math.floor(y / scale) * cols + Math.floor(x / scale)]!;
      }
      const centre = (i % columns) * cellW + cellW / 2;
      const textTop = 24 + top + tileH;
      parts.push(`<text class="label" x="${centre}" y="${textTop + 11}" text-anchor="middle">true: ${name(example.label)}</text>`);
      parts.push(`<text class="label" x="${centre}" y="${textTop + 23}" text-anchor="middle" fill="#c62828">pred: ${name(example.predicted)}</text>`);
    });
    const png = await encodePng(sheet, sheetW, sheetH);
    parts.splice(3, 0, `<image x="0" y="24" width="${sheetW}" height="${sheetH}" style="image-rendering:pixelated" xlink:href="${pngDataUri(png)}"/>`);
  }
  parts.push('</svg>', '');
  return parts.join('\n');
}
