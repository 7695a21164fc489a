// Checkpoint files on disk. Writes are atomic: the bytes go to a temp file in the same folder,
// are fsynced, then renamed over the target (and the folder fsynced), so a crash or SIGKILL at any
// moment leaves either the previous file or the complete new one, never a torn mix. A kill between
// the open and the rename leaves only the temp file, which removeStaleTemps deletes on the next run.
//
//   await saveCheckpoint(path, state, info, trainer?)   encode (src/io/checkpoint.ts) + atomic write
//   await readCheckpoint(path)                          → Checkpoint (metadata, weights, moments)
//   await loadCheckpoint(path, state, trainer?)         read + restoreCheckpoint; returns the Checkpoint
//   await readModel(path)                               loadModel on a file: { model, weights, normalize, classNames, checkpoint }
//   await writeFileAtomic(path, bytes | chunks)         the atomic write itself
//   await removeStaleTemps(folder)                      temp files of writers that are gone → removed
//   await readSafetensorsFile(path)                     any safetensors file (e.g. a PyTorch state_dict)
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeCheckpoint, encodeCheckpoint, loadModel, restoreCheckpoint, type Checkpoint, type LoadedModel, type SaveInfo } from '../io/checkpoint.ts';
import { decodeSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import type { ModelState, Trainer } from '../runtime/runtime.ts';
import { PathError } from './args.ts';

/** `.<target name>.<writer's pid>.<8 hex>.tmp`, as writeFileAtomic names its temp files. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the temp files that killed writes left in `folder`: those whose writer process no longer
 * runs (a live writer, this process included, may be mid-write). Returns the names removed.
 */
export async function removeStaleTemps(folder: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  const stale = names.filter((name) => {
    const pid = TEMP_NAME.exec(name)?.[1];
    return pid !== undefined && !processAlive(Number(pid));
  });
  for (const name of stale) await rm(join(folder, name), { force: true });
  return stale;
}

/** `data` may be produced piecewise (chunks are written as they arrive). */
export async function writeFileAtomic(path: string, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
  const folder = dirname(path);
  // Same folder, so the rename never crosses file systems; a dot name so stale temps stand out.
  const temp = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const file = await open(temp, 'wx');
  try {
    try {
      if (data instanceof Uint8Array) await file.writeFile(data);
      else for await (const chunk of data) await file.writeFile(chunk);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // Makes the rename itself durable; some platforms cannot open a folder, which only weakens that.
  const dir = await open(folder, 'r').catch(() => undefined);
  if (dir) {
    try {
      await dir.sync().catch(() => undefined);
    } finally {
      await dir.close();
    }
  }
}

export async function saveCheckpoint(path: string, state: ModelState, info: SaveInfo, trainer?: Trainer): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(state, info, trainer));
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new PathError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readBytes(path), path);
}

/** The model a checkpoint file describes (zoo or graph) and its weights, ready for new ModelState(gpu, model, weights). */
export async function readModel(path: string): Promise<LoadedModel> {
  return loadModel(await readBytes(path), path);
}

export async function loadCheckpoint(path: string, state: ModelState, trainer?: Trainer): Promise<Checkpoint> {
  const checkpoint = await readCheckpoint(path);
  restoreCheckpoint(checkpoint, state, trainer);
  return checkpoint;
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  return decodeSafetensors(await readBytes(path), path);
}
