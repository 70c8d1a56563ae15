// A tiny static server for the browser example: the page (index.html) and the userspan-wasm
// package (its js/ and pkg/web/ folders) on http://127.0.0.1:8080/. Nothing else is served.
//
//   node serve.mjs [--port 8080]      then open http://127.0.0.1:8080/?endpoint=http://127.0.0.1:4318
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..', '..', 'bindings-wasm');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Maps a URL path to a file: `/` → index.html, `/userspan-wasm/(js|pkg/web)/...` → the package. */
function resolve(path) {
  if (path === '/' || path === '/index.html') return join(here, 'index.html');
  const m = path.match(/^\/userspan-wasm\/((?:js|pkg\/web)\/[A-Za-z0-9_.\-/]+)$/);
  if (!m) return undefined;
  const file = normalize(join(pkg, m[1]));
  return file.startsWith(pkg + sep) ? file : undefined;
}

export function startServer(port = 8080, host = '127.0.0.1') {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    const file = resolve(path);
    try {
      if (!file) throw new Error('not found');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((r) => server.listen(port, host, () => r(server)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  const server = await startServer(port);
  console.log(`serving the userspan-wasm browser example on http://127.0.0.1:${server.address().port}/`);
}
