// Checks a run makes before it loads data or trains: every folder and file it will write can be
// written (found now, not after an hour of training), temp files of killed earlier writes are
// cleared away, and a checkpoint the run did not write is not replaced unless the user says so.
//
//   await writableFolder('out', dir)         PathError naming --out if dir cannot take files (or be created)
//   await writableFile('report', path)       the same for the folder of a single file
//   readableFile(path)                       PathError "<path>: cannot read (ENOENT)" unless it is a readable file
//   keepForeignCheckpoint(path, { from, overwrite, reuse })   UsageError when a run would replace it
//   keptCheckpoint(path, { saved, hadCheckpoint, resumedFrom }) what a failed run leaves, for its error
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PathError, UsageError } from './args.ts';
import { removeStaleTemps, writeFileAtomic } from './checkpoint-file.ts';

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** The folder itself, or the nearest folder above it that exists (where it would be created). */
function nearestExisting(dir: string): string {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/**
 * Proves, without leaving anything behind, that `dir` takes files the way every output is written
 * (a temp file renamed into place) or, when it does not exist yet, that it can be created; removes
 * stale temps left there. Returns the names of the temps removed. Callers create the folder when
 * they first write, so a run refused later leaves no empty folder.
 */
export async function writableFolder(flag: string, dir: string): Promise<string[]> {
  const existing = nearestExisting(dir);
  if (!statSync(existing).isDirectory()) throw new PathError(`--${flag}: cannot create the folder ${dir}: ${existing} is a file`);
  const removed = existing === dir ? await removeStaleTemps(dir) : [];
  try {
    if (existing === dir) {
      const probe = join(dir, `.webgrad-write-probe.${process.pid}`);
      await writeFileAtomic(probe, new Uint8Array(0));
      await rm(probe, { force: true });
    } else {
      await rm(await mkdtemp(join(existing, '.webgrad-write-probe-')), { recursive: true });
    }
  } catch (error) {
    throw new PathError(`--${flag}: cannot write into ${existing === dir ? dir : `${existing}, where ${dir} would be created`} (${errorCode(error)})`);
  }
  return removed;
}

export function readableFile(path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new PathError(`${path}: cannot read (${errorCode(error)})`);
  }
  if (!statSync(path).isFile()) throw new PathError(`${path}: cannot read (not a file)`);
}

/** Like writableFolder for the folder that will hold `path`; a folder at `path` itself is refused. */
export async function writableFile(flag: string, path: string): Promise<string[]> {
  const removed = await writableFolder(flag, dirname(path));
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new PathError(`--${flag}: ${path} is a folder; give a file name`);
  return removed;
}

/**
 * A run writes a checkpoint to `path`; if one is there already and the run did not start from it,
 * it belongs to another run and is kept unless `overwrite` is set. `reuse` completes the refusal
 * with how to use the file instead (e.g. "--resume PATH continues it").
 */
export function keepForeignCheckpoint(path: string, options: { from?: string; overwrite: boolean; reuse?: string }): void {
  if (options.overwrite || !existsSync(path) || options.from === path) return;
  const from = options.from ? ` and is not the checkpoint this run starts from (${options.from})` : '';
  const reuse = options.reuse ? `${options.reuse}, ` : '';
  throw new UsageError(`--out: ${dirname(path)} already holds ${basename(path)} from another run${from}; ${reuse}--overwrite replaces it, or choose another --out`);
}

/**
 * What a run that failed leaves behind, said after its error: the checkpoint it saved last (`saved`
 * names it, "epoch 3" or "step 200"), else the one `path` or `resumedFrom` held before, untouched.
 */
export function keptCheckpoint(path: string, o: { saved: string | null; hadCheckpoint: boolean; resumedFrom?: string }): string {
  if (o.saved !== null) return `the checkpoint of ${o.saved} is kept at ${path}`;
  if (o.hadCheckpoint) return `${path} is untouched`;
  return o.resumedFrom ? `${o.resumedFrom} is untouched` : 'no checkpoint was written yet';
}
