// End to end (issue 17 §2): the real Vercel AI SDK (`ai` + `@ai-sdk/openai`, pinned in
// package-lock.json) → `userspan serve` → per-user numbers. Run by scripts/test-instrumentations
// (`node --test e2e.test.mjs` in this folder), which starts `userspan serve --db :memory:` and the
// fake OpenAI server of ../harness.py and passes their URLs as USERSPAN_URL and FAKE_OPENAI_URL.
//
// Each turn runs inside userspan's `capture` (the Node package of bindings-node, imported by path
// from its build in bindings-node/dist) for the user `vercel-user`; the SDK's spans
// (`experimental_telemetry`) go through `@opentelemetry/sdk-trace-node` and the official OTLP/HTTP
// exporter to the receiver, nested under the capture span (userspan's OTel JS interop), and the
// capture spans through userspan's own pipeline. The user is set only on the capture.
//
// The SDK puts the same usage on two nested spans, the wrapper `ai.generateText` (`ai.streamText`)
// and its provider call `ai.generateText.doGenerate` (`ai.streamText.doStream`): by the nesting rule (docs/design.md, Metric definitions) each
// call counts once.
//
// Expected cost, computed here from the published list price of the model the fake server answers
// with (gpt-4o-mini-2024-07-18, a dated alias of gpt-4o-mini): USD 0.15 per million input tokens,
// 0.075 per million cached input tokens, 0.60 per million output tokens (OpenAI's API pricing,
// standard tier; the same figures are in genai-prices 0.2.1's bundled data/prices.json, provider
// `openai`, model `gpt-4o-mini`: input_mtok 0.15, cache_read_mtok 0.075, output_mtok 0.6). The fake
// server's usage (../harness.py): prompt 1200 tokens of which 200 cached, completion 300.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { generateText, streamText } from 'ai';
import * as userspan from '../../../../bindings-node/dist/index.mjs';

const USERSPAN_URL = process.env.USERSPAN_URL;
const FAKE_OPENAI_URL = process.env.FAKE_OPENAI_URL;
if (!USERSPAN_URL || !FAKE_OPENAI_URL) {
  throw new Error('USERSPAN_URL and FAKE_OPENAI_URL must be set: run scripts/test-instrumentations');
}

// The fake server's answer (../harness.py MODEL, PROMPT_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS).
const MODEL = 'gpt-4o-mini-2024-07-18';
const PROMPT_TOKENS = 1200;
const CACHED_TOKENS = 200;
const COMPLETION_TOKENS = 300;
// USD per million tokens (sources above).
const PRICE_INPUT_MTOK = 0.15;
const PRICE_CACHED_INPUT_MTOK = 0.075;
const PRICE_OUTPUT_MTOK = 0.6;

const USER = 'vercel-user';
// Chat calls per turn (one capture, one trace each); `stream`: streamText instead of generateText.
const TURNS = [{ calls: 1 }, { calls: 2 }, { calls: 1, stream: true }];
const CALLS = TURNS.reduce((a, t) => a + t.calls, 0);

/** One call's list price in integer micro-USD, rounded half up (docs/design.md, Cost):
 * USD = tokens * price-per-million / 10^6, so micro-USD = tokens * price-per-million. The sum is
 * done in integer thousandths of a micro-USD (every price here has at most 3 decimals), exactly. */
function listPriceMicros(input, cached, output) {
  const milli = (tokens, price) => tokens * Math.round(price * 1000);
  const m =
    milli(input - cached, PRICE_INPUT_MTOK) + milli(cached, PRICE_CACHED_INPUT_MTOK) + milli(output, PRICE_OUTPUT_MTOK);
  return Math.floor((m + 500) / 1000);
}

let provider;

