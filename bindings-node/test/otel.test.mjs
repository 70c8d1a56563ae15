// Interop with OpenTelemetry JS: a real @opentelemetry/sdk-trace-base provider with an
// AsyncLocalStorage context manager, userspan's UserAttributesSpanProcessor, and captures.
import { test, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, trace, ROOT_CONTEXT, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  capture,
  withAttributes,
  init,
  getFinishedSpans,
  clearFinishedSpans,
  shutdown,
  UserAttributesSpanProcessor,
} from 'userspan';

const exporter = new InMemorySpanExporter();
let tracer;

before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider({
    spanProcessors: [new UserAttributesSpanProcessor(), new SimpleSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  tracer = trace.getTracer('app');
});

beforeEach(() => {
  init({ exporter: 'memory' });
  clearFinishedSpans();
  exporter.reset();
});

const ours = (name) => getFinishedSpans().find((s) => s.name === name);
const theirs = (name) => exporter.getFinishedSpans().find((s) => s.name === name);
const parentId = (s) => s.parentSpanContext?.spanId ?? s.parentSpanId;

test('OTel JS spans started inside a capture are its children and are stamped', async () => {
  await capture(
    'support-agent-turn',
    async () => {
      await sleep(1);
      await tracer.startActiveSpan('openai.chat', async (span) => {
        await sleep(1);
        tracer.startSpan('http.request').end();
        span.end();
      });
    },
    { userId: 'u-otel', userEmail: 'ada@example.com', sessionId: 's-otel', tags: ['vip'] },
  );
  const turn = ours('support-agent-turn');
  const chat = theirs('openai.chat');
  const http = theirs('http.request');
  assert.ok(turn && chat && http);
  assert.equal(chat.spanContext().traceId, turn.traceId, 'same trace');
  assert.equal(parentId(chat), turn.spanId, 'OTel span is a child of the capture span');
  assert.equal(parentId(http), chat.spanContext().spanId);
  for (const s of [chat, http]) {
    assert.equal(s.attributes['user.id'], 'u-otel');
    assert.equal(s.attributes['user.email'], 'ada@example.com');
    assert.equal(s.attributes['session.id'], 's-otel');
    assert.deepEqual(s.attributes['tag.tags'], ['vip']);
  }
});

test('a current OTel span becomes the parent of a capture (same trace)', async () => {
  await tracer.startActiveSpan('http.server', async (server) => {
    await capture(
      'turn',
      async () => {
        await sleep(1);
      },
      { userId: 'u-in' },
    );
    server.end();
  });
  const server = theirs('http.server');
  const turn = ours('turn');
  assert.equal(turn.traceId, server.spanContext().traceId);
  assert.equal(turn.parentSpanId, server.spanContext().spanId);
  assert.equal(server.attributes['user.id'], undefined, 'spans outside any scope are untouched');
});

test('capture -> OTel span -> capture -> OTel span nests in one trace with merged attributes', () => {
  capture(
    'outer',
    () => {
      tracer.startActiveSpan('tool', (tool) => {
        capture(
          'inner',
          () => {
            tracer.startActiveSpan('llm', (llm) => llm.end());
          },
          { sessionId: 's-inner', tags: ['b'] },
        );
        tool.end();
      });
    },
    { userId: 'u-nest', tags: ['a'] },
  );
  const outer = ours('outer');
  const tool = theirs('tool');
  const inner = ours('inner');
  const llm = theirs('llm');
  assert.equal(parentId(tool), outer.spanId);
  assert.equal(inner.parentSpanId, tool.spanContext().spanId);
  assert.equal(parentId(llm), inner.spanId);
  for (const s of [tool.spanContext().traceId, inner.traceId, llm.spanContext().traceId])
    assert.equal(s, outer.traceId);
  assert.equal(tool.attributes['user.id'], 'u-nest');
  assert.equal(tool.attributes['session.id'], undefined);
  assert.equal(llm.attributes['user.id'], 'u-nest');
  assert.equal(llm.attributes['session.id'], 's-inner');
  assert.deepEqual(llm.attributes['tag.tags'], ['a', 'b']);
});

test('inside a capture OTel sees the capture span as current; setSpanContext within context.with works', () => {
  capture(
    'turn',
    () => {
      const active = trace.getActiveSpan();
      const sc = active.spanContext();
      assert.match(sc.traceId, /^[0-9a-f]{32}$/);
      assert.equal(sc.traceFlags & TraceFlags.SAMPLED, TraceFlags.SAMPLED);
      active.setAttribute('gen_ai.request.model', 'gpt-4o');
      active.setAttributes({ 'gen_ai.usage.input_tokens': 12 });
      active.setAttribute('bad', { nested: true }); // dropped, never thrown
      // An app re-parenting explicitly onto the capture span.
      const cx = trace.setSpanContext(context.active(), {
        traceId: sc.traceId,
        spanId: sc.spanId,
        traceFlags: sc.traceFlags,
      });
      context.with(cx, () => tracer.startSpan('explicit').end());
    },
    { userId: 'u-cur' },
  );
  const turn = ours('turn');
  assert.equal(turn.attributes['gen_ai.request.model'], 'gpt-4o');
  assert.equal(turn.attributes['gen_ai.usage.input_tokens'], 12);
  assert.equal(turn.attributes.bad, undefined);
  const explicit = theirs('explicit');
  assert.equal(parentId(explicit), turn.spanId);
  assert.equal(explicit.spanContext().traceId, turn.traceId);
  assert.equal(explicit.attributes['user.id'], 'u-cur');
});

test('a remote parent set with setSpanContext outside any capture parents the capture', () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';
  const cx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  context.with(cx, () => capture('handler', () => {}, { userId: 'u-remote' }));
  const h = ours('handler');
  assert.equal(h.traceId, traceId);
  assert.equal(h.parentSpanId, spanId);
});

