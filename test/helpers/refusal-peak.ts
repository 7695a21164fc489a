// Run as a child process by test/robustness/bombs.test.ts: `node --import tsx refusal-peak.ts KIND FILE`.
// Reads FILE, decodes it as KIND, and prints one JSON line: the error message (or null) and how far
// the process's peak resident memory rose during the decoding. A fresh process has no earlier peak
// above what it holds, so the rise is the decoding's own cost, synchronous or not.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { decodeIdx } from '../../src/data/idx.ts';
import { readGrayPng } from '../../src/node/image-folder.ts';
import { decodeSafetensors } from '../../src/io/safetensors.ts';
import * as browser from '../../src/platform/browser.ts';

const MiB = 1024 * 1024;

const decoders: Record<string, (path: string, bytes: Uint8Array) => Promise<unknown>> = {
  idx: (path, bytes) => decodeIdx(path, bytes),
  png: async (path) => readGrayPng(path, { height: 28, width: 28 }),
  safetensors: async (path, bytes) => decodeSafetensors(bytes, path),
  /** Pulls one MiB from the browser edge's inflater, then stops. */
  'browser-gunzip': async (_, bytes) => {
    let inflated = 0;
    for await (const chunk of browser.gunzipChunks(bytes)) {
      inflated += chunk.length;
      if (inflated > MiB) throw new Error(`stopped after ${inflated} bytes`);
    }
  },
  /** The control: what inflating the whole archive costs. */
  'unbounded-gunzip': async (_, bytes) => gunzipSync(bytes).length,
};

const [kind, path] = process.argv.slice(2) as [string, string];
const bytes = new Uint8Array(await readFile(path));
const before = process.resourceUsage().maxRSS * 1024;
let message: string | null = null;
try {
  await decoders[kind]!(path, bytes);
} catch (error) {
  message = (error as Error).message;
}
console.log(JSON.stringify({ message, peakGrowth: process.resourceUsage().maxRSS * 1024 - before }));
