// The official OpenTelemetry JS exporter (@opentelemetry/exporter-trace-otlp-proto) sends spans
// carrying user.id / session.id to a running `userspan serve`; the API's numbers must equal the
// ones computed here, independently, from the workload this test generated.
// Needs USERSPAN_URL. Each run uses its own project.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const URL = process.env.USERSPAN_URL ?? 'http://127.0.0.1:4318';
const PROJECT = `e2e-node-${randomUUID().slice(0, 8)}`;

async function get(path, params = {}) {
  const qs = new URLSearchParams({ ...params, project: PROJECT });
  const r = await fetch(`${URL}${path}?${qs}`);
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

// [seconds, nanoseconds] from a BigInt of unix ns.
const hr = (ns) => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];

async function runWorkload() {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'node-e2e', 'userspan.project': PROJECT }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${URL}/v1/traces` }), { maxExportBatchSize: 64 }),
    ],
  });
  const tracer = provider.getTracer('e2e');
  const now = BigInt(Date.now()) * 1_000_000n - 3_600_000_000_000n;
  const expected = new Map();
  let n = 0n;
  for (let u = 0; u < 4; u++) {
    const uid = `node-user-${u}`;
    const e = {
      traces: 0,
      sessions: 0,
      errored_sessions: 0,
      errored_traces: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost: 0,
      llm_calls: 0,
      guardrail_triggers: 0,
    };
    expected.set(uid, e);
    for (let s = 0; s < u + 2; s++) {
      const session = `node-s-${u}-${s}`;
      e.sessions++;
      let sessionErrored = false;
      for (let t = 0; t < 3; t++) {
        n++;
        const start = now + n * 1_000_000_000n;
        const attrs = { 'user.id': uid, 'session.id': session };
        const root = tracer.startSpan('turn', { attributes: attrs, startTime: hr(start) });
        const ctx = trace.setSpan(context.active(), root);
        // Other SDKs' keys: prompt/completion token names, gen_ai.system provider.
        const inp = 100 + u * 10 + t;
        const out = 7 * (t + 1);
        const cost = 0.0005 * (t + 1);
        const chat = tracer.startSpan(
          'chat',
          {
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.system': 'openai',
              'gen_ai.request.model': 'gpt-4o',
              'gen_ai.usage.prompt_tokens': inp,
              'gen_ai.usage.completion_tokens': out,
              'gen_ai.usage.input_cost': cost / 2,
              'gen_ai.usage.output_cost': cost / 2,
            },
            startTime: hr(start + 1000n),
          },
          ctx,
        );
        const errored = n % 4n === 0n;
        if (errored) chat.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
        chat.end(hr(start + 2_000_000n));
        const guard = t === 1 && u === 3;
        if (guard) {
          tracer
            .startSpan('guard', { attributes: { 'guardrail.triggered': true }, startTime: hr(start + 3_000_000n) }, ctx)
            .end(hr(start + 4_000_000n));
        }
        root.end(hr(start + 5_000_000n));
        e.traces++;
        e.llm_calls++;
        e.input_tokens += inp;
        e.output_tokens += out;
        e.cost += cost;
        e.errored_traces += errored ? 1 : 0;
        e.guardrail_triggers += guard ? 1 : 0;
        sessionErrored ||= errored;
      }
      e.errored_sessions += sessionErrored ? 1 : 0;
    }
  }
  await provider.forceFlush();
  await provider.shutdown();
  return expected;
}

test('API numbers equal the workload sent with the official OTLP/proto exporter', async () => {
  const expected = await runWorkload();
  const totalTraces = [...expected.values()].reduce((a, e) => a + e.traces, 0);
  const ov = await get('/api/overview');
  assert.equal(ov.unique_users, expected.size);
  assert.equal(ov.traces, totalTraces);
  assert.equal(ov.traces_with_user_share, 1);
  const listing = await get('/api/users', { limit: '100', sort: 'traces', order: 'asc' });
  assert.equal(listing.total, expected.size);
  assert.deepEqual(
    listing.users.map((r) => r.user_id),
    ['node-user-0', 'node-user-1', 'node-user-2', 'node-user-3'],
  );
  for (const r of listing.users) {
    const e = expected.get(r.user_id);
    assert.equal(r.user_id_type, 'custom');
    for (const k of [
      'traces',
      'sessions',
      'errored_sessions',
      'errored_traces',
      'input_tokens',
      'output_tokens',
      'llm_calls',
      'guardrail_triggers',
    ]) {
      assert.equal(r[k], e[k], `${r.user_id} ${k}`);
    }
    assert.ok(Math.abs(r.cost_usd - e.cost) < 1e-6, `${r.user_id} cost ${r.cost_usd} vs ${e.cost}`);
    assert.ok(Math.abs(r.avg_latency_ms - 5) < 1e-9, `${r.user_id} latency ${r.avg_latency_ms}`);
  }
  const d = await get('/api/users/node-user-3');
  assert.deepEqual(d.providers, [{ name: 'openai', traces: expected.get('node-user-3').traces }]);
  const sessions = await get('/api/users/node-user-3/sessions', { errors_only: 'true' });
  assert.equal(sessions.total, expected.get('node-user-3').errored_sessions);
});
