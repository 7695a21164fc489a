import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { findMisclassified, misclassifiedGridSvg } from '../../src/report/misclassified-grid.ts';
import { parseXmlElements } from '../helpers/xml.ts';

function embeddedPng(svg: string): PNG {
  const image = parseXmlElements(svg).find((e) => e.name === 'image')!;
  const uri = image.attributes['xlink:href']!;
  expect(uri.startsWith('data:image/png;base64,')).toBe(true);
  return PNG.sync.read(Buffer.from(uri.slice('data:image/png;base64,'.length), 'base64'));
}

describe('findMisclassified', () => {
  it('lists the first mistakes up to the limit', () => {
    expect(findMisclassified([1, 2, 3, 4, 5], [1, 0, 3, 0, 0], 2)).toEqual([1, 3]);
    expect(findMisclassified([1, 2], [1, 2], 5)).toEqual([]);
  });
});

describe('misclassifiedGridSvg', () => {
  it('embeds the tiles upscaled 2× with true and predicted labels', async () => {
    // Three 3×2 tiles whose pixel (r, c) is 10·tile + 3·r + c, so every position is identifiable.
    const examples = [0, 1, 2].map((t) => ({ image: Uint8Array.from({ length: 6 }, (_, i) => 10 * t + i), label: t, predicted: (t + 1) % 3 }));
    const svg = await misclassifiedGridSvg(examples, { rows: 2, cols: 3, classNames: ['zero', 'one', 'T-shirt/top'], columns: 2 });
    const labels = parseXmlElements(svg).filter((e) => e.attributes.class === 'label').map((e) => e.text);
    expect(labels).toEqual(['true: zero', 'pred: one', 'true: one', 'pred: T-shirt/top', 'true: T-shirt/top', 'pred: zero']);
    const png = embeddedPng(svg);
    // Cells are 96 px wide (text room) and 4 + 28 (labels) + 8 = 40 px tall; a 6×4 tile sits centred
    // at x = 45, 4 px below the cell's top.
    expect(png.width).toBe(2 * 96);
    const gray = (x: number, y: number) => png.data[4 * (y * png.width + x)]!;
    for (const [t, cellX, cellY] of [[0, 0, 0], [1, 96, 0], [2, 0, 40]] as const) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 6; x++) expect(gray(cellX + 45 + x, cellY + 4 + y)).toBe(10 * t + 3 * Math.floor(y / 2) + Math.floor(x / 2));
      }
    }
    expect(gray(0, 0)).toBe(255); // background
  });

  it('says so when there is nothing to show', async () => {
    const svg = await misclassifiedGridSvg([], { rows: 28, cols: 28, classNames: [] });
    expect(parseXmlElements(svg).some((e) => e.text === 'No misclassified images')).toBe(true);
    await expect(misclassifiedGridSvg([{ image: new Uint8Array(3), label: 0, predicted: 1 }], { rows: 2, cols: 2, classNames: [] })).rejects.toThrow(
      'misclassifiedGridSvg: example 0 has 3 pixels, not 2×2',
    );
  });
});
