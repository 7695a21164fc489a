// Browser edge for small persistent state: kept in memory for the page's lifetime.
const memory = new Map<string, string>();

export async function readCached(name: string): Promise<string | null> {
  return memory.get(name) ?? null;
}

export async function writeCached(name: string, text: string): Promise<void> {
  memory.set(name, text);
}

// Compression streams: 'gzip' reads gzipped IDX, 'deflate' is the zlib format PNG's IDAT chunks hold.
async function throughStream(bytes: Uint8Array, stream: GenericTransformStream): Promise<Uint8Array> {
  const piped = new Blob([bytes as BlobPart]).stream().pipeThrough(stream as ReadableWritablePair<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

export function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  return throughStream(bytes, new DecompressionStream('gzip'));
}

export function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  return throughStream(bytes, new CompressionStream('deflate'));
}
