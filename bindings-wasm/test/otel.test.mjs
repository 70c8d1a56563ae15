// UserAttributesSpanProcessor of the WASM package under a real @opentelemetry/sdk-trace-base
// provider (what an app on the OTel JS web SDK uses): stamps spans from the current scope, and
// without options follows the privacy mode `init` configured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { capture, getFinishedSpans, init, shutdown, UserAttributesSpanProcessor, withAttributes } from 'userspan-wasm';

function providerWith(processor) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [processor, new SimpleSpanProcessor(exporter)] });
  return { tracer: provider.getTracer('plain-otel-library'), exporter };
}

const id = 'ada@example.com';
const opts = { userId: id, userEmail: id, sessionId: 's-wasm' };

test('without options the processor follows init: replace leaves no raw id or e-mail on any span', async () => {
  const key = 'k-wasm-replace';
  const digest = createHmac('sha256', key).update(id).digest('hex');
  const { tracer, exporter } = providerWith(new UserAttributesSpanProcessor());
  init({ exporter: 'memory' });
  try {
    withAttributes(opts, () => {
      tracer.startSpan('before').end();
      assert.equal(exporter.getFinishedSpans()[0].attributes['user.id'], id, 'off: the id as given');
      exporter.reset();
      // Same scope, rendered (and cached) before: the new mode applies all the same.
      init({ exporter: 'memory', userIdHashing: 'replace', hashKey: key });
      tracer.startSpan('scoped').end();
    });
    await capture('turn', async () => tracer.startSpan('inner').end(), opts);
    const spans = [...exporter.getFinishedSpans(), ...getFinishedSpans()];
    assert.deepEqual(spans.map((s) => s.name).sort(), ['inner', 'scoped', 'turn']);
    for (const s of spans) {
      assert.equal(s.attributes['user.id'], digest, `${s.name}: user.id`);
      assert.equal(s.attributes['user.id.hash'], digest, `${s.name}: user.id.hash`);
      assert.equal(s.attributes['session.id'], 's-wasm');
      assert.equal(s.attributes['user.email'], undefined, `${s.name}: user.email`);
      assert.ok(!JSON.stringify(s.attributes).includes(id), `${s.name}: raw id`);
    }
    // add: the raw id and its HMAC.
    exporter.reset();
    init({ exporter: 'memory', userIdHashing: 'add', hashKey: key });
    withAttributes(opts, () => tracer.startSpan('added').end());
    const added = exporter.getFinishedSpans()[0].attributes;
    assert.equal(added['user.id'], id);
    assert.equal(added['user.id.hash'], digest);
    assert.equal(added['user.email'], id);
    // After shutdown: no pipeline, nothing hashed (no environment in WebAssembly).
    await shutdown();
    exporter.reset();
    withAttributes(opts, () => tracer.startSpan('after-shutdown').end());
    assert.equal(exporter.getFinishedSpans()[0].attributes['user.id'], id);
    assert.equal(exporter.getFinishedSpans()[0].attributes['user.id.hash'], undefined);
  } finally {
    init({ exporter: 'memory' });
  }
});

test('with its own options the processor keeps them whatever init configured; bad options throw', () => {
  init({ exporter: 'memory', userIdHashing: 'add', hashKey: 'pipeline-key' });
  try {
    const { tracer, exporter } = providerWith(
      new UserAttributesSpanProcessor({ userIdHashing: 'replace', hashKey: 'own-key' }),
    );
    withAttributes(opts, () => tracer.startSpan('own').end());
    const a = exporter.getFinishedSpans()[0].attributes;
    assert.equal(a['user.id'], createHmac('sha256', 'own-key').update(id).digest('hex'));
    assert.equal(a['user.email'], undefined);
    // Outside any scope a span is untouched.
    exporter.reset();
    tracer.startSpan('outside').end();
    assert.deepEqual(exporter.getFinishedSpans()[0].attributes, {});
  } finally {
    init({ exporter: 'memory' });
  }
  assert.throws(
    () => new UserAttributesSpanProcessor({ userIdHashing: 'replace' }),
    (e) => e.code === 'USERSPAN_CONFIG',
  );
  assert.throws(
    () => new UserAttributesSpanProcessor({ endpoint: 'x' }),
    (e) => e instanceof TypeError && e.field === 'endpoint',
  );
});
