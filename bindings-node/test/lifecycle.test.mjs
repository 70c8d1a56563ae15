// Process lifecycle: flush at `beforeExit` without touching signal handlers; ESM and CommonJS
// share one instance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('pending spans are flushed at beforeExit; no signal handler is installed', async () => {
  const bodies = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const child = `
    const { init, capture } = require('userspan');
    const before = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
    // A 60 s batch delay: only the beforeExit flush can send the span before the process ends.
    init({ endpoint: 'http://127.0.0.1:${port}', protocol: 'http/json', scheduledDelayMs: 60000 });
    capture('exit-turn', () => {}, { userId: 'u-exit' });
    const after = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
    console.log(JSON.stringify({ before, after }));
  `;
  const { stdout } = await run(process.execPath, ['-e', child], {
    cwd: new URL('..', import.meta.url).pathname,
    timeout: 30000,
  });
  server.close();
  const { before, after } = JSON.parse(stdout.trim());
  assert.deepEqual(after, before, 'signal listeners unchanged');
  assert.ok(bodies.length >= 1, 'the span was exported before exit');
  assert.equal(bodies[0].url, '/v1/traces');
  const text = bodies.map((b) => b.body.toString()).join('\n');
  assert.match(text, /exit-turn/);
  assert.match(text, /u-exit/);
});

test('ESM import and CommonJS require share one module instance', async () => {
  const require = createRequire(import.meta.url);
  const cjs = require('userspan');
  const esm = await import('userspan');
  for (const name of [
    'init',
    'capture',
    'startCapture',
    'withAttributes',
    'withUser',
    'withSession',
    'getAttributes',
    'flush',
    'shutdown',
    'stats',
    'getFinishedSpans',
    'clearFinishedSpans',
    'UserAttributesSpanProcessor',
  ]) {
    assert.equal(typeof esm[name], 'function', name);
    assert.equal(esm[name], cjs[name], `${name} is the same function`);
  }
  assert.equal(esm.default, cjs);
  // A scope opened through one is visible through the other.
  assert.equal(
    cjs.withUser('u-both', () => esm.getAttributes().userId),
    'u-both',
  );
});

test('an abandoned manual capture is ended (and exported) once garbage-collected', async () => {
  const child = `
    const u = require('userspan');
    u.init({ exporter: 'memory' });
    (() => { u.startCapture('abandoned', { userId: 'u-gc' }); })();
    const later = (f) => setTimeout(f, 10);
    later(() => { global.gc(); later(() => { global.gc(); setImmediate(() => console.log(JSON.stringify(u.getFinishedSpans()))); }); });
  `;
  const { stdout } = await run(process.execPath, ['--expose-gc', '-e', child], {
    cwd: new URL('..', import.meta.url).pathname,
    timeout: 30000,
  });
  const spans = JSON.parse(stdout.trim());
  assert.equal(spans.length, 1);
  assert.equal(spans[0].name, 'abandoned');
  assert.equal(spans[0].attributes['user.id'], 'u-gc');
});

test('sync captures free their native slot on every way out; async results move out of it', async () => {
  // The package's own addon (Node caches it by path, so this is the instance the package uses).
  const native = createRequire(import.meta.url)('../native/userspan.node');
  const { capture, startCapture, init, getFinishedSpans, clearFinishedSpans } = await import('userspan');
  init({ exporter: 'memory' });
  clearFinishedSpans();
  assert.equal(native.openSlots(), 0);
  let inside;
  capture('outer', () => capture('inner', () => (inside = native.openSlots()), { sessionId: 's' }), { userId: 'u' });
  assert.equal(inside, 2, 'both sync captures held a slot while running');
  assert.equal(native.openSlots(), 0, 'returned');
  const boom = new Error('boom');
  assert.throws(
    () =>
      capture(
        'threw',
        () => {
          throw boom;
        },
        { userId: 'u' },
      ),
    (e) => e === boom,
  );
  assert.equal(native.openSlots(), 0, 'threw');
  const pending = capture('async', async () => 1, { userId: 'u' });
  assert.equal(native.openSlots(), 0, 'a promise result took its frame out of the slot');
  assert.equal(await pending, 1);
  const iterable = capture(
    'iterable',
    async function* () {
      yield 1;
    },
    { userId: 'u' },
  );
  assert.equal(native.openSlots(), 0, 'an async iterable result took its frame out of the slot');
  for await (const _ of iterable);
  const odd = {
    get then() {
      throw boom;
    },
  };
  assert.throws(
    () => capture('odd', () => odd, { userId: 'u' }),
    (e) => e === boom,
  );
  assert.equal(native.openSlots(), 0, 'a throwing then getter');
  startCapture('manual', { userId: 'u' }).end();
  assert.equal(native.openSlots(), 0, 'startCapture holds no slot');
  const names = getFinishedSpans()
    .map((s) => s.name)
    .sort();
  assert.deepEqual(names, ['async', 'inner', 'iterable', 'manual', 'odd', 'outer', 'threw']);
});
