// The browser bundle must hold nothing Node-only: the import map's `browser` condition has to pick
// the browser edges, and no shared module may reach for Node's globals. Checked two ways: every
// module that went into a bundle (by id and by its source), and the emitted JavaScript itself.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb, repoRoot, type WebBuild } from './build.ts';

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Files and packages that exist only for Node. */
const NODE_ONLY_MODULES = [/\/node_modules\/webgpu\//, /\/src\/gpu\/provider-node\.ts$/, /\/src\/platform\/node\.ts$/, /\/src\/node\//, /\.node$/];

/** Node globals and module loading in source code (comments included: cheap to reword, and rare). */
const NODE_ONLY_SOURCE: [RegExp, string][] = [
  [/\bprocess\s*\.\s*\w/, 'process.'],
  [/\brequire\s*\(/, 'require('],
  [/\b__dirname\b|\b__filename\b/, '__dirname/__filename'],
  [/\bBuffer\s*\.\s*(from|alloc|concat)\b/, 'Buffer'],
  [/(from|import)\s*\(?\s*['"](node:[\w/]+|fs|fs\/promises|path|zlib|os|url|module|child_process|webgpu)['"]/, 'a Node module import'],
];

/** In emitted chunks: module specifiers and names only Node (or dawn.node) would have. */
const NODE_ONLY_OUTPUT: [RegExp, string][] = [
  [/["'`]node:[a-z_/]+["'`]/, 'a node: specifier'],
  [/\brequire\s*\(\s*["'`]/, 'require()'],
  [/\bimport\s*\(?\s*["'`](fs|path|zlib|os|url|module|child_process|webgpu)["'`]/, 'a Node module import'],
  [/dawn\.node|\bgunzipSync\b|\bdeflateSync\b|\bcreateRequire\b/, 'dawn.node or node:zlib/module API'],
  [/\bprocess\.(env|platform|argv|cwd|exit|versions)\b/, 'process.'],
];

let web: WebBuild;
const shortId = (id: string) => (id.startsWith(repoRoot) ? relative(repoRoot, id) : id);

beforeAll(async () => {
  web = await buildWeb();
}, 120_000);

afterAll(() => {
  if (web) rmSync(web.outDir, { recursive: true, force: true });
});

describe('web bundle', () => {
  it('bundles the library, worker included, through the browser edges', () => {
    const ids = [...web.modules.keys()].map(shortId);
    expect(ids).toContain('src/gpu/provider-browser.ts');
    expect(ids).toContain('src/platform/browser.ts');
    expect(ids).toContain('web/worker.ts');
    expect(ids).toContain('web/lm-worker.ts');
    expect(ids).toContain('web/lm-generation.ts');
    expect(ids).toContain('src/runtime/runtime.ts');
  });

  it('contains no Node-only module', () => {
    // Vite swaps a Node builtin for a stub named "__vite-browser-external:<builtin>" that throws when used.
    const bare = (id: string) => id.replace(/^\0/, '').replace(/^__vite-browser-external:/, '');
    const offenders = [...web.modules.keys()].filter((id) => NODE_BUILTINS.has(bare(id)) || NODE_ONLY_MODULES.some((pattern) => pattern.test(id)));
    expect(offenders.map(shortId)).toEqual([]);
  });

  it('uses no Node globals or Node modules in any bundled source', () => {
    const offenders: string[] = [];
    for (const [id, code] of web.modules) {
      if (id.includes('/node_modules/') || id.startsWith('\0')) continue;
      for (const [pattern, what] of NODE_ONLY_SOURCE) {
        const line = code.split('\n').findIndex((text) => pattern.test(text));
        if (line >= 0) offenders.push(`${shortId(id)}:${line + 1} uses ${what}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('emits JavaScript without Node specifiers, dawn.node or zlib', () => {
    const assets = join(web.outDir, 'assets');
    const chunks = readdirSync(assets).filter((name) => name.endsWith('.js'));
    expect(chunks.some((name) => name.startsWith('worker'))).toBe(true);
    expect(chunks.some((name) => name.startsWith('lm-worker'))).toBe(true);
    const offenders: string[] = [];
    for (const name of chunks) {
      const text = readFileSync(join(assets, name), 'utf8');
      for (const [pattern, what] of NODE_ONLY_OUTPUT) {
        const match = pattern.exec(text);
        if (match) offenders.push(`${name}: ${what} near "${text.slice(Math.max(0, match.index - 40), match.index + 40)}"`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
