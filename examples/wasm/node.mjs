// userspan-wasm from Node: three end users talk to a (fake) support agent; every turn is captured
// with the user's identity and sent over OTLP/HTTP (protobuf encoded in WebAssembly, sent with
// fetch) to `userspan serve`.
//
//   cargo run -p userspan-receiver -- serve --db userspan.db &     # receiver on 127.0.0.1:4318
//   (cd bindings-wasm && npm install && npm run build)             # build the package once
//   (cd examples/wasm && npm install && node node.mjs)             # USERSPAN_ENDPOINT=http://...
//   cargo run -p userspan-receiver -- users --db userspan.db       # one row per end user
import { capture, init, shutdown, stats } from 'userspan-wasm';

const endpoint = process.env.USERSPAN_ENDPOINT ?? 'http://127.0.0.1:4318';
init({ endpoint, serviceName: 'support-agent-wasm-node', project: process.env.USERSPAN_PROJECT });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Stands in for a chat-completions call: a child span with GenAI usage attributes. */
function fakeLlm(prompt) {
  return capture(
    'chat gpt-4o-mini',
    async () => {
      await sleep(3);
      return `answer to: ${prompt}`;
    },
    {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 20 + prompt.length,
        'gen_ai.usage.output_tokens': 40,
      },
    },
  );
}

const USERS = [
  { id: 'ada@example.com', email: 'ada@example.com', type: 'email', plan: 'pro' },
  { id: 'u-grace', email: 'grace@example.com', type: 'custom', plan: 'free' },
  { id: 'u-linus', email: 'linus@example.com', type: 'custom', plan: 'team' },
];

// Concurrent conversations: AsyncLocalStorage keeps each user's scope on its own awaits.
await Promise.all(
  USERS.map((user, i) =>
    capture(
      'support-agent-turn',
      async () => {
        await sleep(i);
        return fakeLlm(`Where is my order #${1000 + i}?`);
      },
      {
        userId: user.id,
        userEmail: user.email,
        userIdType: user.type,
        userMetadata: { plan: user.plan },
        sessionId: `conv-${user.id}`,
      },
    ),
  ),
);

await shutdown(10000); // sends what is buffered
const s = stats();
console.log(
  `sent ${s.spansExported} spans for ${USERS.length} users to ${endpoint} (dropped ${s.spansDropped}, errors ${s.exportErrors})`,
);
