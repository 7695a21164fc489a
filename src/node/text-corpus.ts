// Finds, verifies and reads the text a language model trains on: any file given by path (read as
// it is), or a named corpus looked up like MNIST (datasets.ts), first copy found wins:
//   1. $WEBGRAD_DATA/text/<file>;
//   2. the local cache ./data/text/<file>;
//   3. ../shared/data/text/<file> relative to the working directory, then to the repository root;
//   4. otherwise downloaded into the cache through downloadVerified, when the corpus has a public URL.
// Copies found by name must have the corpus's SHA-256, so a changed file is refused, never trained on.
//
//   readCorpus({ text?: path, dataset?: name, … }) → { bytes, name, source, sha256 }
import { statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { PathError, UsageError } from './args.ts';
import { downloadVerified, hash, REPO_ROOT } from './datasets.ts';

interface CorpusInfo {
  file: string;
  sha256: string;
  urls: string[];
}

// moby-dick: the shared copy (../shared/data/SHA256SUMS), public domain, with no canonical URL of its own.
// tiny-shakespeare: Karpathy's char-rnn input.txt (1,115,394 bytes); the SHA-256 is the value published
// for that file by several independent projects. It could not be checked against the URL from here
// (no network), so a download that does not match it is refused rather than kept.
const CORPORA = {
  'moby-dick': { file: 'moby-dick.txt', sha256: 'fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240', urls: [] },
  'tiny-shakespeare': {
    file: 'tiny-shakespeare.txt',
    sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
    urls: ['https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt', 'https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt'],
  },
} satisfies Record<string, CorpusInfo>;

export type CorpusName = keyof typeof CORPORA;
export const CORPUS_NAMES = Object.keys(CORPORA) as CorpusName[];

/** Past this a corpus would not fit one token buffer on common adapters (4 bytes per token). */
export const MAX_CORPUS_BYTES = 256 * 1024 * 1024;

export interface Corpus {
  bytes: Uint8Array;
  /** The corpus name, or the file's name for --text. */
  name: string;
  /** Where it was read from, for logs and the report. */
  source: string;
  /** The file it was read from. */
  path: string;
  sha256: string;
}

export interface ReadCorpusOptions {
  /** A file to train on as it is (the --text flag). */
  text?: string;
  /** A named corpus; the default when neither is given is moby-dick. */
  dataset?: CorpusName;
  env?: Record<string, string | undefined>;
  /** Parent of the cache folder <cacheRoot>/text; default ./data. */
  cacheRoot?: string;
  /** Folders holding text/ sub-folders; default ../shared/data from the cwd and from the repository root. */
  sharedRoots?: string[];
  /** URLs tried in order for a download; default the corpus's own. */
  urls?: string[];
  log?: (message: string) => void;
}

async function readBounded(path: string, flag: string): Promise<Uint8Array> {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) throw new PathError(`--${flag} ${path}: cannot read (ENOENT)`);
  if (!stats.isFile()) throw new PathError(`--${flag} ${path}: cannot read (not a file)`);
  if (stats.size > MAX_CORPUS_BYTES) throw new UsageError(`--${flag} ${path}: ${stats.size} bytes is more than the ${MAX_CORPUS_BYTES} a corpus may have`);
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new PathError(`--${flag} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

const mismatch = (info: CorpusInfo) => async (bytes: Uint8Array): Promise<string | null> => {
  const sha256 = hash('sha256', bytes);
  return sha256 === info.sha256 ? null : `SHA-256 ${sha256}, expected ${info.sha256}`;
};

export async function readCorpus(options: ReadCorpusOptions): Promise<Corpus> {
  if (options.text !== undefined) {
    if (options.dataset !== undefined) throw new UsageError('--text and --dataset: give one of them, not both');
    const bytes = await readBounded(options.text, 'text');
    return { bytes, name: basename(options.text), source: options.text, path: options.text, sha256: hash('sha256', bytes) };
  }
  const name = options.dataset ?? 'moby-dick';
  const info: CorpusInfo = CORPORA[name];
  if (!info) throw new UsageError(`--dataset: "${name}" is not one of ${CORPUS_NAMES.join(', ')}`);
  const env = options.env ?? process.env;
  const cache = resolve(options.cacheRoot ?? 'data', 'text');
  const sharedRoots = options.sharedRoots ?? [resolve('../shared/data'), resolve(REPO_ROOT, '../shared/data')];
  const candidates: Array<[string, string]> = [
    ...(env.WEBGRAD_DATA ? [[join(resolve(env.WEBGRAD_DATA), 'text'), 'WEBGRAD_DATA'] as [string, string]] : []),
    [cache, 'cache'],
    ...sharedRoots.map((root): [string, string] => [join(root, 'text'), 'shared data']),
  ];
  const verify = mismatch(info);
  for (const [dir, label] of candidates) {
    const path = join(dir, info.file);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
    const bytes = await readBounded(path, 'dataset');
    const wrong = await verify(bytes);
    if (wrong) throw new Error(`${path}: not the known ${name} text: ${wrong}`);
    return { bytes, name, source: `${path} (${label})`, path, sha256: info.sha256 };
  }
  const urls = options.urls ?? info.urls;
  if (urls.length === 0) throw new PathError(`--dataset ${name}: ${info.file} is in none of ${candidates.map(([dir]) => dir).join(', ')}, and it has no public URL to download from; give --text FILE`);
  await mkdir(cache, { recursive: true });
  const path = join(cache, info.file);
  const url = await downloadVerified(urls, path, verify, options.log ?? (() => {}));
  return { bytes: await readBounded(path, 'dataset'), name, source: `${path} (downloaded from ${url})`, path, sha256: info.sha256 };
}
