// Per-capture cost in headless Chromium (web build): userspan-wasm `capture` (exporter "none")
// vs bare OpenTelemetry JS (WebTracerProvider, StackContextManager, BatchSpanProcessor → no-op).
//   (cd .. && npm run build:release) && npm install && node browser.mjs
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const otel = (
  await build({
    entryPoints: [join(root, 'bench', 'otel-web-bench-entry.js')],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
  })
).outputFiles[0].text;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/bench/otel-web-bench.js')
    return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(otel);
  if (!/^\/(js|pkg\/web|bench)\/[\w.-]+$|^\/pkg\/web\/[\w.-]+$/.test(path)) return void res.writeHead(404).end();
  try {
    res
      .writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' })
      .end(await readFile(join(root, path)));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/bench/browser.html?iter=${process.env.ITER ?? 100000}`);
  await page.waitForFunction(() => window.benchResult, null, { timeout: 300000, polling: 500 });
  const r = await page.evaluate(() => window.benchResult);
  console.log(r.userAgent);
  for (const [k, v] of Object.entries(r))
    if (k !== 'userAgent') console.log(`${k.padEnd(10)} ${v.toFixed(2)} µs/call (median of 5)`);
} finally {
  await browser.close();
  server.close();
}
