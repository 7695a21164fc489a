// The checks a run makes before it starts: they prove outputs writable without leaving anything
// behind, clear only the temp files of writers that are gone, and keep a foreign checkpoint.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepForeignCheckpoint, keptCheckpoint, readableFile, writableFile, writableFolder } from '../../src/node/preflight.ts';
import { removeStaleTemps, writeFileAtomic } from '../../src/node/checkpoint-file.ts';
import { PathError, UsageError } from '../../src/node/args.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'webgrad-preflight-'));
/** The pid of a process that has already exited. */
const goneProcess = () => spawnSync(process.execPath, ['-e', '']).pid!;

async function rejection(run: Promise<unknown>): Promise<Error> {
  const error = await run.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe('writableFolder', () => {
  it('proves a folder writable and leaves it as it was', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'keep.txt'), 'x');
    expect(await writableFolder('out', dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual(['keep.txt']);
  });

  it('does not create a folder that does not exist yet, only proves it could be', async () => {
    const parent = scratch();
    const dir = join(parent, 'a', 'b');
    await writableFolder('out', dir);
    expect(existsSync(join(parent, 'a'))).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('names the flag and the file in the way', async () => {
    const file = join(scratch(), 'plain');
    writeFileSync(file, 'x');
    const error = await rejection(writableFolder('logdir', join(file, 'logs')));
    expect(error).toBeInstanceOf(PathError);
    expect(error.message).toBe(`--logdir: cannot create the folder ${join(file, 'logs')}: ${file} is a file`);
    const onFile = await rejection(writableFile('report', join(file, 'r.json')));
    expect(onFile.message).toBe(`--report: cannot create the folder ${file}: ${file} is a file`);
    const folder = scratch();
    expect((await rejection(writableFile('report', folder))).message).toBe(`--report: ${folder} is a folder; give a file name`);
  });
});

describe('removeStaleTemps', () => {
  it('removes the temps of writers that are gone and keeps everything else', async () => {
    const dir = scratch();
    const gone = goneProcess();
    const names = {
      stale: `.checkpoint.safetensors.${gone}.0badc0de.tmp`,
      live: `.report.json.${process.pid}.00c0ffee.tmp`,
      notOurs: '.notes.tmp',
      notHex: `.x.${gone}.zzzzzzzz.tmp`,
      target: 'checkpoint.safetensors',
    };
    for (const name of Object.values(names)) writeFileSync(join(dir, name), 'x');
    expect(await removeStaleTemps(dir)).toEqual([names.stale]);
    expect(readdirSync(dir).sort()).toEqual([names.live, names.notOurs, names.notHex, names.target].sort());
    expect(await removeStaleTemps(join(dir, 'absent'))).toEqual([]);
  });

  it('knows the names writeFileAtomic gives its temps, and spares a write in progress', async () => {
    const dir = scratch();
    let during: string[] = [];
    let sparedDuring: string[] = [];
    const chunks = (async function* () {
      yield new Uint8Array([1]);
      during = readdirSync(dir);
      sparedDuring = await removeStaleTemps(dir);
      yield new Uint8Array([2]);
    })();
    await writeFileAtomic(join(dir, 'out.bin'), chunks);
    expect(during).toHaveLength(1);
    expect(sparedDuring).toEqual([]);
    // The same name from a writer that is gone is stale.
    const stale = during[0]!.replace(`.${process.pid}.`, `.${goneProcess()}.`);
    writeFileSync(join(dir, stale), 'x');
    expect(await removeStaleTemps(dir)).toEqual([stale]);
    expect(readdirSync(dir)).toEqual(['out.bin']);
  });
});

describe('keepForeignCheckpoint', () => {
  it('refuses to replace a checkpoint the run did not start from, unless told to', () => {
    const dir = scratch();
    const path = join(dir, 'checkpoint.safetensors');
    expect(() => keepForeignCheckpoint(path, { overwrite: false })).not.toThrow();
    writeFileSync(path, 'x');
    expect(() => keepForeignCheckpoint(path, { overwrite: true })).not.toThrow();
    expect(() => keepForeignCheckpoint(path, { overwrite: false, from: path })).not.toThrow();
    expect(() => keepForeignCheckpoint(path, { overwrite: false, reuse: 'X continues it' }))
      .toThrow(new UsageError(`--out: ${dir} already holds checkpoint.safetensors from another run; X continues it, --overwrite replaces it, or choose another --out`));
    expect(() => keepForeignCheckpoint(path, { overwrite: false, from: '/elsewhere.safetensors' }))
      .toThrow(`already holds checkpoint.safetensors from another run and is not the checkpoint this run starts from (/elsewhere.safetensors); --overwrite`);
  });
});

describe('readableFile', () => {
  it('names a missing file and a folder', () => {
    const dir = scratch();
    expect(() => readableFile(join(dir, 'absent.png'))).toThrow(new PathError(`${join(dir, 'absent.png')}: cannot read (ENOENT)`));
    expect(() => readableFile(dir)).toThrow(`${dir}: cannot read (not a file)`);
  });
});

describe('keptCheckpoint', () => {
  it('names the checkpoint a failed run saved last, else the one it left untouched', () => {
    const path = '/runs/a/checkpoint.safetensors';
    expect(keptCheckpoint(path, { saved: 'step 200', hadCheckpoint: true, resumedFrom: '/runs/b/checkpoint.safetensors' })).toBe(`the checkpoint of step 200 is kept at ${path}`);
    expect(keptCheckpoint(path, { saved: null, hadCheckpoint: true, resumedFrom: '/runs/b/checkpoint.safetensors' })).toBe(`${path} is untouched`);
    expect(keptCheckpoint(path, { saved: null, hadCheckpoint: false, resumedFrom: '/runs/b/checkpoint.safetensors' })).toBe('/runs/b/checkpoint.safetensors is untouched');
    expect(keptCheckpoint(path, { saved: null, hadCheckpoint: false })).toBe('no checkpoint was written yet');
  });
});
