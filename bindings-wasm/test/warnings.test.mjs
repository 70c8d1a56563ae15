// The core's one-time warnings reach console.warn (stderr does not exist on wasm32), once per
// process, while every case is counted. Its own file: the warning is said once per process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capture, init, load, stats } from 'userspan-wasm';

test('the first truncation is warned about through console.warn, later ones only counted', async () => {
  await load();
  init({ exporter: 'memory' });
  const warned = [];
  const orig = console.warn;
  console.warn = (...args) => warned.push(args.join(' '));
  try {
    const before = stats().valuesTruncated;
    for (let i = 0; i < 3; i++) capture('long-id', () => {}, { userId: 'x'.repeat(300) });
    assert.equal(stats().valuesTruncated - before, 3);
  } finally {
    console.warn = orig;
  }
  assert.equal(warned.length, 1, JSON.stringify(warned));
  assert.match(warned[0], /`userId` was longer than 256 characters and was truncated/);
});
