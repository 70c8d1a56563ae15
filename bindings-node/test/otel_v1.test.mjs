// init({ otel }) with an app that registered its own OpenTelemetry JS 1.x provider (real
// @opentelemetry/sdk-trace-base 1.30, which takes processors after construction): the processor is
// added once, however often init runs, so each OTel span is exported by userspan exactly once.
// Its own file: a global tracer provider can be registered only once per process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from 'sdk-trace-base-v1';
import { capture, clearFinishedSpans, flush, getFinishedSpans, init, otelStatus } from 'userspan';

test('a 1.x app provider gains one processor, also after a second init', async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const appExporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider();
  provider.addSpanProcessor(new SimpleSpanProcessor(appExporter));
  assert.ok(trace.setGlobalTracerProvider(provider));

  init({ exporter: 'memory' });
  assert.equal(otelStatus().provider, 'added');
  init({ exporter: 'memory' });
  assert.equal(otelStatus().provider, 'added');
  clearFinishedSpans();

  await capture(
    'chat',
    async () => {
      trace.getTracer('openinference.instrumentation.openai').startSpan('ChatCompletion').end();
    },
    { userId: 'user-1' },
  );
  await flush();
  const host = getFinishedSpans().filter((s) => s.name === 'ChatCompletion');
  assert.equal(host.length, 1, 'exported once through userspan');
  assert.equal(host[0].attributes['user.id'], 'user-1');
  // the app's own exporter is kept and sees the span once, stamped
  const mine = appExporter.getFinishedSpans();
  assert.equal(mine.length, 1);
  assert.equal(mine[0].attributes['user.id'], 'user-1');
});
