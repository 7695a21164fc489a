// A tiny PNG-folder dataset (root/<class>/<i>.png) for end-to-end runs of the scripts: class c is a
// bright horizontal band in the c-th slice of the image over faint seeded noise, so a small model
// learns it in a few epochs.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../../src/report/png.ts';
import { rng } from './random.ts';

export async function writeBandFolder(options: { classes: string[]; perClass: number; seed: number; size?: number }): Promise<string> {
  const size = options.size ?? 28;
  const root = mkdtempSync(join(tmpdir(), 'webgrad-bands-'));
  const next = rng(options.seed);
  const bandHeight = Math.ceil(size / options.classes.length);
  for (const [c, name] of options.classes.entries()) {
    mkdirSync(join(root, name));
    for (let i = 0; i < options.perClass; i++) {
      const pixels = new Uint8Array(size * size).map((_, p) => (Math.floor(Math.floor(p / size) / bandHeight) === c ? 255 : Math.floor(next() * 30)));
      writeFileSync(join(root, name, `${i}.png`), await encodePng(pixels, size, size));
    }
  }
  return root;
}
