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
  const { stdout } = await run(process.execPath, ['-e', child], { cwd: new URL('..', import.meta.url).pathname, timeout: 30000 });
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
  for (const name of ['init', 'capture', 'startCapture', 'withAttributes', 'withUser', 'withSession', 'getAttributes', 'flush', 'shutdown', 'stats', 'getFinishedSpans', 'clearFinishedSpans', 'UserAttributesSpanProcessor']) {
    assert.equal(typeof esm[name], 'function', name);
    assert.equal(esm[name], cjs[name], `${name} is the same function`);
  }
  assert.equal(esm.default, cjs);
  // A scope opened through one is visible through the other.
  assert.equal(cjs.withUser('u-both', () => esm.getAttributes().userId), 'u-both');
});

test('an abandoned manual capture is ended (and exported) once garbage-collected', async () => {
  const child = `
    const u = require('userspan');
    u.init({ exporter: 'memory' });
    (() => { u.startCapture('abandoned', { userId: 'u-gc' }); })();
    const later = (f) => setTimeout(f, 10);
    later(() => { global.gc(); later(() => { global.gc(); setImmediate(() => console.log(JSON.stringify(u.getFinishedSpans()))); }); });
  `;
  const { stdout } = await run(process.execPath, ['--expose-gc', '-e', child], { cwd: new URL('..', import.meta.url).pathname, timeout: 30000 });
  const spans = JSON.parse(stdout.trim());
  assert.equal(spans.length, 1);
  assert.equal(spans[0].name, 'abandoned');
  assert.equal(spans[0].attributes['user.id'], 'u-gc');
});
