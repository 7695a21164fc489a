// Node edge for small persistent state (autotune results): files under the user's cache directory.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createGunzip, deflateSync } from 'node:zlib';

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
/**
 * Inflates piece by piece as the caller pulls: the stream honours backpressure, so a caller that
 * stops pulling (or breaks out of its loop, which destroys the stream) stops the inflating. That is
 * what keeps a small gzip that expands to gigabytes from ever being held whole.
 */
export async function* gunzipChunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  const stream = createGunzip();
  stream.end(bytes);
  for await (const chunk of stream as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** zlib-wrapped deflate (RFC 1950), the format PNG's IDAT chunks hold. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const out = deflateSync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
