// The browser demo: the library's own src/ and shaders, bundled by Vite. The `browser` condition
// (on by default for client builds, workers included) picks the browser edges of `#gpu-provider`
// and `#platform`, so nothing else differs from Node.
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(webRoot, '..');
const MNIST_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/** The first folder holding MNIST's four IDX files, as train-mnist looks for them. */
export function mnistFolder(): string | undefined {
  const candidates = [process.env.WEBGRAD_DATA, join(repoRoot, 'data', 'mnist'), join(repoRoot, '..', 'shared', 'data', 'mnist')];
  return candidates.find((dir): dir is string => !!dir && MNIST_FILES.every((f) => existsSync(join(dir, f))));
}

/** Serves the IDX .gz files as bytes under /data/mnist/ (the page gunzips them itself through #platform). */
function mnistData(): Plugin {
  const serve: Connect.NextHandleFunction = (request, response, next) => {
    const name = request.url?.replace(/^\/data\/mnist\//, '').replace(/\?.*$/, '');
    const folder = mnistFolder();
    if (!name || !request.url?.startsWith('/data/mnist/') || !MNIST_FILES.includes(name)) return next();
    if (!folder) {
      response.statusCode = 404;
      response.end('MNIST not found: put the four IDX .gz files in ./data/mnist (node --import tsx scripts/train-mnist.ts downloads them)');
      return;
    }
    // application/octet-stream, not gzip encoding: the browser must not inflate it on the way in.
    response.setHeader('Content-Type', 'application/octet-stream');
    createReadStream(join(folder, name)).pipe(response);
  };
  return {
    name: 'webgrad-mnist-data',
    configureServer: (server) => { server.middlewares.use(serve); },
    configurePreviewServer: (server) => { server.middlewares.use(serve); },
  };
}

/** The language-model page's sample text: the opening of Moby-Dick, where the LM bench reads it from. */
const SAMPLE_TEXT = [join(repoRoot, 'data', 'text', 'moby-dick.txt'), join(repoRoot, '..', 'shared', 'data', 'text', 'moby-dick.txt')];
/** A few KB: enough for a tiny model to learn spelling from, small enough to paste over. */
const SAMPLE_CHARACTERS = 16_000;

/** Serves the first SAMPLE_CHARACTERS characters of the sample text at /data/text/sample.txt. */
function sampleText(): Plugin {
  const serve: Connect.NextHandleFunction = (request, response, next) => {
    if (request.url?.replace(/\?.*$/, '') !== '/data/text/sample.txt') return next();
    const file = SAMPLE_TEXT.find((path) => existsSync(path));
    if (!file) {
      response.statusCode = 404;
      response.end(`no sample text: put moby-dick.txt in ${SAMPLE_TEXT.join(' or ')}`);
      return;
    }
    response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    response.end([...readFileSync(file, 'utf8')].slice(0, SAMPLE_CHARACTERS).join(''));
  };
  return {
    name: 'webgrad-sample-text',
    configureServer: (server) => { server.middlewares.use(serve); },
    configurePreviewServer: (server) => { server.middlewares.use(serve); },
  };
}

export default defineConfig({
  root: webRoot,
  plugins: [mnistData(), sampleText()],
  // The page imports the library by its package name, as a user's app would; Vite does not resolve a
  // package's own name from inside it, so point it at the entry file.
  resolve: { alias: [{ find: /^webgrad$/, replacement: join(repoRoot, 'src', 'index.ts') }] },
  server: { host: '127.0.0.1', fs: { allow: [repoRoot] } },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  build: {
    outDir: join(repoRoot, 'out', 'web'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: { index: join(webRoot, 'index.html'), kernels: join(webRoot, 'kernels.html'), lm: join(webRoot, 'lm.html') } },
  },
});
