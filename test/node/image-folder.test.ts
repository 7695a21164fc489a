import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageFolder, readGrayPng } from '../../src/node/image-folder.ts';
import { encodePng } from '../../src/report/png.ts';
import { ihdr, pngChunk, pngFile } from '../helpers/png-chunks.ts';

let temp: string;
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'webgrad-image-folder-'));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
});

/** RGBA pixels written by pngjs in the given colour type (0 gray, 2 RGB, 4 gray+alpha, 6 RGBA). */
function pngjsFile(width: number, height: number, rgba: number[], colorType: 0 | 2 | 4 | 6): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType });
}

/** An 8-bit palette PNG, built by hand because pngjs cannot write palettes. */
function palettePng(width: number, height: number, palette: Array<[number, number, number]>, indices: number[]): Uint8Array {
  const rows: number[] = [];
  for (let y = 0; y < height; y++) rows.push(0, ...indices.slice(y * width, (y + 1) * width));
  return pngFile(ihdr(width, height, { colourType: 3 }), pngChunk('PLTE', Uint8Array.from(palette.flat())), pngChunk('IDAT', new Uint8Array(deflateSync(Uint8Array.from(rows)))));
}

describe('readGrayPng', () => {
  it('reads every colour type to the same gray', async () => {
    // A 2×2 image: luma 0.299R + 0.587G + 0.114B; the RGBA file's last pixel is half-transparent
    // over white paper, so its gray is between its colour and 255.
    const dir = join(temp, 'types');
    await mkdir(dir, { recursive: true });
    const gray = [0, 100, 200, 255];
    const rgba = gray.flatMap((g) => [g, g, g, 255]);
    await writeFile(join(dir, 'gray.png'), await encodePng(Uint8Array.from(gray), 2, 2));
    await writeFile(join(dir, 'rgb.png'), await encodePng(Uint8Array.from(gray.flatMap((g) => [g, g, g])), 2, 2, 3));
    await writeFile(join(dir, 'gray-alpha.png'), pngjsFile(2, 2, rgba, 4));
    await writeFile(join(dir, 'palette.png'), palettePng(2, 2, gray.map((g) => [g, g, g]), [0, 1, 2, 3]));
    for (const file of ['gray.png', 'rgb.png', 'gray-alpha.png', 'palette.png']) {
      expect(Array.from(readGrayPng(join(dir, file), { height: 2, width: 2 })), file).toEqual(gray);
    }
    await writeFile(join(dir, 'colour.png'), pngjsFile(2, 2, [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 0, 0, 0, 128], 6));
    expect(Array.from(readGrayPng(join(dir, 'colour.png'), { height: 2, width: 2 }))).toEqual([76, 150, 29, Math.round(255 * (1 - 128 / 255))]);
  });

  it('resizes to the target and inverts dark-on-light images on request', async () => {
    const dir = join(temp, 'invert');
    await mkdir(dir, { recursive: true });
    // 56×56 white paper with a black 28×28 square in the top-left corner.
    const pixels = new Uint8Array(56 * 56).fill(255);
    for (let y = 0; y < 28; y++) pixels.fill(0, y * 56, y * 56 + 28);
    await writeFile(join(dir, 'paper.png'), await encodePng(pixels, 56, 56));
    const plain = readGrayPng(join(dir, 'paper.png'), { height: 28, width: 28 });
    expect([plain[0], plain[27 * 28 + 27]]).toEqual([0, 255]);
    const inverted = readGrayPng(join(dir, 'paper.png'), { height: 28, width: 28, invertLight: true });
    expect([inverted[0], inverted[13 * 28 + 13], inverted[14 * 28 + 14]]).toEqual([255, 255, 0]);
    // Mostly dark already: left alone.
    await writeFile(join(dir, 'dark.png'), await encodePng(new Uint8Array(16).fill(10), 4, 4));
    expect(readGrayPng(join(dir, 'dark.png'), { height: 28, width: 28, invertLight: true })[0]).toBe(10);
  });
});

describe('loadImageFolder', () => {
  it('labels images by sorted class folder', async () => {
    const root = join(temp, 'shapes');
    for (const [name, values] of [['b-dark', [10, 20]], ['a-light', [250]], ['c-mid', [128, 129, 130]]] as const) {
      await mkdir(join(root, name), { recursive: true });
      for (const [i, v] of values.entries()) await writeFile(join(root, name, `${i}.png`), await encodePng(new Uint8Array(30 * 20).fill(v), 30, 20));
    }
    await writeFile(join(root, 'b-dark', 'notes.txt'), 'not an image, ignored');
    await writeFile(join(root, 'README'), 'a file at the root is not a class');
    const set = loadImageFolder(root, { height: 28, width: 28 });
    expect(set.classNames).toEqual(['a-light', 'b-dark', 'c-mid']);
    expect([set.count, set.rows, set.cols]).toEqual([6, 28, 28]);
    expect(Array.from(set.labels)).toEqual([0, 1, 1, 2, 2, 2]);
    expect(Array.from({ length: 6 }, (_, i) => set.images[i * 784 + 400])).toEqual([250, 10, 20, 128, 129, 130]);
  });

  it('names each fault', async () => {
    const missing = join(temp, 'missing');
    expect(() => loadImageFolder(missing, { height: 28, width: 28 })).toThrow(`${missing}: no such folder`);
    const file = join(temp, 'a-file');
    await writeFile(file, 'x');
    expect(() => loadImageFolder(file, { height: 28, width: 28 })).toThrow(`${file}: not a folder`);
    const empty = join(temp, 'empty');
    await mkdir(empty);
    expect(() => loadImageFolder(empty, { height: 28, width: 28 })).toThrow(`${empty}: no class folders (expected one sub-folder of PNGs per class)`);
    const one = join(temp, 'one');
    await mkdir(join(one, 'cats'), { recursive: true });
    await writeFile(join(one, 'cats', 'a.png'), await encodePng(new Uint8Array(4), 2, 2));
    expect(() => loadImageFolder(one, { height: 28, width: 28 })).toThrow(`${one}: only one class folder (cats); classification needs at least 2`);
    await mkdir(join(one, 'dogs'));
    await writeFile(join(one, 'dogs', 'readme.txt'), 'no pngs here');
    expect(() => loadImageFolder(one, { height: 28, width: 28 })).toThrow(`${join(one, 'dogs')}: class "dogs" has no .png images`);
    await writeFile(join(one, 'dogs', 'fake.png'), 'GIF89a, not a PNG');
    expect(() => loadImageFolder(one, { height: 28, width: 28 })).toThrow(new RegExp(`^${join(one, 'dogs', 'fake.png')}: not a valid PNG \\(.+\\)$`));
  });
});
