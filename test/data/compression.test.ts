// Both #platform edges, the browser one included: Node 20 has the same Compression Streams API.
import { gzipSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as browser from '../../src/platform/browser.ts';
import * as node from '../../src/platform/node.ts';

const sample = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);

async function gunzipAll(platform: typeof node, bytes: Uint8Array): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of platform.gunzipChunks(bytes)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe.each([['node', node], ['browser', browser]] as const)('%s compression', (_, platform) => {
  it('gunzips what gzip wrote, in pieces', async () => {
    expect(Buffer.from(await gunzipAll(platform, new Uint8Array(gzipSync(sample)))).equals(Buffer.from(sample))).toBe(true);
  });

  it('deflates to a zlib stream that inflates back', async () => {
    const compressed = await platform.deflate(sample);
    expect(compressed[0]! & 0x0f).toBe(8); // zlib header: compression method 8 (deflate), as PNG requires
    expect(Buffer.from(inflateSync(compressed)).equals(Buffer.from(sample))).toBe(true);
  });

  it('rejects corrupt gzip', async () => {
    const corrupt = new Uint8Array(gzipSync(sample));
    corrupt.fill(0, 20, 60);
    await expect(gunzipAll(platform, corrupt)).rejects.toThrow();
  });
});
