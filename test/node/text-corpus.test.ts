// Finding the text to train on: a --text file as it is, Moby-Dick from the shared data verified by
// SHA-256, a changed copy refused, and downloads (through the one verified download path) kept only
// when they match: a corpus served right is cached, a wrong file is refused and leaves nothing behind.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorpus } from '../../src/node/text-corpus.ts';

const SHARED = resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared/data');
const MOBY_SHA256 = 'fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240';

let temp = '';
let server: Server;
let base = '';
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'webgrad-corpus-'));
  // /moby serves the shared Moby-Dick, /wrong a short text, anything else 404.
  server = createServer((request, response) => {
    if (request.url === '/moby') readFile(join(SHARED, 'text', 'moby-dick.txt')).then((bytes) => response.end(bytes));
    else if (request.url === '/wrong') response.end('First Citizen:\nBefore we proceed any further, hear me speak.\n');
    else response.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  base = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
  await rm(temp, { recursive: true, force: true });
});

describe('readCorpus', () => {
  it('reads a --text file as it is, with its hash', async () => {
    const path = join(temp, 'mine.txt');
    await writeFile(path, 'héllo 🐋\n');
    const corpus = await readCorpus({ text: path });
    expect(corpus).toMatchObject({ name: 'mine.txt', path, source: path, sha256: createHash('sha256').update('héllo 🐋\n').digest('hex') });
    expect(new TextDecoder().decode(corpus.bytes)).toBe('héllo 🐋\n');
    await expect(readCorpus({ text: join(temp, 'none.txt') })).rejects.toThrow(`--text ${join(temp, 'none.txt')}: cannot read (ENOENT)`);
    await expect(readCorpus({ text: temp })).rejects.toThrow(`--text ${temp}: cannot read (not a file)`);
    await expect(readCorpus({ text: path, dataset: 'moby-dick' })).rejects.toThrow('--text and --dataset: give one of them, not both');
  });

  it('finds Moby-Dick in the shared data by default and verifies it', async () => {
    const corpus = await readCorpus({ env: {}, cacheRoot: join(temp, 'empty-cache') });
    expect(corpus.name).toBe('moby-dick');
    expect(corpus.sha256).toBe(MOBY_SHA256);
    expect(corpus.source).toMatch(/moby-dick\.txt \(shared data\)$/);
    expect(corpus.bytes.length).toBe((await readFile(join(SHARED, 'text', 'moby-dick.txt'))).length);
  });

  it('refuses a changed copy found by name, naming the file and both hashes', async () => {
    const dir = join(temp, 'env', 'text');
    await mkdir(dir, { recursive: true });
    const bytes = await readFile(join(SHARED, 'text', 'moby-dick.txt'));
    bytes[1000]! ^= 0x20;
    await writeFile(join(dir, 'moby-dick.txt'), bytes);
    await expect(readCorpus({ dataset: 'moby-dick', env: { WEBGRAD_DATA: join(temp, 'env') } })).rejects.toThrow(
      new RegExp(`${join(dir, 'moby-dick.txt')}: not the known moby-dick text: SHA-256 [0-9a-f]{64}, expected ${MOBY_SHA256}`),
    );
  });

  it('downloads into the cache when no copy is found, keeping only a file with the known hash', async () => {
    const cacheRoot = join(temp, 'download-cache');
    const log: string[] = [];
    const options = { dataset: 'moby-dick' as const, env: {}, sharedRoots: [], cacheRoot, log: (m: string) => log.push(m) };
    const corpus = await readCorpus({ ...options, urls: [`${base}/missing`, `${base}/moby`] });
    expect(corpus.source).toBe(`${join(cacheRoot, 'text', 'moby-dick.txt')} (downloaded from ${base}/moby)`);
    expect(log).toEqual([`downloading ${base}/missing`, `downloading ${base}/moby`]);
    expect((await readCorpus({ ...options, urls: [] })).source).toBe(`${join(cacheRoot, 'text', 'moby-dick.txt')} (cache)`);
  });

  it('refuses a tiny-shakespeare download that is not the published file and leaves no file behind', async () => {
    const cacheRoot = join(temp, 'wrong-cache');
    await expect(readCorpus({ dataset: 'tiny-shakespeare', env: {}, sharedRoots: [], cacheRoot, urls: [`${base}/wrong`] })).rejects.toThrow(
      new RegExp(`could not download tiny-shakespeare.txt:\\n  ${base}/wrong: SHA-256 [0-9a-f]{64}, expected 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed`),
    );
    expect(readdirSync(join(cacheRoot, 'text'))).toEqual([]);
    expect(existsSync(join(cacheRoot, 'text', 'tiny-shakespeare.txt'))).toBe(false);
  });

  it('says where it looked when a corpus without a URL is nowhere', async () => {
    await expect(readCorpus({ dataset: 'moby-dick', env: {}, sharedRoots: [], cacheRoot: join(temp, 'nothing') })).rejects.toThrow(
      `--dataset moby-dick: moby-dick.txt is in none of ${join(temp, 'nothing', 'text')}, and it has no public URL to download from; give --text FILE`,
    );
  });
});