test('withAttributes alone stamps OTel spans (no capture span)', () => {
  withAttributes({ userId: 'u-scope', sessionId: 's' }, () => tracer.startSpan('plain').end());
  const plain = theirs('plain');
  assert.equal(plain.attributes['user.id'], 'u-scope');
  assert.equal(plain.attributes['session.id'], 's');
  assert.equal(parentId(plain), undefined);
});

test('concurrent captures with different users stamp their own OTel spans', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      capture(
        `t-${i}`,
        async () => {
          await sleep(Math.floor(Math.random() * 5));
          await tracer.startActiveSpan(`o-${i}`, async (s) => {
            await sleep(Math.floor(Math.random() * 5));
            s.end();
          });
        },
        { userId: `user-${i}` },
      ),
    ),
  );
  for (let i = 0; i < 20; i++) {
    const o = theirs(`o-${i}`);
    assert.equal(o.attributes['user.id'], `user-${i}`);
    assert.equal(parentId(o), ours(`t-${i}`).spanId);
  }
});

test('the processor applies the privacy mode (replace: only the HMAC leaves, e-mail dropped)', () => {
  // Expected HMAC from the shared conformance vectors (computed there with Python's hmac).
  const vectors = JSON.parse(readFileSync(new URL('../../tests/conformance/scopes.json', import.meta.url), 'utf8'));
  const vec = vectors.cases.find((c) => c.init?.user_id_hashing === 'replace');
  const opts = vec.steps[0].options;
  const expected = vec.expect.spans[0].attributes['user.id'];
  const local = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [
      new UserAttributesSpanProcessor({ userIdHashing: 'replace', hashKey: vec.init.hash_key }),
      new SimpleSpanProcessor(local),
    ],
  });
  withAttributes({ userId: opts.user_id, userEmail: opts.user_email }, () =>
    provider.getTracer('p').startSpan('hashed').end(),
  );
  const s = local.getFinishedSpans()[0];
  assert.equal(s.attributes['user.id'], expected);
  assert.equal(s.attributes['user.email'], undefined);
  assert.throws(
    () => new UserAttributesSpanProcessor({ userIdHashing: 'replace' }),
    (e) => e.code === 'USERSPAN_CONFIG',
  );
  assert.throws(
    () => new UserAttributesSpanProcessor({ endpoint: 'x' }),
    (e) => e instanceof TypeError && e.field === 'endpoint',
  );
});

