// Files that cost far more to decode than to send: gzip bombs given as IDX files, headers that
// promise gigabytes, PNGs whose IHDR claims huge dimensions, an interlaced PNG whose image data
// inflates without end, a safetensors header length of hundreds of MB. Each case builds its input
// here, checks the error names the file and the limit, and measures the memory the refusal cost:
// the decoding runs in a fresh process, whose peak RSS before and after it are compared.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIdx, MAX_IDX_BYTES } from '../../src/data/idx.ts';
import { loadImageFolder, MAX_PNG_FILE_BYTES, MAX_PNG_PIXELS, readGrayPng } from '../../src/node/image-folder.ts';
import { MAX_HEADER_BYTES } from '../../src/io/safetensors.ts';
import { idxBytes } from '../helpers/idx.ts';
import { ihdr, pngChunk, pngFile } from '../helpers/png-chunks.ts';

const MiB = 1024 * 1024;
/** What a refusal may cost in resident memory; every bomb below would need at least 256 MiB decoded. */
const PEAK_BOUND = 64 * MiB;
const CHILD = join(import.meta.dirname, '..', 'helpers', 'refusal-peak.ts');

/** Decodes `file` as `kind` in a fresh process (see test/helpers/refusal-peak.ts): its error and its peak RSS growth. */
function decodeInChild(kind: string, file: string): { message: string | null; peakGrowth: number } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', CHILD, kind, file], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`refusal-peak ${kind} ${file} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { message: string | null; peakGrowth: number };
}

const peaks: Record<string, number> = {};
/** Decodes `input` (a file, or bytes written to one) in a child; `message(file)` is what its error must say. */
async function expectBoundedRefusal(what: string, kind: string, input: string | Uint8Array, message: (file: string) => string | RegExp): Promise<void> {
  let file = input as string;
  if (input instanceof Uint8Array) {
    file = join(temp, `${what.replace(/\W+/g, '-')}.bin`);
    await writeFile(file, input);
  }
  const result = decodeInChild(kind, file);
  peaks[what] = result.peakGrowth;
  expect(result.message, what).toMatch(message(file));
  expect(result.peakGrowth, `${what}: peak RSS growth`).toBeLessThan(PEAK_BOUND);
}

/**
 * A gzip that inflates to `prefix` then `zeros` zero bytes, about 1 KB per MiB: one member holding
 * the prefix and 16 MiB of zeros, then copies of a member of 16 MiB of zeros (gzip allows members
 * back to back), so building a 2 GiB bomb never holds more than 16 MiB.
 */
function zeroBomb(prefix: Uint8Array, zeros: number): Uint8Array {
  const block = 16 * MiB;
  const first = gzipSync(Buffer.concat([prefix, Buffer.alloc(block)]), { level: 9 });
  const rest = gzipSync(Buffer.alloc(block), { level: 9 });
  return Buffer.concat([first, ...Array.from({ length: Math.ceil(zeros / block) - 1 }, () => rest)]);
}

let temp = '';
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'webgrad-bombs-'));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
  console.log(`peak RSS growth per case (MiB): ${Object.entries(peaks).map(([what, bytes]) => `${what} ${(bytes / MiB).toFixed(2)}`).join('; ')}`);
});

describe('the measurement', () => {
  it('sees what inflating a 256 MiB bomb whole costs', async () => {
    const file = join(temp, 'control.gz');
    await writeFile(file, zeroBomb(new Uint8Array(), 256 * MiB));
    const { message, peakGrowth } = decodeInChild('unbounded-gunzip', file);
    expect(message).toBeNull();
    expect(peakGrowth).toBeGreaterThan(200 * MiB);
    peaks['control: whole gunzip of a 256 MiB bomb'] = peakGrowth;
  });
});

describe('IDX files', () => {
  const name = 'train-images-idx3-ubyte.gz';

  it('a 2 MB gzip that inflates to 2 GiB behind an honest header stops at the first byte past the header\'s promise', async () => {
    const bomb = zeroBomb(idxBytes([10, 28, 28], []), 2048 * MiB);
    expect(bomb.length).toBeLessThan(3 * MiB);
    await expectBoundedRefusal('IDX gzip bomb', 'idx', bomb, (file) =>
      `${file}: trailing bytes: header says 10×28×28 = 7840 bytes of data, file has at least`);
  });

  it('a header promising more than MAX_IDX_BYTES is refused before the data behind it is inflated', async () => {
    const bomb = zeroBomb(idxBytes([65536, 256, 256], []), 1024 * MiB);
    await expectBoundedRefusal('IDX header over the limit', 'idx', bomb, (file) =>
      `${file}: header says 65536×256×256 = 4294967296 bytes of data, more than the ${MAX_IDX_BYTES} bytes an IDX file may hold`);
    const raw = idxBytes([1 << 20, 1 << 10], []);
    await expect(decodeIdx('raw.idx', raw)).rejects.toThrow(`raw.idx: header says 1048576×1024 = 1073741824 bytes of data, more than the ${MAX_IDX_BYTES}`);
  });

  it('a header within the limit given less data is truncated, not padded', async () => {
    await expect(decodeIdx(name, gzipSync(idxBytes([1000, 28, 28], [1, 2, 3])))).rejects.toThrow(`${name}: truncated: header says 1000×28×28 = 784000 bytes of data, file has 3`);
  });

  it('the browser edge stops inflating when its reader stops', async () => {
    const bomb = zeroBomb(new Uint8Array(), 2048 * MiB);
    await expectBoundedRefusal('browser gunzip stopped after 1 MiB', 'browser-gunzip', bomb, () => /^stopped after \d+ bytes$/);
  });
});

