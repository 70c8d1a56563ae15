// Record what the Vercel AI SDK emits for one chat call (maintainer tool, run by
// scripts/record-fixtures; not a test).
//
//   node record.mjs VARIANT --openai URL --otlp URL
//
// VARIANT: vercel-ai-generate-text | vercel-ai-stream-text | vercel-ai-generate-text-responses.
// `@ai-sdk/openai` is pointed at the harness's fake server (`baseURL`), `openai.chat(...)` uses the
// Chat Completions API and `openai.responses(...)` the Responses API. Spans go through
// `@opentelemetry/sdk-trace-node` and the official OTLP/HTTP JSON exporter
// (`@opentelemetry/exporter-trace-otlp-http`) to the harness's sink at URL/VARIANT/v1/traces.
// Identity is set the SDK's way: `experimental_telemetry.metadata` ({ userId, sessionId }, which the
// SDK writes as `ai.telemetry.metadata.*`); the OpenAI `user` field via `providerOptions.openai.user`.
import { createOpenAI } from '@ai-sdk/openai';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { generateText, streamText } from 'ai';

const VARIANTS = ['vercel-ai-generate-text', 'vercel-ai-stream-text', 'vercel-ai-generate-text-responses'];

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing ${name}`);
  return process.argv[i + 1];
}

const variant = process.argv[2];
if (!VARIANTS.includes(variant)) {
  console.error(`usage: node record.mjs (${VARIANTS.join('|')}) --openai URL --otlp URL`);
  process.exit(2);
}
const baseURL = arg('--openai');
const otlp = arg('--otlp');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': `recorder-${variant}` }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlp}/${variant}/v1/traces` }))],
});
provider.register();

const openai = createOpenAI({ baseURL, apiKey: 'sk-fake' });
const common = {
  system: 'You are a helpful support agent.',
  prompt: 'Where is my order A-1001?',
  temperature: 0.2,
  maxOutputTokens: 400,
  providerOptions: { openai: { user: 'end-user-42' } },
  experimental_telemetry: {
    isEnabled: true,
    functionId: 'support-agent-turn',
    metadata: { userId: 'user-123', sessionId: 'session-abc', plan: 'pro' },
  },
};

let text;
if (variant === 'vercel-ai-stream-text') {
  const result = streamText({ model: openai.chat('gpt-4o-mini'), ...common });
  text = '';
  for await (const part of result.textStream) text += part;
  await result.usage;
} else {
  const model = variant.endsWith('-responses') ? openai.responses('gpt-4o-mini') : openai.chat('gpt-4o-mini');
  ({ text } = await generateText({ model, ...common }));
}
console.error(`[${variant}] reply: ${JSON.stringify(text)}`);
await provider.shutdown();