before(() => {
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'e2e-vercel-ai' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${USERSPAN_URL}/v1/traces` }))],
  });
  provider.register();
  userspan.init({ endpoint: USERSPAN_URL, serviceName: 'e2e-vercel-ai', scheduledDelayMs: 100 });
});

after(async () => {
  await provider?.shutdown();
  await userspan.shutdown();
});

async function getJson(path) {
  const r = await fetch(`${USERSPAN_URL}${path}`);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

async function userRow(user) {
  const { users } = await getJson(`/api/users?q=${encodeURIComponent(user)}&limit=1000`);
  return users.find((r) => r.user_id === user);
}

test('list price arithmetic: 1000 * 0.15 + 200 * 0.075 + 300 * 0.60 = 345 micro-USD', () => {
  assert.equal(listPriceMicros(1200, 200, 300), 345);
  assert.equal(listPriceMicros(1200, 0, 300), 360);
  assert.equal(listPriceMicros(10, 0, 0), 2); // 1.5 rounds half up
});

test('Vercel AI SDK generateText and streamText inside capture: one LLM call per call, tokens, list-price cost, breakdowns', async () => {
  assert.equal(await userRow(USER), undefined, `${USER} already has data: the test needs a fresh server`);
  const openai = createOpenAI({ baseURL: FAKE_OPENAI_URL, apiKey: 'sk-fake' });
  for (const { calls, stream } of TURNS) {
    const texts = await userspan.capture(
      'chat-turn',
      async () => {
        const out = [];
        for (let i = 0; i < calls; i++) {
          const request = {
            model: openai.chat('gpt-4o-mini'),
            system: 'You are a helpful support agent.',
            prompt: 'Where is my order A-1001?',
            temperature: 0.2,
            maxOutputTokens: 400,
            experimental_telemetry: { isEnabled: true, functionId: 'support-agent-turn' },
          };
          if (stream) {
            const result = streamText(request);
            let text = '';
            for await (const part of result.textStream) text += part;
            await result.usage;
            out.push(text);
          } else {
            out.push((await generateText(request)).text);
          }
        }
        return out;
      },
      { userId: USER },
    );
    assert.equal(texts.length, calls);
    for (const t of texts) assert.ok(t.length > 0, 'empty reply');
  }
  await provider.forceFlush(); // the exporter answers after the receiver committed
  await userspan.flush();

  const costUsd = (CALLS * listPriceMicros(PROMPT_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS)) / 1e6;
  const inputTokens = CALLS * PROMPT_TOKENS;
  const outputTokens = CALLS * COMPLETION_TOKENS;
  const near = (got, want, what) => assert.ok(Math.abs(got - want) <= 1e-6, `${what}: ${got}, want ${want}`);

  let row = await userRow(USER);
  for (let i = 0; i < 75 && !(row && row.traces >= TURNS.length); i++) {
    await new Promise((r) => setTimeout(r, 200));
    row = await userRow(USER);
  }
  assert.ok(row, `no row for ${USER}`);
  assert.equal(row.traces, TURNS.length);
  // Per trace: the capture span, and per call the wrapper and the provider-call span.
  assert.equal(row.spans, TURNS.length + 2 * CALLS);
  assert.equal(row.llm_calls, CALLS, 'wrapper + provider call must count once');
  assert.equal(row.input_tokens, inputTokens);
  assert.equal(row.output_tokens, outputTokens);
  assert.equal(row.total_tokens, inputTokens + outputTokens);
  near(row.cost_usd, costUsd, 'cost_usd');
  near(row.estimated_cost_usd, costUsd, 'estimated_cost_usd');
  assert.equal(row.unpriced_llm_calls, 0);

  const detail = await getJson(`/api/users/${encodeURIComponent(USER)}`);
  assert.equal(detail.llm_calls, CALLS);
  near(detail.cost_usd, costUsd, 'detail cost_usd');
  assert.deepEqual(
    detail.models.map((m) => m.model),
    [MODEL],
    JSON.stringify(detail.models),
  );
  const [m] = detail.models;
  assert.equal(m.traces, TURNS.length);
  assert.equal(m.input_tokens, inputTokens);
  assert.equal(m.output_tokens, outputTokens);
  assert.equal(m.total_tokens, inputTokens + outputTokens);
  near(m.cost_usd, costUsd, 'model cost_usd');
  near(m.estimated_cost_usd, costUsd, 'model estimated_cost_usd');
  assert.equal(m.unpriced_calls, 0);
  assert.equal(m.unpriced, false);
  // `ai.model.provider` is `openai.chat`: the provider is `openai`.
  assert.deepEqual(detail.providers, [{ name: 'openai', traces: TURNS.length }]);
});
