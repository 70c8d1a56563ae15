// A real browser: headless Debian Chromium driven by playwright-core loads the web build (ES
// module glue + .wasm fetched from a static server on 127.0.0.1), captures for two users, flushes
// with fetch to `userspan serve` on another port (CORS), and the receiver's API shows both users.
// Also checks what context isolation browsers get (sync mode, see README) and the example page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { api, pkg, repo, receiverBinary, startReceiver, waitUsers } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  chromium = undefined;
}
const found = receiverBinary();
const skip =
  found.skip ||
  (!existsSync(CHROMIUM) && `${CHROMIUM} not found (apt-get install chromium)`) ||
  (!chromium && 'playwright-core is not installed (npm install)') ||
  (!existsSync(join(pkg, 'pkg', 'web', 'userspan_wasm_bg.wasm')) && 'the web build is missing (npm run build)');
if (skip) console.error(`\n!!! SKIPPING the browser test: ${skip} !!!\n`);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Serves the package folder (js/, pkg/web/, test/browser/) read-only on 127.0.0.1. */
function staticServer(root) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep) || !/^\/(js|pkg\/web|test\/browser)\//.test(path)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

let browser;
const servers = [];
const receivers = [];
before(async () => {
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  await browser?.close();
  for (const s of servers) await new Promise((r) => s.close(r));
  await Promise.all(receivers.map((r) => r.stop()));
});

async function openPage(url) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => window.userspanResult || window.userspanError, null, { timeout: 30000 });
  const error = await page.evaluate(() => window.userspanError);
  assert.equal(error, undefined, `page failed: ${error}\n${errors.join('\n')}`);
  const result = await page.evaluate(() => window.userspanResult);
  await page.close();
  return { result, errors };
}

test('headless Chromium: the web build captures two users, flushes with fetch, the receiver shows both', {
  skip,
  timeout: 120000,
}, async () => {
  const receiver = await startReceiver(found.bin);
  receivers.push(receiver);
  const server = await staticServer(pkg);
  servers.push(server);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const { result } = await openPage(`${origin}/test/browser/page.html?endpoint=${encodeURIComponent(receiver.base)}`);

  // Before load(): the function ran untouched.
  assert.equal(result.beforeLoad, 'ran');
  // Browsers have no AsyncLocalStorage: the synchronous stack.
  assert.equal(result.contextMode, 'sync');
  // Isolated: synchronous code of each capture, and ctx.run() after an await. Not propagated:
  // plain code after an await sees no scope — never the other user's.
  assert.deepEqual(result.seen, {
    'u-a': { sync: 'u-a', afterAwait: null, viaRun: 'u-a' },
    'u-b': { sync: 'u-b', afterAwait: null, viaRun: 'u-b' },
  });
  assert.deepEqual(result.nested, { userId: 'outer', tags: ['a', 'b'] });
  assert.deepEqual(result.outside, {});
  assert.deepEqual(result.badInput, {
    name: 'UserspanValueError',
    range: true,
    field: 'userIdType',
    code: 'USERSPAN_INVALID_VALUE',
  });
  const spans = result.spans;
  for (const u of ['u-a', 'u-b']) {
    const turn = spans.find((s) => s.name === 'turn' && s.userId === u);
    assert.ok(turn, `turn of ${u}`);
    const kids = spans
      .filter((s) => s.parentSpanId === turn.spanId)
      .map((s) => [s.name, s.userId])
      .sort();
    assert.deepEqual(kids, [
      ['child-run', u],
      ['child-sync', u],
    ]);
  }
  const lost = spans.filter((s) => s.name === 'child-lost');
  assert.equal(lost.length, 2);
  for (const s of lost)
    assert.deepEqual([s.parentSpanId, s.userId], [null, null], 'after an await without ctx.run: a new root, no user');
  assert.deepEqual(spans.find((s) => s.name === 'manual').status, 'ERROR');

  assert.equal(result.stats.exportErrors, 0);
  const body = await waitUsers(receiver.base, (b) => b.users.length === 2);
  const byId = Object.fromEntries(body.users.map((u) => [u.user_id, u]));
  assert.deepEqual(Object.keys(byId).sort(), ['ada@example.com', 'u-grace']);
  for (const id of ['ada@example.com', 'u-grace']) {
    assert.equal(byId[id].traces, 1, id);
    assert.equal(byId[id].llm_calls, 1, id);
    assert.equal(byId[id].total_tokens, 15, id);
  }
  assert.equal(byId['ada@example.com'].user_id_type, 'email');
  assert.equal(byId['u-grace'].user_email, 'grace@example.com');
});

test('headless Chromium: the browser example page sends its users to the receiver', {
  skip,
  timeout: 120000,
}, async () => {
  const receiver = await startReceiver(found.bin);
  receivers.push(receiver);
  const { startServer } = await import(join(repo, 'examples', 'wasm', 'serve.mjs'));
  const server = await startServer(0);
  servers.push(server);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const { result } = await openPage(`${origin}/?auto=1&endpoint=${encodeURIComponent(receiver.base)}`);
  assert.equal(result.stats.exportErrors, 0);
  const body = await api(receiver.base, '/api/users?sort=user_id&order=asc');
  assert.deepEqual(
    body.users.map((u) => u.user_id),
    ['ada@example.com', 'u-grace'],
  );
  assert.ok(body.users.every((u) => u.llm_calls === 1));
});
