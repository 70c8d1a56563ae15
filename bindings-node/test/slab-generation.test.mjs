// A sync capture's native slot is reused as soon as the capture ends. Work a capture left running
// (a timer, an unawaited promise, a callback bound to its context) must still see that capture's
// user when it runs while, or after, another user's capture took the same slot; and a slot id kept
// from the ended capture must never resolve to the capture that holds its slot now (src/frame.rs:
// slot ids carry a generation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncResource } from 'node:async_hooks';
import { createRequire } from 'node:module';

// The package's own addon (Node caches it by path: the instance the package uses).
const native = createRequire(import.meta.url)('../native/userspan.node');
const { init, capture, getAttributes, getFinishedSpans, clearFinishedSpans } = await import('userspan');
init({ exporter: 'memory' });

const byName = () => Object.fromEntries(getFinishedSpans().map((s) => [s.name, s]));
const tick = () => new Promise((r) => setTimeout(r, 5));

test("work left running by user A's capture keeps user A after user B's capture took A's slot", async () => {
  clearFinishedSpans();
  assert.equal(native.openSlots(), 0);
  const seen = {};
  let bound;
  let done;
  const settled = new Promise((r) => (done = r));
  let pending = 2;
  const finish = () => --pending === 0 && done();
  capture(
    'turn-a',
    () => {
      setTimeout(() => {
        seen.timer = getAttributes().userId;
        capture('a-timer', () => {});
        finish();
      }, 1);
      // Unawaited: runs after turn-a and turn-b returned.
      Promise.resolve().then(() => {
        seen.promise = getAttributes().userId;
        capture('a-promise', () => {});
        finish();
      });
      bound = AsyncResource.bind(() => {
        seen.bound = getAttributes().userId;
        capture('a-bound', () => {});
      });
    },
    { userId: 'user-a', sessionId: 'session-a' },
  );
  assert.equal(native.openSlots(), 0, "turn-a's slot is free");
  capture(
    'turn-b',
    () => {
      assert.equal(native.openSlots(), 1, "turn-b holds the one slot, turn-a's");
      // A's bound callback runs while B holds A's old slot.
      bound();
      seen.inB = getAttributes().userId;
    },
    { userId: 'user-b', sessionId: 'session-b' },
  );
  await settled;
  await tick();
  assert.deepEqual(seen, { timer: 'user-a', promise: 'user-a', bound: 'user-a', inB: 'user-b' });
  const spans = byName();
  const a = spans['turn-a'];
  for (const name of ['a-timer', 'a-promise', 'a-bound']) {
    const s = spans[name];
    assert.ok(s, `${name} was exported`);
    assert.equal(s.attributes['user.id'], 'user-a', `${name} carries user A`);
    assert.equal(s.attributes['session.id'], 'session-a', `${name} carries A's session`);
    assert.equal(s.traceId, a.traceId, `${name} is in A's trace`);
    assert.equal(s.parentSpanId, a.spanId, `${name} is a child of turn-a`);
  }
  assert.equal(spans['turn-b'].attributes['user.id'], 'user-b');
  assert.notEqual(spans['turn-b'].traceId, a.traceId);
  assert.equal(native.openSlots(), 0);
});

// The slot ids the TypeScript layer gets from `startSlot`, used after their capture ended (what a
// slip in frame.ts, or any stale copy of an id, would pass to the addon).
test('a stale slot id resolves to no frame, never to the capture that took its slot since', () => {
  clearFinishedSpans();
  const names = native.optionNames();
  const args = (userId) => {
    const v = new Array(names.length);
    v[names.indexOf('userId')] = userId;
    return [1 << names.indexOf('userId'), ...v];
  };
  const a = native.startSlot('slot-a', undefined, undefined, undefined, undefined, ...args('user-a'));
  assert.equal(native.frameAttributes(a).userId, 'user-a');
  native.endSlot(a);
  const b = native.startSlot('slot-b', undefined, undefined, undefined, undefined, ...args('user-b'));
  assert.equal(native.openSlots(), 1, 'slot-b took the freed slot');
  assert.equal(native.frameAttributes(b).userId, 'user-b');

  assert.deepEqual(native.frameAttributes(a), {}, "A's stale id has no attributes (not B's)");
  assert.equal(native.spanIds(a), null, "A's stale id has no span (not B's)");
  assert.notEqual(b, a, 'the reused slot has a new id');
  const child = native.scopeIdx(a);
  assert.deepEqual(native.frameAttributes(child), {}, "a scope in A's stale id inherits nothing of B's");
  const started = native.startIdx('child-of-stale', a, undefined, undefined, undefined);
  native.end(started);
  native.endSlot(a);
  native.endSlotError(a, 'Error', 'stale', undefined);
  assert.equal(native.openSlots(), 1, "ending A's stale id leaves B's slot alone");
  assert.equal(
    getFinishedSpans().some((s) => s.name === 'slot-b'),
    false,
    "ending A's stale id did not end B's span",
  );
  native.endSlot(b);
  assert.equal(native.openSlots(), 0);
  const spans = byName();
  assert.equal(spans['slot-b'].attributes['user.id'], 'user-b');
  assert.equal(spans['slot-b'].status.code, 'UNSET', "B's span was not ended with A's error");
  assert.equal(spans['child-of-stale'].attributes['user.id'], undefined, 'a span started in a stale id is not B');
  assert.equal(spans['child-of-stale'].parentSpanId, null, 'nor parented on B');
});
