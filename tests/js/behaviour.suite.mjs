// The JS packages' shared behaviour suite (userspan on napi-rs, userspan-wasm): capture and scopes in
// JS terms — sync, async, thenables, async iterables, errors, concurrency, async context propagation,
// bad input, truncation, manual captures, flush/shutdown. Each package's test file runs it against
// its own build, so both packages are held to the same behaviour.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Registers the suite against a package's public API (the module namespace of `userspan` or `userspan-wasm`). */
export function behaviourSuite(api) {
  const {
    capture,
    startCapture,
    withAttributes,
    withUser,
    withSession,
    getAttributes,
    init,
    flush,
    shutdown,
    stats,
    getFinishedSpans,
    clearFinishedSpans,
  } = api;

  beforeEach(() => {
    init({ exporter: 'memory', serviceName: 'behaviour-tests' });
    clearFinishedSpans();
  });

  const spanNamed = (name) => {
    const s = getFinishedSpans().filter((x) => x.name === name);
    assert.equal(s.length, 1, `exactly one span ${name}, got ${s.length}`);
    return s[0];
  };

  test('sync fn: value returned unchanged, span ended, attributes stamped on span and children', () => {
    const obj = { answer: 42 };
    const out = capture(
      'support-agent-turn',
      () => {
        capture('llm', () => {});
        return obj;
      },
      { userId: 'u-1', userEmail: 'ada@example.com', sessionId: 's-1' },
    );
    assert.equal(out, obj);
    const turn = spanNamed('support-agent-turn');
    const llm = spanNamed('llm');
    assert.deepEqual(turn.attributes, { 'user.id': 'u-1', 'user.email': 'ada@example.com', 'session.id': 's-1' });
    assert.deepEqual(llm.attributes, turn.attributes);
    assert.equal(llm.parentSpanId, turn.spanId);
    assert.equal(llm.traceId, turn.traceId);
    assert.equal(turn.parentSpanId, null);
    assert.match(turn.traceId, /^[0-9a-f]{32}$/);
    assert.match(turn.spanId, /^[0-9a-f]{16}$/);
    assert.ok(BigInt(turn.endTimeUnixNano) >= BigInt(turn.startTimeUnixNano));
    assert.equal(turn.resource['service.name'], 'behaviour-tests');
  });

  test('async fn: returns a Promise; the span ends when it settles', async () => {
    let release;
    const gate = new Promise((r) => (release = r));
    const p = capture(
      'slow',
      async () => {
        await gate;
        return 'done';
      },
      { userId: 'u-async' },
    );
    assert.ok(p instanceof Promise);
    await sleep(5);
    assert.equal(getFinishedSpans().length, 0, 'span must still be open');
    release();
    assert.equal(await p, 'done');
    assert.equal(spanNamed('slow').attributes['user.id'], 'u-async');
  });

  test('fn receives a CaptureContext: the span ids, and ctx.run re-enters the scope, also after the span ended', () => {
    let ctx;
    const out = capture(
      'with-ctx',
      (c) => {
        ctx = c;
        return c.run(() => getAttributes().userId);
      },
      { userId: 'u-ctx' },
    );
    assert.equal(out, 'u-ctx');
    const span = spanNamed('with-ctx');
    assert.ok(ctx instanceof api.CaptureContext);
    assert.equal(ctx.traceId, span.traceId);
    assert.equal(ctx.spanId, span.spanId);
    assert.deepEqual(getAttributes(), {});
    assert.equal(
      ctx.run(() => capture('after-end', () => getAttributes().userId)),
      'u-ctx',
    );
    assert.equal(spanNamed('after-end').parentSpanId, span.spanId);
    assert.throws(
      () => ctx.run('not a function'),
      (e) => e instanceof api.UserspanTypeError && e.field === 'fn',
    );
  });

  test('thenable result: a Promise is returned and the span ends when the thenable settles', async () => {
    let resolveIt;
    const thenable = {
      then(onOk, onErr) {
        return new Promise((r) => (resolveIt = r)).then(onOk, onErr);
      },
    };
    const p = capture('thenable', () => thenable, { userId: 'u-t' });
    assert.ok(p instanceof Promise);
    await sleep(2);
    assert.equal(getFinishedSpans().length, 0);
    resolveIt(7);
    assert.equal(await p, 7);
    assert.equal(spanNamed('thenable').status.code, 'UNSET');
  });

  test('thrown Error is recorded and re-thrown as the same object (sync and async)', async () => {
    const err = new TypeError('bad thing');
    assert.throws(
      () =>
        capture('sync-fail', () => {
          throw err;
        }),
      (e) => e === err,
    );
    const err2 = new Error('async bad');
    await assert.rejects(
      capture('async-fail', async () => {
        await null;
        throw err2;
      }),
      (e) => e === err2,
    );
    const s = spanNamed('sync-fail');
    assert.equal(s.status.code, 'ERROR');
    assert.equal(s.status.message, 'bad thing');
    assert.equal(s.attributes['error.type'], 'TypeError');
    const ev = s.events.find((e) => e.name === 'exception');
    assert.equal(ev.attributes['exception.type'], 'TypeError');
    assert.equal(ev.attributes['exception.message'], 'bad thing');
    assert.match(ev.attributes['exception.stacktrace'], /bad thing/);
    assert.equal(spanNamed('async-fail').attributes['error.type'], 'Error');
  });

  test('a result whose `then` getter throws: the span ends with that error and it is re-thrown', () => {
    const boom = new Error('then getter');
    const result = {
      get then() {
        throw boom;
      },
    };
    assert.throws(
      () => capture('odd-result', () => result, { userId: 'u-odd' }),
      (e) => e === boom,
    );
    const s = spanNamed('odd-result');
    assert.equal(s.status.code, 'ERROR');
    assert.equal(s.attributes['error.type'], 'Error');
    assert.equal(s.events[0].attributes['exception.message'], 'then getter');
  });

  test('non-Error thrown values are re-thrown unchanged; error.type names their JS type', async () => {
    const obj = { code: 42 };
    assert.throws(
      () =>
        capture('throw-object', () => {
          throw obj;
        }),
      (e) => e === obj,
    );
    assert.throws(
      () =>
        capture('throw-string', () => {
          throw 'oops';
        }),
      (e) => e === 'oops',
    );
    await assert.rejects(
      capture('reject-undefined', () => Promise.reject(undefined)),
      (e) => e === undefined,
    );
    assert.equal(spanNamed('throw-object').attributes['error.type'], 'Object');
    assert.equal(spanNamed('throw-object').status.message, '{"code":42}');
    assert.equal(spanNamed('throw-string').attributes['error.type'], 'string');
    assert.equal(spanNamed('throw-string').status.message, 'oops');
    assert.equal(spanNamed('reject-undefined').attributes['error.type'], 'undefined');
  });

  test('async generator: the span ends when iteration ends; steps run in the scope', async () => {
    const gen = capture(
      'stream',
      async function* () {
        for (let i = 0; i < 3; i++) {
          await sleep(1);
          capture(`chunk-${i}`, () => {});
          yield getAttributes().userId;
        }
      },
      { userId: 'u-stream' },
    );
    assert.equal(getFinishedSpans().length, 0);
    const seen = [];
    for await (const v of gen) {
      seen.push(v);
      assert.equal(
        getFinishedSpans().some((s) => s.name === 'stream'),
        false,
        'not ended mid-iteration',
      );
    }
    assert.deepEqual(seen, ['u-stream', 'u-stream', 'u-stream']);
    const stream = spanNamed('stream');
    for (let i = 0; i < 3; i++) {
      const c = spanNamed(`chunk-${i}`);
      assert.equal(c.parentSpanId, stream.spanId);
      assert.equal(c.attributes['user.id'], 'u-stream');
    }
  });

  test('async iterable: break (return()) ends the span; an error inside ends it with ERROR', async () => {
    let finallyRan = false;
    const gen = capture(
      'broken-off',
      async function* () {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          finallyRan = true;
        }
      },
      { userId: 'u-b' },
    );
    for await (const v of gen) if (v === 2) break;
    assert.ok(finallyRan);
    assert.equal(spanNamed('broken-off').status.code, 'UNSET');

    const boom = new Error('stream failed');
    const failing = capture('stream-fail', async function* () {
      yield 1;
      throw boom;
    });
    await assert.rejects(
      (async () => {
        for await (const _ of failing);
      })(),
      (e) => e === boom,
    );
    const s = spanNamed('stream-fail');
    assert.equal(s.status.code, 'ERROR');
    assert.equal(s.status.message, 'stream failed');

    const manual = capture('manual-return', async function* () {
      yield 1;
      yield 2;
    });
    assert.deepEqual(await manual.next(), { value: 1, done: false });
    assert.deepEqual(await manual.return('early'), { value: 'early', done: true });
    assert.equal(spanNamed('manual-return').status.code, 'UNSET');
  });

  test('async iterable object (not a generator): iterated in scope, other members passed through', async () => {
    class Stream {
      #items = ['a', 'b'];
      label = 'my-stream';
      size() {
        return this.#items.length;
      }
      async *[Symbol.asyncIterator]() {
        for (const x of this.#items) {
          await null;
          yield `${x}:${getAttributes().sessionId}`;
        }
      }
    }
    const s = capture('iterable', () => new Stream(), { sessionId: 'sess-9' });
    assert.equal(s.label, 'my-stream');
    assert.equal(s.size(), 2, 'methods are bound to the original object (private fields work)');
    const out = [];
    for await (const x of s) out.push(x);
    assert.deepEqual(out, ['a:sess-9', 'b:sess-9']);
    assert.equal(spanNamed('iterable').attributes['session.id'], 'sess-9');
  });

  test('Promise.all of captures with different users never mixes them', async () => {
    const n = 40;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        capture(
          `turn-${i}`,
          async () => {
            await sleep(Math.floor(Math.random() * 8));
            const mine = getAttributes().userId;
            await capture(`llm-${i}`, async () => {
              await sleep(Math.floor(Math.random() * 4));
            });
            await null;
            return [mine, getAttributes().userId];
          },
          { userId: `user-${i}`, sessionId: `session-${i}` },
        ),
      ),
    );
    results.forEach(([a, b], i) => {
      assert.equal(a, `user-${i}`);
      assert.equal(b, `user-${i}`);
    });
    for (let i = 0; i < n; i++) {
      const turn = spanNamed(`turn-${i}`);
      const llm = spanNamed(`llm-${i}`);
      assert.equal(llm.parentSpanId, turn.spanId);
      assert.equal(llm.attributes['user.id'], `user-${i}`);
      assert.equal(llm.attributes['session.id'], `session-${i}`);
    }
    assert.deepEqual(getAttributes(), {}, 'nothing leaks outside');
  });

  test('the scope survives await, setTimeout, setImmediate, queueMicrotask, nextTick, promise chains and EventEmitter callbacks', async () => {
    const seen = {};
    await capture(
      'ctx',
      async () => {
        await null;
        seen.await = getAttributes().userId;
        await new Promise((r) =>
          setTimeout(() => {
            seen.setTimeout = getAttributes().userId;
            r();
          }, 1),
        );
        await new Promise((r) =>
          setImmediate(() => {
            seen.setImmediate = getAttributes().userId;
            r();
          }),
        );
        await new Promise((r) =>
          queueMicrotask(() => {
            seen.queueMicrotask = getAttributes().userId;
            r();
          }),
        );
        await new Promise((r) =>
          process.nextTick(() => {
            seen.nextTick = getAttributes().userId;
            r();
          }),
        );
        await Promise.resolve()
          .then(() => sleep(1))
          .then(() => {
            seen.then = getAttributes().userId;
          });
        // An emitter whose events are emitted by work started inside the scope.
        const ee = new EventEmitter();
        ee.on('data', () => {
          seen.emitter = getAttributes().userId;
          capture('from-listener', () => {});
        });
        setTimeout(() => ee.emit('data'), 1);
        await once(ee, 'data');
        // A stream created inside the scope.
        const r = Readable.from(['x']);
        r.on('data', () => (seen.stream = getAttributes().userId));
        await once(r, 'end');
      },
      { userId: 'u-ctx' },
    );
    assert.deepEqual(seen, {
      await: 'u-ctx',
      setTimeout: 'u-ctx',
      setImmediate: 'u-ctx',
      queueMicrotask: 'u-ctx',
      nextTick: 'u-ctx',
      then: 'u-ctx',
      emitter: 'u-ctx',
      stream: 'u-ctx',
    });
    const listener = spanNamed('from-listener');
    assert.equal(listener.attributes['user.id'], 'u-ctx');
    assert.equal(listener.parentSpanId, spanNamed('ctx').spanId);
  });

  test('timers registered inside a scope keep it after the capture has returned', async () => {
    let later;
    const done = new Promise((r) => (later = r));
    capture('fire-and-forget', () => setTimeout(() => later(getAttributes().userId), 5), { userId: 'u-late' });
    assert.deepEqual(getAttributes(), {});
    assert.equal(await done, 'u-late');
  });

  test('work left running by nested sync captures keeps their merged scope and parents on their spans', async () => {
    let fired;
    const done = new Promise((r) => (fired = r));
    const before = stats().valuesTruncated;
    const later = () =>
      setTimeout(() => {
        const seen = getAttributes();
        capture('late-child', () => withAttributes({ tags: ['late'] }, () => capture('late-grandchild', () => {})), {
          sessionId: 's-late',
        });
        fired(seen);
      }, 5);
    capture(
      'outer-turn',
      () =>
        capture('middle', () => capture('inner-step', later, { userEmail: 'ada@example.com' }), {
          sessionId: 's-1',
          userIdHash: undefined,
          userEmail: null,
        }),
      { userId: 'x'.repeat(300) },
    );
    assert.equal(getFinishedSpans().length, 3, 'the three captures ended before the timer fired');
    const seen = await done;
    assert.deepEqual(seen, { userId: 'x'.repeat(256), userEmail: 'ada@example.com', sessionId: 's-1' });
    const outer = spanNamed('outer-turn');
    const middle = spanNamed('middle');
    const inner = spanNamed('inner-step');
    const late = spanNamed('late-child');
    const grandchild = spanNamed('late-grandchild');
    assert.equal(middle.parentSpanId, outer.spanId);
    assert.equal(inner.parentSpanId, middle.spanId);
    assert.equal(late.parentSpanId, inner.spanId);
    assert.equal(grandchild.parentSpanId, late.spanId);
    for (const s of [middle, inner, late, grandchild]) assert.equal(s.traceId, outer.traceId);
    const lateAttributes = { 'user.id': 'x'.repeat(256), 'user.email': 'ada@example.com', 'session.id': 's-late' };
    assert.deepEqual(late.attributes, lateAttributes);
    assert.deepEqual(grandchild.attributes, { ...lateAttributes, 'tag.tags': ['late'] });
    assert.equal(
      stats().valuesTruncated - before,
      1,
      'the over-long id is counted once, however often its scope is used',
    );
  });

  test('work left running by a sync capture that threw still runs in its scope, under its span', async () => {
    let fired;
    const done = new Promise((r) => (fired = r));
    const boom = new Error('boom');
    assert.throws(
      () =>
        capture(
          'failed-turn',
          () => {
            setImmediate(() => fired(capture('cleanup', () => getAttributes())));
            throw boom;
          },
          { userId: 'u-failed' },
        ),
      (e) => e === boom,
    );
    assert.deepEqual(await done, { userId: 'u-failed' });
    const failed = spanNamed('failed-turn');
    assert.equal(failed.status.code, 'ERROR');
    assert.equal(spanNamed('cleanup').parentSpanId, failed.spanId);
    assert.equal(spanNamed('cleanup').traceId, failed.traceId);
    assert.deepEqual(spanNamed('cleanup').attributes, { 'user.id': 'u-failed' });
  });

  test('nested scopes merge and leaving restores the outer scope exactly', () => {
    withAttributes({ userId: 'outer', tags: ['a'], metadata: { k: 1, o: 1 } }, () => {
      withUser({ userId: 'inner', userEmail: 'i@x.io' }, () => {
        withSession('sess', () => {
          capture('deep', () => {}, { tags: ['b', 'a'], metadata: { k: 2 } });
          assert.deepEqual(getAttributes(), {
            userId: 'inner',
            userEmail: 'i@x.io',
            sessionId: 'sess',
            tags: ['a'],
            metadata: { k: 1, o: 1 },
          });
        });
      });
      assert.deepEqual(getAttributes(), { userId: 'outer', tags: ['a'], metadata: { k: 1, o: 1 } });
    });
    assert.deepEqual(getAttributes(), {});
    assert.deepEqual(spanNamed('deep').attributes, {
      'user.id': 'inner',
      'user.email': 'i@x.io',
      'session.id': 'sess',
      'tag.tags': ['a', 'b'],
      metadata: '{"k":2,"o":1}',
    });
    assert.equal(
      withUser('plain-id', () => getAttributes().userId),
      'plain-id',
    );
  });

  test('bad input raises TypeError/RangeError with field and code before fn runs', () => {
    let ran = 0;
    const fn = () => ran++;
    const cases = [
      [{ userid: 'u' }, TypeError, 'USERSPAN_UNKNOWN_OPTION', 'userid'],
      [{ user_id: 'u' }, TypeError, 'USERSPAN_UNKNOWN_OPTION', 'user_id'],
      [{ userId: 42 }, TypeError, 'USERSPAN_INVALID_TYPE', 'userId'],
      [{ userId: 'u', userIdType: 'phone-number' }, RangeError, 'USERSPAN_INVALID_VALUE', 'userIdType'],
      [{ tags: 'vip' }, TypeError, 'USERSPAN_INVALID_TYPE', 'tags'],
      [{ tags: ['a', 1] }, TypeError, 'USERSPAN_INVALID_TYPE', 'tags[1]'],
      [{ metadata: new Map() }, TypeError, 'USERSPAN_INVALID_TYPE', 'metadata'],
      [{ userMetadata: { when: new Date() } }, TypeError, 'USERSPAN_INVALID_TYPE', 'userMetadata.when'],
      [{ attributes: { k: { nested: 1 } } }, TypeError, 'USERSPAN_INVALID_TYPE', 'attributes.k'],
      [{ attributes: { k: () => 1 } }, TypeError, 'USERSPAN_INVALID_TYPE', 'attributes.k'],
      [{ sessionId: 10n }, TypeError, 'USERSPAN_INVALID_TYPE', 'sessionId'],
      ['userId=u', TypeError, 'USERSPAN_INVALID_TYPE', 'options'],
    ];
    for (const [options, cls, code, field] of cases) {
      for (const call of [
        () => capture('never', fn, options),
        () => withAttributes(options, fn),
        () => startCapture('never', options),
      ]) {
        assert.throws(call, (e) => {
          assert.ok(e instanceof cls, `${JSON.stringify(String(options))}: ${e?.constructor?.name} ${e?.message}`);
          assert.equal(e.code, code);
          assert.equal(e.field, field);
          assert.match(e.message, /^userspan: /);
          return true;
        });
      }
    }
    assert.throws(
      () => capture(42, fn),
      (e) => e instanceof TypeError && e.field === 'name',
    );
    assert.throws(
      () => capture('x', 'not a function'),
      (e) => e instanceof TypeError && e.field === 'fn',
    );
    assert.throws(
      () => withAttributes({}, null),
      (e) => e instanceof TypeError && e.field === 'fn',
    );
    assert.equal(ran, 0, 'fn never ran');
    assert.deepEqual(getFinishedSpans(), [], 'no span started');
    assert.throws(
      () => init({ exporter: 'file' }),
      (e) => e instanceof RangeError && e.field === 'exporter',
    );
    assert.throws(
      () => init({ bogus: 1 }),
      (e) => e instanceof TypeError && e.code === 'USERSPAN_UNKNOWN_OPTION',
    );
    assert.throws(
      () => init({ exporter: 'memory', userIdHashing: 'replace' }),
      (e) =>
        e instanceof api.ConfigError &&
        !(e instanceof TypeError) &&
        !(e instanceof RangeError) &&
        e.code === 'USERSPAN_CONFIG' &&
        e.field === null,
    );
  });

  test('errors are one class family: UserspanError, UserspanTypeError, UserspanValueError, ConfigError, with .code', () => {
    const { UserspanError, UserspanTypeError, UserspanValueError, ConfigError } = api;
    const thrown = (fn) => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      assert.fail('expected a throw');
    };
    const check = (e, cls, builtin, code, field) => {
      assert.ok(e instanceof cls, `${e?.constructor?.name}: ${e?.message}`);
      assert.ok(e instanceof UserspanError, 'every userspan error is a UserspanError');
      assert.ok(e instanceof builtin, `still a ${builtin.name}`);
      for (const other of [UserspanTypeError, UserspanValueError, ConfigError]) {
        if (other !== cls) assert.ok(!(e instanceof other), `not a ${other.name}`);
      }
      assert.equal(e.name, cls.name);
      assert.equal(e.code, code);
      assert.equal(e.field, field);
      assert.match(e.message, /^userspan: /);
      assert.match(e.stack, new RegExp(cls.name));
    };
    // From the core (the message is the core's, unchanged).
    check(
      thrown(() => capture('never', () => {}, { userid: 'u' })),
      UserspanTypeError,
      TypeError,
      'USERSPAN_UNKNOWN_OPTION',
      'userid',
    );
    check(
      thrown(() => withAttributes({ userId: 42 }, () => {})),
      UserspanTypeError,
      TypeError,
      'USERSPAN_INVALID_TYPE',
      'userId',
    );
    check(
      thrown(() => startCapture('never', { userIdType: 'phone-number' })),
      UserspanValueError,
      RangeError,
      'USERSPAN_INVALID_VALUE',
      'userIdType',
    );
    check(
      thrown(() => init({ exporter: 'file' })),
      UserspanValueError,
      RangeError,
      'USERSPAN_INVALID_VALUE',
      'exporter',
    );
    check(
      thrown(() => init({ exporter: 'memory', userIdHashing: 'replace' })),
      ConfigError,
      Error,
      'USERSPAN_CONFIG',
      null,
    );
    const h = startCapture('manual');
    check(
      thrown(() => h.setAttribute('bad', { nested: 1 })),
      UserspanTypeError,
      TypeError,
      'USERSPAN_INVALID_TYPE',
      'attributes.bad',
    );
    h.end();
    // From the JS layer's own argument checks.
    check(
      thrown(() => capture(42, () => {})),
      UserspanTypeError,
      TypeError,
      'USERSPAN_INVALID_TYPE',
      'name',
    );
    check(
      thrown(() => withUser(7, () => {})),
      UserspanTypeError,
      TypeError,
      'USERSPAN_INVALID_TYPE',
      'user',
    );
    // Other errors are not userspan's; the classes are usable by apps (e.g. in their own tests).
    assert.ok(!(new Error('x') instanceof UserspanError));
    assert.ok(!(new TypeError('x') instanceof UserspanError));
    assert.ok(!(new RangeError('x') instanceof UserspanTypeError));
    const own = new UserspanValueError('userspan: made here', 'USERSPAN_INVALID_VALUE', 'f');
    assert.ok(own instanceof UserspanError && own instanceof RangeError && own.field === 'f');
    assert.ok(new ConfigError('userspan: made here') instanceof UserspanError);
  });

  test('over-long ids are truncated to 256 characters and counted, never thrown', () => {
    const before = stats().valuesTruncated;
    capture('long', () => {}, { userId: 'x'.repeat(300), sessionId: 's'.repeat(1000) });
    const s = spanNamed('long');
    assert.equal(s.attributes['user.id'], 'x'.repeat(256));
    assert.equal(s.attributes['session.id'], 's'.repeat(256));
    assert.equal(stats().valuesTruncated - before, 2);
  });

  test('options: null/undefined/"" mean unset; attributes keep their JS types', () => {
    capture('typed', () => {}, {
      userId: 'u',
      userEmail: '',
      sessionId: null,
      userIdType: undefined,
      attributes: { int: 3, float: 0.25, flag: false, list: ['a'], nums: [1, 2.5], none: null },
    });
    assert.deepEqual(spanNamed('typed').attributes, {
      'user.id': 'u',
      int: 3,
      float: 0.25,
      flag: false,
      list: ['a'],
      nums: [1, 2.5],
    });
    capture('no-options', () => {});
    assert.deepEqual(spanNamed('no-options').attributes, {});
  });

  test('startCapture: manual end, end(error) records it, end is idempotent, run() opens the scope', () => {
    const h = startCapture('manual', { userId: 'u-m' });
    assert.match(h.traceId, /^[0-9a-f]{32}$/);
    assert.match(h.spanId, /^[0-9a-f]{16}$/);
    const v = h.run(() => {
      capture('inside', () => {});
      return getAttributes().userId;
    });
    assert.equal(v, 'u-m');
    assert.deepEqual(getAttributes(), {});
    assert.equal(getFinishedSpans().length, 1, 'only the child has ended');
    h.end(new RangeError('nope'));
    h.end();
    const m = spanNamed('manual');
    assert.equal(m.status.code, 'ERROR');
    assert.equal(m.attributes['error.type'], 'RangeError');
    assert.equal(spanNamed('inside').parentSpanId, m.spanId);
    assert.equal(m.spanId, h.spanId);
    const ok = startCapture('manual-ok');
    assert.equal(ok.setAttribute('gen_ai.usage.input_tokens', 12).setAttribute('gen_ai.response.model', 'm'), ok);
    assert.throws(
      () => ok.setAttribute('bad', { nested: 1 }),
      (e) => e instanceof TypeError && e.field === 'attributes.bad',
    );
    ok.end();
    assert.equal(spanNamed('manual-ok').status.code, 'UNSET');
    assert.equal(spanNamed('manual-ok').attributes['gen_ai.usage.input_tokens'], 12);
    assert.equal(spanNamed('manual-ok').attributes['gen_ai.response.model'], 'm');
  });

  test('flush and shutdown return Promises without blocking the event loop; shutdown is idempotent', async () => {
    // An unreachable OTLP endpoint: the export fails (counted), the event loop keeps running.
    init({ endpoint: 'http://127.0.0.1:9', exportTimeoutMs: 1500, scheduledDelayMs: 60000 });
    capture('lost', () => {}, { userId: 'u' });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = Date.now();
    const p = flush(3000);
    assert.ok(p instanceof Promise);
    await p;
    clearInterval(timer);
    const waited = Date.now() - t0;
    if (waited > 50) assert.ok(ticks > 0, `event loop blocked for ${waited} ms`);
    const errors = stats().exportErrors;
    assert.ok(errors >= 1 || stats().spansDropped >= 1, 'failed export counted');
    await shutdown(1000);
    await shutdown(1000);
    // After shutdown, captures still work (spans go nowhere).
    assert.equal(
      capture('after', () => 5),
      5,
    );
  });

  test('strings of every UTF-8 width arrive intact across the native boundary', () => {
    const samples = [];
    for (const ch of ['a', 'é', '€', '😀']) {
      for (let n = 55; n <= 130; n++) samples.push(ch.repeat(n));
    }
    samples.push('mixed-é€😀-'.repeat(30), '', 'x'.repeat(251), 'x'.repeat(252), 'x'.repeat(255));
    for (const s of samples) {
      clearFinishedSpans();
      capture('utf8', () => {}, { userId: s || null, attributes: { [`k-${s.slice(0, 40)}`]: s } });
      const [span] = getFinishedSpans();
      const expectedId = [...s].length > 256 ? [...s].slice(0, 256).join('') : s;
      if (s) assert.equal(span.attributes['user.id'], expectedId);
      assert.equal(span.attributes[`k-${s.slice(0, 40)}`], s);
    }
  });
}
