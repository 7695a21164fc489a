// Finds, verifies and loads MNIST / Fashion-MNIST (the four gzipped IDX files).
//
//   loadDataset(name, { dataDir? }) → { train, test, classNames, source }
//
// Where the files come from, first complete folder wins (a folder is DIR itself or DIR/<name>):
//   1. options.dataDir (the --data flag): checked by IDX validation only, so any copy works;
//   2. $WEBGRAD_DATA;
//   3. the local cache ./data/<name>;
//   4. ../shared/data/<name> relative to the working directory, then to the repository root;
//   5. otherwise the missing files are downloaded from the public mirrors into the cache
//      (temp file, verified, then renamed), each mirror tried in turn.
// Folders 2-5 are verified: a file passes if its .gz SHA-256 is the known one, or else if its
// decompressed IDX has the md5 the dataset's authors publish. The second rule exists because the
// same data ships in differently-wrapped gzips (Fashion-MNIST's upstream .gz differ from the
// Debian copies we hash, only in the gzip header); the IDX md5 pins the content either way.
// downloadVerified (temp file, verified, renamed) is the one download path; text corpora use it too
// (text-corpus.ts).
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipChunks } from '#platform';
import { decodeIdxSplit, MAX_IDX_BYTES, MAX_IDX_HEADER_BYTES, type ImageSet } from '../data/idx.ts';
import { PathError } from './args.ts';

export type DatasetName = 'mnist' | 'fashion-mnist';

export interface Dataset {
  train: ImageSet;
  test: ImageSet;
  classNames: string[];
  /** Where the files came from, for logs. */
  source: string;
}

export interface LoadDatasetOptions {
  /** The --data flag: a folder holding the four files (or a <name> sub-folder with them). */
  dataDir?: string;
  /** Parent of the cache folder <cacheRoot>/<name>; default ./data. */
  cacheRoot?: string;
  /** Environment to read WEBGRAD_DATA from; default process.env. */
  env?: Record<string, string | undefined>;
  /** Folders holding <name>/ sub-folders; default ../shared/data from the cwd and from the repository root. */
  sharedRoots?: string[];
  /** Base URLs tried in order for downloads; default the dataset's public mirrors. */
  mirrors?: string[];
  /** Progress messages (downloads); default silent. */
  log?: (message: string) => void;
}

interface FileDigest {
  sha256: string;
  idxMd5: string;
}

const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'] as const;
type FileName = (typeof FILES)[number];

interface DatasetInfo {
  classNames: string[];
  mirrors: string[];
  digests: Record<FileName, FileDigest>;
}

// sha256: the .gz files in ../shared/data (SHA256SUMS). idxMd5: the published md5 of the decompressed files.
const DATASETS: Record<DatasetName, DatasetInfo> = {
  mnist: {
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'https://storage.googleapis.com/cvdf-datasets/mnist/'],
    digests: {
      'train-images-idx3-ubyte.gz': { sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609', idxMd5: '6bbc9ace898e44ae57da46a324031adb' },
      'train-labels-idx1-ubyte.gz': { sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c', idxMd5: 'a25bea736e30d166cdddb491f175f624' },
      't10k-images-idx3-ubyte.gz': { sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6', idxMd5: '2646ac647ad5339dbf082846283269ea' },
      't10k-labels-idx1-ubyte.gz': { sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6', idxMd5: '27ae3e4e09519cfbb04c329615203637' },
    },
  },
  'fashion-mnist': {
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
    digests: {
      'train-images-idx3-ubyte.gz': { sha256: 'b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7', idxMd5: 'f4a8712d7a061bf5bd6d2ca38dc4d50a' },
      'train-labels-idx1-ubyte.gz': { sha256: '0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056', idxMd5: '9018921c3c673c538a1fc5bad174d6f9' },
      't10k-images-idx3-ubyte.gz': { sha256: 'cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa', idxMd5: '8181f5470baa50b63fa0f6fddb340f0a' },
      't10k-labels-idx1-ubyte.gz': { sha256: '8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05', idxMd5: '15d484375f8d13e6eb1aabb0c3f46965' },
    },
  },
};

// The largest IDX file, raw or gzipped: gzip can only grow incompressible data by a few bytes per
// 64 KB stored block, which the extra MiB covers.
const MAX_FILE_BYTES = MAX_IDX_BYTES + MAX_IDX_HEADER_BYTES + 1024 * 1024;

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function hash(algorithm: 'sha256' | 'md5', bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** The md5 of what a gzip inflates to, hashed as it streams and given up past the largest IDX file. */
async function inflatedMd5(bytes: Uint8Array): Promise<string> {
  const md5 = createHash('md5');
  let size = 0;
  try {
    for await (const chunk of gunzipChunks(bytes)) {
      size += chunk.length;
      if (size > MAX_IDX_BYTES + MAX_IDX_HEADER_BYTES) return 'not computed (inflates past the largest IDX file)';
      md5.update(chunk);
    }
  } catch {
    return 'unreadable gzip'; // a corrupt archive simply fails the second rule too
  }
  return md5.digest('hex');
}

/** Why `bytes` fails `digest`, or null when it passes (see the header for the two accepted forms). */
async function digestMismatch(bytes: Uint8Array, digest: FileDigest): Promise<string | null> {
  const sha256 = hash('sha256', bytes);
  if (sha256 === digest.sha256) return null;
  const idxMd5 = await inflatedMd5(bytes);
  if (idxMd5 === digest.idxMd5) return null;
  return `SHA-256 ${sha256}, expected ${digest.sha256} (decompressed md5 ${idxMd5}, expected ${digest.idxMd5})`;
}

function hasAllFiles(dir: string): boolean {
  return FILES.every((file) => existsSync(join(dir, file)));
}

/** DIR itself or DIR/<name>, whichever holds all four files. */
function completeFolder(dir: string, name: DatasetName): string | null {
  for (const candidate of [dir, join(dir, name)]) if (hasAllFiles(candidate)) return candidate;
  return null;
}

// Over twice the largest file the mirrors serve (Fashion-MNIST's training images, 26 MB): a
// download can only be kept if it matches a known digest, so a longer one is cut off, not held.
const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

/** The response body, refused once it passes `limit` bytes. */
async function readBody(response: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limit) throw new Error(`serves ${declared} bytes, more than the ${limit} any dataset file has`);
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`serves more than the ${limit} bytes any dataset file has`);
    }
    chunks.push(value);
  }
}

