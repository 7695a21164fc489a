// Browser edge for small persistent state: kept in memory for the page's lifetime.
const memory = new Map<string, string>();

export async function readCached(name: string): Promise<string | null> {
  return memory.get(name) ?? null;
}

export async function writeCached(name: string, text: string): Promise<void> {
  memory.set(name, text);
}

// Compression streams: 'gzip' reads gzipped IDX, 'deflate' is the zlib format PNG's IDAT chunks hold.
/** Inflates as the caller pulls (streams are pull-based), so stopping early stops the inflating, as in Node. */
export async function* gunzipChunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  const reader = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip') as ReadableWritablePair<Uint8Array, Uint8Array>).getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      yield next.value;
    }
    done = true;
  } finally {
    // A caller that stopped early leaves the rest of the inflation undone: cancel it.
    if (!done) await reader.cancel();
  }
}

export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const piped = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('deflate') as ReadableWritablePair<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}
