// Scripts, benchmarks, examples and the browser demo are written as a user would write them: they may
// import the library only through its public entry points, 'webgrad' and 'webgrad/node'.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const CONSUMERS = ['scripts', 'bench', 'web', 'examples'];

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return []; }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'results' ? [] : sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [path] : [];
  });
}

/** Module specifiers of static imports, dynamic imports and re-exports. */
function importedSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

const reachesIntoSrc = (specifier: string) => /(^|\/)src(\/|$)/.test(specifier) || /^webgrad\/(?!node$)/.test(specifier);

describe('public API boundary', () => {
  it('finds deep imports when there are some', () => {
    const specifiers = importedSpecifiers("import { gemm } from '../src/kernels/gemm.ts';\nimport { fit } from 'webgrad';\nconst m = await import('webgrad/src/index.ts');\n");
    expect(specifiers.filter(reachesIntoSrc)).toEqual(['../src/kernels/gemm.ts', 'webgrad/src/index.ts']);
  });

  it('scripts, bench, web and examples import only webgrad and webgrad/node', () => {
    const files = CONSUMERS.flatMap((dir) => sourceFiles(join(root, dir)));
    expect(files.length).toBeGreaterThan(20);
    const offenders = files.flatMap((file) => importedSpecifiers(readFileSync(file, 'utf8')).filter(reachesIntoSrc).map((s) => `${relative(root, file)}: ${s}`));
    expect(offenders).toEqual([]);
  });
});
