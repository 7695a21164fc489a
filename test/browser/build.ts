// Builds the web demo (web/vite.config.ts) into a fresh temporary folder, recording every module
// that went into any bundle, the worker's included, with its source before Vite's own rewrites.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'vite';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const viteConfig = join(repoRoot, 'web', 'vite.config.ts');

export interface WebBuild {
  outDir: string;
  /** Module id → its source as loaded (before define replacements and minification). */
  modules: Map<string, string>;
}

export async function buildWeb(): Promise<WebBuild> {
  const outDir = mkdtempSync(join(tmpdir(), 'webgrad-web-'));
  const modules = new Map<string, string>();
  const record = (): Plugin => ({
    name: 'record-modules',
    enforce: 'pre',
    transform(code, id) { modules.set(id, code); },
    // Ids that never reach transform (externals, Node builtins) still show up in the graph.
    buildEnd() { for (const id of this.getModuleIds()) if (!modules.has(id)) modules.set(id, ''); },
  });
  await build({ configFile: viteConfig, logLevel: 'warn', plugins: [record()], worker: { plugins: () => [record()] }, build: { outDir, emptyOutDir: true } });
  return { outDir, modules };
}
