// Support-agent example: every turn of a (fake) LLM support agent is captured with the end user's
// identity, exactly as the Latitude docs show it, and sent over OTLP to `userspan serve`.
//
//   cargo run -p userspan-receiver -- serve --db userspan.db &     # receiver on 127.0.0.1:4318
//   (cd bindings-node && npm install && npm run build)             # build the package once
//   (cd examples/node && npm install && node support-agent.mjs)    # --endpoint URL, --turns N
//   cargo run -p userspan-receiver -- users --db userspan.db       # one row per end user
//
// No real model is called: the "LLM" is a deterministic stand-in that reports token usage and cost
// with the OTel GenAI keys, so the receiver's per-user tokens / cost / LLM-call columns fill in.
import { parseArgs } from 'node:util';
import { capture, startCapture, withSession, init, shutdown, stats } from 'userspan';

const { values: args } = parseArgs({ options: { endpoint: { type: 'string' }, turns: { type: 'string' } } });
const endpoint = args.endpoint ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://127.0.0.1:4318';
const turns = Number(args.turns ?? 3);

const USERS = [
  { id: 'user-ada', email: 'ada@example.com', plan: 'pro' },
  { id: 'user-grace', email: 'grace@example.com', plan: 'free' },
  { id: 'user-linus', email: 'linus@example.com', plan: 'team' },
];
const PRICE_PER_TOKEN = { 'gpt-4o-mini': [0.15e-6, 0.6e-6], 'gpt-4o': [2.5e-6, 10e-6] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Stands in for a chat-completions call: a child span with GenAI request and usage attributes. */
async function fakeLlm(model, prompt) {
  const call = startCapture(`chat ${model}`, {
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': model },
  });
  try {
    await call.run(() => sleep(5 + (prompt.length % 7)));
    const inputTokens = 20 + Math.floor(prompt.length / 4);
    const outputTokens = 40 + (prompt.length % 17);
    const [priceIn, priceOut] = PRICE_PER_TOKEN[model];
    call
      .setAttribute('gen_ai.response.model', model)
      .setAttribute('gen_ai.usage.input_tokens', inputTokens)
      .setAttribute('gen_ai.usage.output_tokens', outputTokens)
      .setAttribute('gen_ai.usage.input_cost', inputTokens * priceIn)
      .setAttribute('gen_ai.usage.output_cost', outputTokens * priceOut);
    call.end();
    return `[${model}] answer to: ${prompt.slice(0, 40)}`;
  } catch (e) {
    call.end(e);
    throw e;
  }
}

class SupportAgent {
  constructor(model = 'gpt-4o-mini') {
    this.model = model;
  }

  lookupOrder(orderId) {
    return capture(
      'execute_tool lookup_order',
      async () => {
        await sleep(2);
        if (orderId === '7713') throw new Error(`order ${orderId} not found`);
        return { id: orderId, status: 'shipped' };
      },
      { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup_order' } },
    );
  }

  async run(userMessage) {
    const flagged = /refund now/i.test(userMessage);
    capture('guardrail input', () => {}, {
      attributes: { 'openinference.span.kind': 'GUARDRAIL', 'guardrail.triggered': flagged },
    });
    const orderId = userMessage.match(/#(\d+)/)?.[1];
    const order = orderId ? await this.lookupOrder(orderId) : undefined;
    return fakeLlm(this.model, `${userMessage} ${order ? JSON.stringify(order) : ''}`);
  }
}

const MESSAGES = [
  'Where is my order #1042?',
  'Can I change the shipping address of #2213?',
  'I want a refund now for #7713',
  'How do I reset my password?',
];

init({ serviceName: 'support-agent', endpoint });
const agent = new SupportAgent();

// Conversations of different users run concurrently; each keeps its own user and session.
await Promise.all(
  USERS.map((user, u) =>
    withSession(`conv-${user.id}-1`, async () => {
      for (let t = 0; t < turns; t++) {
        const userMessage = MESSAGES[(u + t) % MESSAGES.length];
        try {
          const reply = await capture(
            'support-agent-turn',
            async () => {
              return agent.run(userMessage);
            },
            {
              userId: user.id,
              userEmail: user.email,
              userMetadata: { plan: user.plan },
              tags: ['support', user.plan],
            },
          );
          console.log(`${user.id}: ${reply}`);
        } catch (e) {
          console.log(`${user.id}: turn failed (${e.message}); recorded on the span`);
        }
      }
    }),
  ),
);

await shutdown();
const s = stats();
console.log(
  `\n${s.spansExported} spans exported to ${endpoint} (${s.spansDropped} dropped, ${s.exportErrors} export errors).`,
);
console.log('See them per user: userspan users --db <the db of userspan serve>, or GET /api/users');
