import { describe, expect, it } from 'vitest';
import { decodeIdx, decodeIdxSplit } from '../../src/data/idx.ts';
import { gzip, idxBytes, tinySplit } from '../helpers/idx.ts';

const IMAGES = 'train-images-idx3-ubyte.gz';
const LABELS = 'train-labels-idx1-ubyte.gz';

describe('decodeIdx', () => {
  it('reads raw and gzipped files to the same array', async () => {
    const raw = idxBytes([2, 3], [1, 2, 3, 4, 5, 6]);
    for (const bytes of [raw, gzip(raw)]) {
      const idx = await decodeIdx('x', bytes);
      expect(idx.dims).toEqual([2, 3]);
      expect(Array.from(idx.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it('names truncated and over-long files', async () => {
    const full = idxBytes([3, 2, 2], new Array(12).fill(7));
    await expect(decodeIdx(IMAGES, gzip(full.subarray(0, full.length - 5)))).rejects.toThrow(
      `${IMAGES}: truncated: header says 3×2×2 = 12 bytes of data, file has 7`,
    );
    const long = new Uint8Array(full.length + 2);
    long.set(full);
    await expect(decodeIdx(IMAGES, long)).rejects.toThrow(`${IMAGES}: trailing bytes: header says 3×2×2 = 12 bytes of data, file has at least 14`);
    await expect(decodeIdx(IMAGES, full.subarray(0, 9))).rejects.toThrow(
      `${IMAGES}: truncated: header of 3 dimensions needs 16 bytes, file has 9`,
    );
  });

  it('rejects bytes that are neither gzip nor IDX, and corrupt gzip', async () => {
    await expect(decodeIdx(IMAGES, new TextEncoder().encode('<html>'))).rejects.toThrow(
      `${IMAGES}: not a gzip or IDX file (magic 0x3c68746d)`,
    );
    await expect(decodeIdx(IMAGES, new Uint8Array())).rejects.toThrow(`${IMAGES}: file is empty`);
    const zipped = gzip(idxBytes([4], [0, 1, 2, 3]));
    const corrupt = zipped.slice();
    corrupt.fill(0xff, 10, 20);
    await expect(decodeIdx(IMAGES, corrupt)).rejects.toThrow(new RegExp(`^${IMAGES}: gzip data is corrupt \\(.+\\)$`));
    await expect(decodeIdx(IMAGES, zipped.subarray(0, zipped.length - 6))).rejects.toThrow(`${IMAGES}: gzip data is corrupt`);
    await expect(decodeIdx(IMAGES, gzip(new TextEncoder().encode('hello')))).rejects.toThrow(
      `${IMAGES}: gzip content is not an IDX u8 file (magic 0x68656c6c)`,
    );
  });
});

describe('decodeIdxSplit', () => {
  it('returns a checked split', async () => {
    const { images, labels } = tinySplit(5, 3, 4, 3);
    const set = await decodeIdxSplit({ name: IMAGES, bytes: gzip(images) }, { name: LABELS, bytes: labels }, 3);
    expect([set.count, set.rows, set.cols]).toEqual([5, 3, 4]);
    expect(Array.from(set.labels)).toEqual([0, 1, 2, 0, 1]);
    expect(set.images.length).toBe(60);
    expect(set.images[13]).toBe((13 * 37) % 256);
  });

  it('names each inconsistency', async () => {
    const { images, labels } = tinySplit(5, 3, 4, 3);
    const img = { name: IMAGES, bytes: images };
    const lab = { name: LABELS, bytes: labels };
    await expect(decodeIdxSplit(lab, lab, 3)).rejects.toThrow(`${LABELS}: expected IDX magic 2051 (images, 3 dimensions), found 2049 (1 dimensions)`);
    await expect(decodeIdxSplit(img, img, 3)).rejects.toThrow(`${IMAGES}: expected IDX magic 2049 (labels, 1 dimension), found 2051 (3 dimensions)`);
    const fewer = { name: LABELS, bytes: idxBytes([4], [0, 1, 2, 0]) };
    await expect(decodeIdxSplit(img, fewer, 3)).rejects.toThrow(`${LABELS}: has 4 labels but ${IMAGES} has 5 images`);
    const outOfRange = { name: 't10k-labels-idx1-ubyte.gz', bytes: idxBytes([5], [0, 1, 2, 1, 12]) };
    await expect(decodeIdxSplit(img, outOfRange, 10)).rejects.toThrow('t10k-labels-idx1-ubyte.gz: label 12 at index 4 is outside 0..9');
  });
});
