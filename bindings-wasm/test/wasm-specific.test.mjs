// What the WASM package does differently from the native Node package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  capture,
  ConfigError,
  init,
  contextMode,
  load,
  stats,
  setContextStorage,
  getAttributes,
  withAttributes,
} from 'userspan-wasm';

test('Node entry: loaded at import, AsyncLocalStorage context', async () => {
  await load();
  assert.equal(contextMode(), 'async-local-storage');
});

test('only http/protobuf: other protocols are a configuration error; nothing changes', () => {
  init({ exporter: 'memory' });
  assert.throws(
    () => init({ protocol: 'http/json' }),
    (e) =>
      e instanceof ConfigError && e.code === 'USERSPAN_CONFIG' && e.field === null && /http\/protobuf/.test(e.message),
  );
  assert.throws(
    () => init({ protocol: 'grpc' }),
    (e) => e.code === 'USERSPAN_CONFIG',
  );
  assert.throws(
    () => init({ endpoint: 'ftp://x' }),
    (e) => e.code === 'USERSPAN_CONFIG',
  );
  assert.throws(
    () => init('endpoint=x'),
    (e) => e instanceof TypeError && e.field === 'options',
  );
});

test('console exporter: one JSON line per span through console.log', () => {
  const lines = [];
  const orig = console.log;
  console.log = (s) => lines.push(s);
  try {
    init({ exporter: 'console', serviceName: 'console-test' });
    capture('printed', () => {}, { userId: 'u-console' });
  } finally {
    console.log = orig;
  }
  const span = JSON.parse(lines.find((l) => l.includes('"printed"')));
  assert.equal(span.name, 'printed');
  assert.equal(span.attributes['user.id'], 'u-console');
  assert.equal(span.resource['service.name'], 'console-test');
});

test('the synchronous stack (browser mode) isolates sync code and ctx.run, never leaks another scope', async () => {
  init({ exporter: 'none' });
  setContextStorage(undefined);
  try {
    assert.equal(contextMode(), 'sync');
    const seen = await Promise.all(
      ['a', 'b'].map((u) =>
        capture(
          't',
          async (ctx) => {
            const sync = getAttributes().userId;
            await null;
            return [sync, getAttributes().userId ?? null, ctx.run(() => getAttributes().userId)];
          },
          { userId: u },
        ),
      ),
    );
    assert.deepEqual(seen, [
      ['a', null, 'a'],
      ['b', null, 'b'],
    ]);
    assert.equal(
      withAttributes({ userId: 'x' }, () => getAttributes().userId),
      'x',
    );
    assert.deepEqual(getAttributes(), {});
  } finally {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    setContextStorage(new AsyncLocalStorage());
  }
  assert.equal(contextMode(), 'async-local-storage');
  assert.equal(typeof stats().spansStarted, 'number');
});
