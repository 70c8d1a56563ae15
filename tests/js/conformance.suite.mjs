// Runs the shared conformance vectors (tests/conformance/scopes.json) through a JS package's public
// API. Used by the Node and WASM packages' tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/**
 * Registers the suite against a package's public API (the module namespace of `userspan` or
 * `userspan-wasm`). `otel`: the module namespace of `@opentelemetry/sdk-trace-base`, for the
 * `otel_span` steps (a provider the suite owns, with the package's `UserAttributesSpanProcessor()`
 * built with no options, then an in-memory exporter).
 */
export function conformanceSuite(api, otel) {
  const { capture, withAttributes, init, clearFinishedSpans, getFinishedSpans, stats } = api;
  // One provider for every case, so each case also checks that the processor follows the new `init`.
  const otelExporter = new otel.InMemorySpanExporter();
  const otelTracer = new otel.BasicTracerProvider({
    spanProcessors: [new api.UserAttributesSpanProcessor(), new otel.SimpleSpanProcessor(otelExporter)],
  }).getTracer('plain-otel-library');

  const vectors = JSON.parse(readFileSync(new URL('../conformance/scopes.json', import.meta.url), 'utf8'));
  const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  // Top-level option keys only: keys inside metadata / userMetadata / attributes stay as they are.
  const camelKeys = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [camel(k), v]));
  // `user_id_type` -> `userIdType`, `tags[1]` -> `tags[1]`, `attributes.k` -> `attributes.k`.
  const camelField = (f) => f.replace(/^[a-z_]+/, camel);

  function run(steps) {
    for (const step of steps ?? []) {
      if ('capture' in step)
        capture(step.capture, () => run(step.do), step.options ? camelKeys(step.options) : undefined);
      else if ('scope' in step) withAttributes(camelKeys(step.scope), () => run(step.do));
      else if ('span' in step) capture(step.span, () => {});
      else if ('otel_span' in step) otelTracer.startSpan(step.otel_span).end();
      else if ('fail' in step) throw new Error(step.fail);
      else throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }

  test('conformance vectors are present', () => {
    assert.ok(vectors.cases.length > 0);
  });

  for (const c of vectors.cases) {
    test(`conformance: ${c.name}`, () => {
      init({ ...camelKeys(c.init), exporter: 'memory' });
      clearFinishedSpans();
      otelExporter.reset();
      const before = stats().valuesTruncated;
      let raised;
      try {
        run(c.steps);
      } catch (e) {
        raised = e;
      }
      const spans = getFinishedSpans();
      const expect = c.expect;
      if (expect.error) {
        assert.ok(raised, 'expected an error');
        const cls = expect.error.kind === 'value' ? RangeError : TypeError;
        assert.ok(raised instanceof cls, `expected ${cls.name}, got ${raised?.constructor?.name}: ${raised?.message}`);
        assert.ok(raised instanceof (expect.error.kind === 'value' ? api.UserspanValueError : api.UserspanTypeError));
        assert.ok(raised instanceof api.UserspanError);
        assert.equal(raised.field, camelField(expect.error.field));
        assert.match(raised.code, /^USERSPAN_/);
        assert.deepEqual(spans, [], 'the function must not run and no span may be produced');
      } else {
        const failing = (function hasFail(steps) {
          return (steps ?? []).some((s) => 'fail' in s || hasFail(s.do));
        })(c.steps);
        if (!failing) assert.equal(raised, undefined, `unexpected error: ${raised?.stack}`);
      }
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      assert.deepEqual(spans.map((s) => s.name).sort(), (expect.spans ?? []).map((s) => s.name).sort(), 'span names');
      for (const want of expect.spans ?? []) {
        const got = spans.find((s) => s.name === want.name);
        const parent = got.parentSpanId ? (byId.get(got.parentSpanId)?.name ?? '<foreign>') : null;
        assert.equal(parent, want.parent, `${want.name}: parent`);
        const attrs = { ...got.attributes };
        delete attrs['error.type'];
        assert.deepEqual(attrs, want.attributes, `${want.name}: attributes`);
        assert.equal(got.status.code, want.status, `${want.name}: status`);
        if (want.status === 'ERROR') {
          assert.equal(typeof got.attributes['error.type'], 'string', 'error.type');
          const ex = got.events.find((e) => e.name === 'exception');
          assert.ok(ex, 'exception event');
          assert.equal(ex.attributes['exception.message'], want.status_message);
          assert.equal(got.status.message, want.status_message);
        }
      }
      const otelSpans = otelExporter.getFinishedSpans();
      assert.deepEqual(
        otelSpans.map((s) => s.name).sort(),
        (expect.otel_spans ?? []).map((s) => s.name).sort(),
        'OTel span names',
      );
      for (const want of expect.otel_spans ?? []) {
        const got = otelSpans.find((s) => s.name === want.name);
        assert.deepEqual({ ...got.attributes }, want.attributes, `OTel span ${want.name}: attributes`);
      }
      if (expect.values_truncated !== undefined) {
        assert.equal(stats().valuesTruncated - before, expect.values_truncated, 'values_truncated delta');
      }
    });
  }
}