test('a processor built without options follows init: replace leaves no raw id or e-mail on any span', async () => {
  // The expected HMAC from Node's own crypto (independent of the core).
  const key = 'k-node-replace';
  const id = 'ada@example.com';
  const digest = createHmac('sha256', key).update(id).digest('hex');
  const check = (spans, where) => {
    assert.ok(spans.length > 0, where);
    for (const s of spans) {
      assert.equal(s.attributes['user.id'], digest, `${where} ${s.name}: user.id`);
      assert.equal(s.attributes['user.id.hash'], digest, `${where} ${s.name}: user.id.hash`);
      assert.equal(s.attributes['user.email'], undefined, `${where} ${s.name}: user.email`);
      assert.ok(!JSON.stringify(s.attributes).includes(id), `${where} ${s.name}: raw id`);
    }
  };
  const opts = { userId: id, userEmail: id, sessionId: 's-r' };
  try {
    // A scope the processor rendered (and cached) before init must not keep its raw rendering.
    withAttributes(opts, () => {
      tracer.startSpan('before-init').end();
      assert.equal(theirs('before-init').attributes['user.id'], id);
      exporter.reset();
      init({ exporter: 'memory', userIdHashing: 'replace', hashKey: key });
      tracer.startSpan('scoped').end();
    });
    await capture(
      'turn',
      async () => {
        await sleep(1);
        await tracer.startActiveSpan('openai.chat', async (span) => {
          tracer.startSpan('http.request').end();
          span.end();
        });
      },
      opts,
    );
    check(exporter.getFinishedSpans(), 'OTel JS');
    assert.equal(exporter.getFinishedSpans().length, 3);
    check(getFinishedSpans(), 'capture');
    // After shutdown the processor is back to the environment's mode (unset here: no hashing).
    await shutdown();
    exporter.reset();
    withAttributes(opts, () => tracer.startSpan('after-shutdown').end());
    assert.equal(theirs('after-shutdown').attributes['user.id'], id);
    assert.equal(theirs('after-shutdown').attributes['user.id.hash'], undefined);
  } finally {
    init({ exporter: 'memory' });
  }
});

test('a capture activates no OTel context of its own: the manager folds the capture span in when asked', () => {
  const manager = globalThis[Symbol.for('opentelemetry.js.api.1')].context;
  let seen;
  capture('lazy', () => {
    // What OTel code reads goes through the manager; nothing was activated for the capture.
    seen = trace.getSpan(manager.active()).spanContext().spanId;
    assert.equal(manager._asyncLocalStorage.getStore(), undefined); // the manager's own store: untouched
    assert.equal(trace.getActiveSpan().spanContext().spanId, seen); // same view twice
  });
  assert.equal(seen, ours('lazy').spanId);
  assert.equal(trace.getActiveSpan(), undefined);
});

test('withAttributes inside an OTel span inside a capture keeps the OTel span current', () => {
  capture(
    'outer',
    () => {
      tracer.startActiveSpan('llm', (llm) => {
        withAttributes({ sessionId: 's-in' }, () => {
          assert.equal(trace.getActiveSpan(), llm);
          tracer.startSpan('tool').end();
        });
        llm.end();
      });
    },
    { userId: 'u-own' },
  );
  const tool = theirs('tool');
  assert.equal(parentId(tool), theirs('llm').spanContext().spanId);
  assert.equal(tool.attributes['session.id'], 's-in');
  assert.equal(tool.attributes['user.id'], 'u-own');
});

test('withAttributes outside captures leaves the current OTel span alone', () => {
  tracer.startActiveSpan('request', (request) => {
    withAttributes({ userId: 'u-req' }, () => {
      assert.equal(trace.getActiveSpan(), request);
      capture('handler', () => {});
    });
    request.end();
  });
  assert.equal(ours('handler').parentSpanId, theirs('request').spanContext().spanId);
});

test('an OTel context saved inside a capture still parents on the capture span later', async () => {
  let saved;
  capture('turn', () => {
    saved = context.active();
  });
  await sleep(1);
  context.with(saved, () => tracer.startSpan('later').end());
  assert.equal(parentId(theirs('later')), ours('turn').spanId);
});

test('a context manager that cannot be wrapped gets a context activated per capture (same results)', () => {
  const code = `
    import assert from 'node:assert/strict';
    import { context, trace } from '@opentelemetry/api';
    import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
    import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
    import { capture, init, getFinishedSpans } from 'userspan';
    const manager = Object.freeze(new AsyncLocalStorageContextManager().enable());
    context.setGlobalContextManager(manager);
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const tracer = trace.getTracer('app');
    init({ exporter: 'memory' });
    tracer.startActiveSpan('request', (request) => {
      capture('turn', () => {
        assert.notEqual(manager._asyncLocalStorage.getStore(), undefined); // activated per capture
        tracer.startSpan('llm').end();
      });
      request.end();
    });
    const turn = getFinishedSpans().find((s) => s.name === 'turn');
    const theirs = Object.fromEntries(exporter.getFinishedSpans().map((s) => [s.name, s]));
    assert.equal(turn.parentSpanId, theirs.request.spanContext().spanId);
    assert.equal(theirs.llm.parentSpanContext.spanId, turn.spanId);
    console.log('ok');
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: new URL('..', import.meta.url),
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'ok');
});
