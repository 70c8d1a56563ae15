// Frame lifetime: core frames are freed once their JS handles are garbage collected (never
// while a callback registered inside a capture can still run), and a trap-free core stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { capture, withAttributes, init, getFinishedSpans, clearFinishedSpans, getAttributes } from 'userspan-wasm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const native = createRequire(import.meta.url)('../pkg/node/userspan_wasm.js');

async function collect() {
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(10);
  }
}

test('frames are freed after their handles are collected', async () => {
  init({ exporter: 'none' });
  await collect();
  const base = native.liveFrames();
  for (let i = 0; i < 5000; i++) {
    capture('c', () => withAttributes({ tags: ['t'] }, () => capture('inner', () => {})), { userId: `u-${i}` });
  }
  assert.ok(native.liveFrames() > base, 'frames exist before collection');
  await collect();
  assert.ok(native.liveFrames() - base < 50, `frames left after GC: ${native.liveFrames() - base}`);
});

test('a timer registered inside a capture keeps its frame across GC, after the capture ended', async () => {
  init({ exporter: 'memory' });
  clearFinishedSpans();
  let fire;
  const fired = new Promise((r) => (fire = r));
  capture(
    'parent',
    () => {
      setTimeout(() => fire(capture('late-child', () => getAttributes().userId)), 50);
    },
    { userId: 'u-late' },
  );
  await collect();
  assert.equal(await fired, 'u-late');
  const spans = getFinishedSpans();
  const parent = spans.find((s) => s.name === 'parent');
  const child = spans.find((s) => s.name === 'late-child');
  assert.equal(child.parentSpanId, parent.spanId);
  assert.equal(child.attributes['user.id'], 'u-late');
});
