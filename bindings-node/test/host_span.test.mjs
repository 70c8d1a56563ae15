// OpenTelemetry JS spans through the core (issue 18): UserspanSpanProcessor on an app's own
// provider (its exporters kept, the stamps gained, the spans also exported by userspan), and
// init's own global provider when the app registered none. Real @opentelemetry/sdk-trace-base 2.x.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  capture,
  clearFinishedSpans,
  flush,
  getFinishedSpans,
  init,
  INSTRUMENTATIONS,
  otelStatus,
  shutdown,
  stats,
  UserspanSpanProcessor,
} from 'userspan';

const named = (name) => getFinishedSpans().filter((s) => s.name === name);

test('an app provider keeps its exporter, gains the stamps, and its spans leave through userspan', async () => {
  init({ exporter: 'memory', otel: false });
  assert.equal(otelStatus().provider, 'off');
  clearFinishedSpans();
  const appExporter = new InMemorySpanExporter();
  const cm = new AsyncLocalStorageContextManager().enable();
  const provider = new BasicTracerProvider({
    spanProcessors: [new UserspanSpanProcessor(), new SimpleSpanProcessor(appExporter)],
  });
  const tracer = provider.getTracer('openinference.instrumentation.openai', '9.9.9');
  let parentIds;
  await context.with(cm.active(), () =>
    capture(
      'chat',
      async (ctx) => {
        parentIds = { traceId: ctx.traceId, spanId: ctx.spanId };
        const span = tracer.startSpan('ChatCompletion', {
          kind: SpanKind.CLIENT,
          attributes: { 'llm.token_count.prompt': 12, 'llm.model_name': 'gpt-4o-mini', tags: ['a', 'b'] },
        });
        span.addEvent('first-token', { 'gen_ai.token.index': 0 });
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
        span.end();
      },
      { userId: 'user-7', sessionId: 's-1' },
    ),
  );
  // the app's own exporter still sees the span, stamped
  const [mine] = appExporter.getFinishedSpans();
  assert.equal(mine.attributes['user.id'], 'user-7');
  assert.equal(mine.attributes['session.id'], 's-1');
  await flush();
  const [host] = named('ChatCompletion');
  assert.ok(host, 'the OTel span reached userspan');
  assert.equal(host.traceId, mine.spanContext().traceId);
  assert.equal(host.spanId, mine.spanContext().spanId);
  assert.equal(host.kind, 'client');
  assert.equal(host.attributes['user.id'], 'user-7');
  assert.equal(host.attributes['llm.token_count.prompt'], 12);
  assert.deepEqual(host.attributes.tags, ['a', 'b']);
  assert.deepEqual(host.status, { code: 'ERROR', message: 'rate limited' });
  assert.equal(host.events[0].name, 'first-token');
  assert.ok(host.resource['service.name']);
  assert.equal(BigInt(host.startTimeUnixNano) <= BigInt(host.endTimeUnixNano), true);
  // with no global context manager the span is a root of its own (the capture is not the OTel
  // parent here); the capture span itself is exported too
  assert.equal(named('chat')[0].traceId, parentIds.traceId);
  await provider.shutdown();
});

test('flush and shutdown hand over spans ended in the same tick', async () => {
  init({ exporter: 'memory', otel: false });
  clearFinishedSpans();
  const provider = new BasicTracerProvider({ spanProcessors: [new UserspanSpanProcessor()] });
  const tracer = provider.getTracer('t');
  tracer.startSpan('waiting').end();
  // no tick has passed: the span waits in the processor's batch; flush hands it over first
  await flush();
  assert.equal(named('waiting').length, 1);
  const before = stats().spansStarted;
  tracer.startSpan('last-one').end();
  await shutdown();
  assert.equal(stats().spansStarted, before + 1, 'shutdown handed the waiting span to the core');
  tracer.startSpan('after-shutdown').end();
  await new Promise((r) => setImmediate(r));
  assert.equal(stats().spansStarted, before + 2, 'counted after shutdown, not exported, no error');
});

test('instrument: unknown names are a clear error, missing packages are not', () => {
  assert.throws(
    () => init({ exporter: 'memory', otel: false, instrument: ['nope'] }),
    (e) => e instanceof TypeError && /instrument/.test(e.message) && /openai/.test(e.message),
  );
  assert.deepEqual(INSTRUMENTATIONS, ['openai']);
  assert.throws(() => init({ exporter: 'memory', otel: 'yes' }), /otel/);
});

test('init registers a global provider whose spans are stamped, nested under the capture and exported', async () => {
  init({ exporter: 'memory' });
  const status = otelStatus();
  assert.equal(status.provider, 'registered');
  clearFinishedSpans();
  const tracer = trace.getTracer('app', '1.0.0');
  await capture(
    'handle',
    async () => {
      await new Promise((r) => setTimeout(r, 1));
      tracer.startActiveSpan('llm', (span) => span.end());
    },
    { userId: 'u-9' },
  );
  await flush();
  const [llm] = named('llm');
  const [handle] = named('handle');
  assert.ok(llm, 'the global provider exported through userspan');
  assert.equal(llm.attributes['user.id'], 'u-9');
  assert.equal(llm.traceId, handle.traceId);
  assert.equal(llm.parentSpanId, handle.spanId);
  // a second init keeps exporting through the same provider
  init({ exporter: 'memory', instrument: true });
  assert.equal(otelStatus().provider, 'registered');
  // instrument: true enables what is installed and reports the rest, never throws
  const { instrumentations, missing } = otelStatus();
  assert.deepEqual([...instrumentations, ...missing].sort(), [...INSTRUMENTATIONS].sort());
  await shutdown();
});