describe('PNG images', () => {
  it(`a PNG claiming 20000×20000 pixels is refused from its IHDR, before pngjs decodes it (limit ${MAX_PNG_PIXELS} pixels)`, async () => {
    // Real image data for that size (400 MB of gray scanlines) deflated to about 400 KB.
    const rows = Buffer.alloc(20000 * 20001);
    const path = join(temp, 'huge.png');
    await writeFile(path, pngFile(ihdr(20000, 20000), pngChunk('IDAT', deflateSync(rows, { level: 9 }))));
    await expectBoundedRefusal('PNG 20000×20000', 'png', path, () =>
      `${path}: 20000×20000 = 400000000 pixels is more than the ${MAX_PNG_PIXELS} a PNG may have here (4096×4096)`);
  });

  it('an interlaced PNG whose image data inflates past its size is refused before pngjs inflates it whole', async () => {
    const path = join(temp, 'interlaced-bomb.png');
    await writeFile(path, pngFile(ihdr(64, 64, { interlaced: true }), pngChunk('IDAT', deflateSync(Buffer.alloc(256 * MiB), { level: 9 }))));
    await expectBoundedRefusal('interlaced PNG bomb', 'png', path, () =>
      `${path}: image data inflates past the 4216 bytes a 64×64 interlaced PNG holds`); // 4096 pixels + 120 rows over the 7 passes
  });

  it('an interlaced PNG of exactly its size decodes; one byte more is refused', async () => {
    // Adam7 over 13×11 gray: pass sizes (columns×rows) 2×2, 2×2, 4×1, 3×3, 7×3, 6×6, 13×5 (143 pixels), a filter byte per row.
    const passes = [[2, 2], [2, 2], [4, 1], [3, 3], [7, 3], [6, 6], [13, 5]] as const;
    const scanlines = passes.flatMap(([columns, rows]) => Array.from({ length: rows }, () => [0, ...new Array(columns).fill(200)]).flat());
    const exact = join(temp, 'interlaced.png');
    await writeFile(exact, pngFile(ihdr(13, 11, { interlaced: true }), pngChunk('IDAT', deflateSync(Uint8Array.from(scanlines)))));
    expect(Array.from(readGrayPng(exact, { height: 11, width: 13 }))).toEqual(new Array(143).fill(200));
    const over = join(temp, 'interlaced-over.png');
    await writeFile(over, pngFile(ihdr(13, 11, { interlaced: true }), pngChunk('IDAT', deflateSync(Uint8Array.from([...scanlines, 0])))));
    expect(() => readGrayPng(over, { height: 11, width: 13 })).toThrow(`${over}: image data inflates past the ${scanlines.length} bytes a 13×11 interlaced PNG holds`);
  });

  it('refuses zero dimensions and unknown colour types from IHDR', async () => {
    const zero = join(temp, 'zero.png');
    await writeFile(zero, pngFile(ihdr(0, 5)));
    expect(() => readGrayPng(zero, { height: 28, width: 28 })).toThrow(`${zero}: not a valid PNG (IHDR says 0×5 pixels)`);
    const colour = join(temp, 'colour.png');
    await writeFile(colour, pngFile(ihdr(5, 5, { colourType: 5 })));
    expect(() => readGrayPng(colour, { height: 28, width: 28 })).toThrow(`${colour}: not a valid PNG (IHDR colour type 5 is not one PNG defines)`);
  });
});

describe('PNG files and folders', () => {
  it(`a PNG file over ${MAX_PNG_FILE_BYTES} bytes is refused from its size, before it is read`, async () => {
    const path = join(temp, 'padded.png');
    await writeFile(path, pngFile(ihdr(28, 28)));
    await truncate(path, MAX_PNG_FILE_BYTES + 1); // sparse: costs no disk
    await expectBoundedRefusal('PNG file over the size limit', 'png', path, () =>
      `${path}: ${MAX_PNG_FILE_BYTES + 1} bytes is more than the ${MAX_PNG_FILE_BYTES} a PNG file may have here`);
  });

  it('a folder whose images would make more than MAX_IDX_BYTES is refused before any is decoded', async () => {
    const root = join(temp, 'folder');
    for (const name of ['a', 'b']) {
      await mkdir(join(root, name), { recursive: true });
      // Not even valid PNGs: the count alone decides.
      for (let i = 0; i < 9; i++) await writeFile(join(root, name, `${i}.png`), 'not a png');
    }
    expect(() => loadImageFolder(root, { height: 4096, width: 4096 })).toThrow(
      `${root}: 18 images of 4096×4096 make 301989888 bytes, more than the ${MAX_IDX_BYTES} a dataset may hold`);
  });
});

describe('safetensors headers', () => {
  it(`a header length over the reference implementation's cap (${MAX_HEADER_BYTES} bytes) is refused before the header is read`, async () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
    await expectBoundedRefusal('safetensors header length', 'safetensors', bytes, (file) =>
      `${file}: header length ${MAX_HEADER_BYTES + 1} is over the ${MAX_HEADER_BYTES}-byte cap on safetensors headers`);
  });
});