/**
 * Fetches the first of `urls` whose bytes pass `verify` (null, or why they do not) into `dest`, through
 * a temp file renamed into place, so a cut-off or tampered download never takes the file's name.
 * Returns the URL it came from; the error lists every URL tried and why each failed.
 */
export async function downloadVerified(urls: readonly string[], dest: string, verify: (bytes: Uint8Array) => Promise<string | null>, log: (message: string) => void): Promise<string> {
  const failures: string[] = [];
  for (const url of urls) {
    const temp = `${dest}.${process.pid}.download.tmp`;
    try {
      log(`downloading ${url}`);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      const bytes = await readBody(response, MAX_DOWNLOAD_BYTES);
      await writeFile(temp, bytes);
      const mismatch = await verify(bytes);
      if (mismatch) throw new Error(mismatch);
      await rename(temp, dest);
      return url;
    } catch (error) {
      await rm(temp, { force: true });
      failures.push(`${url}: ${(error as Error).message}`);
    }
  }
  throw new Error(`could not download ${basename(dest)}:\n  ${failures.join('\n  ')}`);
}

/** The folder to load from and whether its files must match the known digests. */
async function locate(name: DatasetName, options: LoadDatasetOptions): Promise<{ dir: string; verify: boolean; source: string }> {
  if (options.dataDir !== undefined) {
    const dir = completeFolder(resolve(options.dataDir), name);
    if (!dir) throw new PathError(`--data ${options.dataDir}: needs ${FILES.join(', ')} in that folder or in its ${name}/ sub-folder`);
    return { dir, verify: false, source: `${dir} (--data)` };
  }
  const env = options.env ?? process.env;
  const cache = resolve(options.cacheRoot ?? 'data', name);
  const sharedRoots = options.sharedRoots ?? [resolve('../shared/data'), resolve(REPO_ROOT, '../shared/data')];
  const candidates: Array<[string, string]> = [];
  if (env.WEBGRAD_DATA) candidates.push([resolve(env.WEBGRAD_DATA), 'WEBGRAD_DATA']);
  candidates.push([cache, 'cache']);
  for (const root of sharedRoots) candidates.push([join(root, name), 'shared data']);
  for (const [candidate, label] of candidates) {
    const dir = completeFolder(candidate, name);
    if (dir) return { dir, verify: true, source: `${dir} (${label})` };
  }
  const info = DATASETS[name];
  const log = options.log ?? (() => {});
  await mkdir(cache, { recursive: true });
  const urls: string[] = [];
  for (const file of FILES) {
    const dest = join(cache, file);
    const mirrors = (options.mirrors ?? info.mirrors).map((base) => new URL(file, base).href);
    if (!existsSync(dest)) urls.push(await downloadVerified(mirrors, dest, (bytes) => digestMismatch(bytes, info.digests[file]), log));
  }
  return { dir: cache, verify: true, source: `${cache} (downloaded from ${urls.join(', ')})` };
}

async function readFileChecked(path: string, digest: FileDigest | null): Promise<Uint8Array> {
  const stats = statSync(path);
  if (!stats.isFile()) throw new Error(`${path}: not a file`);
  if (stats.size > MAX_FILE_BYTES) throw new Error(`${path}: ${stats.size} bytes is larger than any IDX file this reader accepts (${MAX_IDX_BYTES} bytes of data)`);
  const bytes = new Uint8Array(await readFile(path));
  const mismatch = digest && (await digestMismatch(bytes, digest));
  if (mismatch) throw new Error(`${path}: not the known file: ${mismatch}`);
  return bytes;
}

/** Like Promise.all, but when several fail the error reported is the first in list order, not in time. */
async function firstFailureInOrder<T>(work: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

export async function loadDataset(name: DatasetName, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const info = DATASETS[name];
  if (!info) throw new Error(`unknown dataset "${name}" (known: ${Object.keys(DATASETS).join(', ')})`);
  const { dir, verify, source } = await locate(name, options);
  const files = await firstFailureInOrder(
    FILES.map(async (file) => {
      const path = join(dir, file);
      return { name: path, bytes: await readFileChecked(path, verify ? info.digests[file] : null) };
    }),
  );
  const [trainImages, trainLabels, testImages, testLabels] = files as [typeof files[0], typeof files[0], typeof files[0], typeof files[0]];
  const classes = info.classNames.length;
  const [train, test] = await firstFailureInOrder([
    decodeIdxSplit(trainImages, trainLabels, classes),
    decodeIdxSplit(testImages, testLabels, classes),
  ]) as [ImageSet, ImageSet];
  return { train, test, classNames: [...info.classNames], source };
}
