import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IDX_BYTES } from '../../src/data/idx.ts';
import { pixelStats } from '../../src/data/split.ts';
import { loadDataset } from '../../src/node/datasets.ts';
import { gzip, idxBytes, tinySplit } from '../helpers/idx.ts';

// The shared data sits beside the repository wherever it is cloned (CI clones elsewhere).
const SHARED = resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared/data');
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
// From ../shared/data/README.md.
const MNIST_TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];

function histogram(labels: Iterable<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) counts[label]!++;
  return counts;
}

let temp: string;
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'webgrad-datasets-'));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
});

async function writeTinyDataset(dir: string, labels?: number[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const split = tinySplit(6, 28, 28, 10);
  const labelBytes = labels ? idxBytes([labels.length], labels) : split.labels;
  await writeFile(join(dir, FILES[0]!), gzip(split.images));
  await writeFile(join(dir, FILES[1]!), gzip(labelBytes));
  await writeFile(join(dir, FILES[2]!), gzip(split.images));
  await writeFile(join(dir, FILES[3]!), split.labels);
}

describe('loadDataset', () => {
  it('finds the real MNIST in ../shared/data and verifies it', async () => {
    const data = await loadDataset('mnist', { cacheRoot: join(temp, 'empty-cache'), env: {} });
    expect(data.source).toBe(`${SHARED}/mnist (shared data)`);
    expect([data.train.count, data.train.rows, data.train.cols]).toEqual([60000, 28, 28]);
    expect(data.test.count).toBe(10000);
    expect(data.train.images.length).toBe(60000 * 784);
    expect(histogram(data.train.labels, 10)).toEqual(MNIST_TRAIN_HISTOGRAM);
    expect(data.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    // The README gives the training pixel statistics to 3 decimals.
    const stats = pixelStats(data.train.images);
    expect(stats.mean).toBeCloseTo(33.318, 3);
    expect(stats.std).toBeCloseTo(78.567, 3);
  });

  it('takes --data as given, with IDX validation only', async () => {
    const dir = join(temp, 'custom');
    await writeTinyDataset(join(dir, 'mnist'));
    const data = await loadDataset('mnist', { dataDir: dir });
    expect(data.source).toBe(`${join(dir, 'mnist')} (--data)`);
    expect([data.train.count, data.test.count]).toEqual([6, 6]);

    const bad = join(temp, 'bad-labels');
    await writeTinyDataset(bad, [0, 1, 2, 3, 10, 5]);
    await expect(loadDataset('mnist', { dataDir: bad })).rejects.toThrow(`${bad}/train-labels-idx1-ubyte.gz: label 10 at index 4 is outside 0..9`);
    await expect(loadDataset('mnist', { dataDir: join(temp, 'nowhere') })).rejects.toThrow(
      `--data ${join(temp, 'nowhere')}: needs ${FILES.join(', ')} in that folder or in its mnist/ sub-folder`,
    );
  });

  it('refuses a file larger than any IDX file from its size, before reading it', async () => {
    const dir = join(temp, 'oversized');
    await writeTinyDataset(dir);
    const path = join(dir, FILES[2]!);
    await truncate(path, 300 * 1024 * 1024); // sparse: costs no disk
    await expect(loadDataset('mnist', { dataDir: dir })).rejects.toThrow(`${path}: 314572800 bytes is larger than any IDX file this reader accepts (${MAX_IDX_BYTES} bytes of data)`);
  });

  it('checks files found through WEBGRAD_DATA against the known hashes', async () => {
    const dir = join(temp, 'env-data');
    await writeTinyDataset(join(dir, 'mnist'));
    await expect(loadDataset('mnist', { env: { WEBGRAD_DATA: dir } })).rejects.toThrow(
      new RegExp(`^${dir}/mnist/train-images-idx3-ubyte.gz: not the known file: SHA-256 [0-9a-f]{64}, expected 440fcabf`),
    );
  });

  it('accepts a re-wrapped gzip whose content has the published md5, rejects changed content', async () => {
    const rewrapped = join(temp, 'fashion-rewrapped', 'fashion-mnist');
    await mkdir(rewrapped, { recursive: true });
    for (const file of FILES.slice(0, 3)) await symlink(join(SHARED, 'fashion-mnist', file), join(rewrapped, file));
    const labels = gunzipSync(await readFile(join(SHARED, 'fashion-mnist', FILES[3]!)));
    await writeFile(join(rewrapped, FILES[3]!), gzip(labels)); // new gzip header, so a new SHA-256
    const data = await loadDataset('fashion-mnist', { env: { WEBGRAD_DATA: join(temp, 'fashion-rewrapped') } });
    expect(histogram(data.test.labels, 10)).toEqual(new Array(10).fill(1000));
    expect(data.classNames[9]).toBe('Ankle boot');

    labels[100] = (labels[100]! + 1) % 10;
    await writeFile(join(rewrapped, FILES[3]!), gzip(labels));
    await expect(loadDataset('fashion-mnist', { env: { WEBGRAD_DATA: join(temp, 'fashion-rewrapped') } })).rejects.toThrow(
      /t10k-labels-idx1-ubyte\.gz: not the known file: SHA-256 [0-9a-f]{64}, expected 8d3605d1.*decompressed md5 [0-9a-f]{32}, expected 15d48437/,
    );
  });
});

describe('loadDataset downloads', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];
  beforeAll(async () => {
    // /good/ serves the real files, /tampered/ the same files with one byte changed, /endless/ zeros
    // without end, anything else 404.
    server = createServer((request, response) => {
      const url = request.url ?? '';
      requests.push(url);
      const [, folder, file] = url.split('/');
      if ((folder === 'good' || folder === 'tampered') && file && FILES.includes(file)) {
        readFile(join(SHARED, 'mnist', file)).then((bytes) => {
          if (folder === 'tampered') bytes[bytes.length >> 1]! ^= 0x40;
          response.end(bytes);
        });
      } else if (folder === 'endless') {
        const zeros = Buffer.alloc(1024 * 1024);
        const more = () => { while (!response.destroyed && response.write(zeros)); };
        response.on('drain', more);
        more();
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('server has no port');
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('tries mirrors in order, verifies, and caches', async () => {
    const cacheRoot = join(temp, 'download-cache');
    const log: string[] = [];
    const options = { cacheRoot, env: {}, sharedRoots: [], mirrors: [`${base}/missing/`, `${base}/good/`], log: (m: string) => log.push(m) };
    const data = await loadDataset('mnist', options);
    expect(data.source).toBe(`${cacheRoot}/mnist (downloaded from ${FILES.map((f) => `${base}/good/${f}`).join(', ')})`);
    expect(histogram(data.train.labels, 10)).toEqual(MNIST_TRAIN_HISTOGRAM);
    expect(log).toContain(`downloading ${base}/missing/train-images-idx3-ubyte.gz`);
    expect(readdirSync(join(cacheRoot, 'mnist')).sort()).toEqual([...FILES].sort());

    requests.length = 0;
    const again = await loadDataset('mnist', options);
    expect(again.source).toBe(`${cacheRoot}/mnist (cache)`);
    expect(requests).toEqual([]);
  });

  it('deletes a download whose hash does not match and names the URL and both hashes', async () => {
    const cacheRoot = join(temp, 'tampered-cache');
    const options = { cacheRoot, env: {}, sharedRoots: [], mirrors: [`${base}/tampered/`] };
    await expect(loadDataset('mnist', options)).rejects.toThrow(
      new RegExp(`could not download train-images-idx3-ubyte.gz:\\n  ${base}/tampered/train-images-idx3-ubyte.gz: SHA-256 [0-9a-f]{64}, expected 440fcabf[0-9a-f]{56} \\(decompressed md5 .+, expected 6bbc9ace898e44ae57da46a324031adb\\)`),
    );
    expect(readdirSync(join(cacheRoot, 'mnist'))).toEqual([]);
  });

  it('cuts off a mirror that serves without end, holding no more than the largest dataset file', async () => {
    const cacheRoot = join(temp, 'endless-cache');
    await expect(loadDataset('mnist', { cacheRoot, env: {}, sharedRoots: [], mirrors: [`${base}/endless/`] })).rejects.toThrow(
      `could not download train-images-idx3-ubyte.gz:\n  ${base}/endless/train-images-idx3-ubyte.gz: serves more than the 67108864 bytes any dataset file has`,
    );
    expect(readdirSync(join(cacheRoot, 'mnist'))).toEqual([]);
  });

  it('completes a partial cache by downloading only the missing files', async () => {
    const cacheRoot = join(temp, 'partial-cache');
    await mkdir(join(cacheRoot, 'mnist'), { recursive: true });
    await copyFile(join(SHARED, 'mnist', FILES[1]!), join(cacheRoot, 'mnist', FILES[1]!));
    requests.length = 0;
    await loadDataset('mnist', { cacheRoot, env: {}, sharedRoots: [], mirrors: [`${base}/good/`] });
    expect(requests.sort()).toEqual([FILES[0], FILES[2], FILES[3]].map((f) => `/good/${f}`).sort());
    expect(existsSync(join(cacheRoot, 'mnist', FILES[0]!))).toBe(true);
  });
});
