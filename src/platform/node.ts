// Node edge for small persistent state (autotune results): files under the user's cache directory.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gunzipSync } from 'node:zlib';

function cacheDir(): string {
  return process.env.WEBGRAD_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'webgrad');
}

export async function readCached(name: string): Promise<string | null> {
  try {
    return await readFile(join(cacheDir(), name), 'utf8');
  } catch {
    return null;
  }
}

export async function writeCached(name: string, text: string): Promise<void> {
  const dir = cacheDir();
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

// Compression for datasets (gzipped IDX) and reports (PNG's zlib stream), done by node:zlib.
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const out = gunzipSync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** zlib-wrapped deflate (RFC 1950), the format PNG's IDAT chunks hold. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const out = deflateSync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
