// Per-call cost of a capture in userspan-wasm (sync no-op fn, userId + userEmail + sessionId), in
// one Node process, against the nodejs build in ../pkg/node:
//
//   wasm none        capture(name, fn, opts), exporter "none" (validated, stamped, then dropped)
//   wasm otlp        exporter "otlp" to a local HTTP sink: buffered in Rust, encoded to OTLP
//                    protobuf in Rust when a batch (512) fills, sent with fetch
//   wasm memory      exporter "memory" (spans converted to plain data; cleared every 1000)
//   otel bare        @opentelemetry/sdk-trace-base startActiveSpan with the same three attributes,
//                    AsyncLocalStorage context manager, BatchSpanProcessor into a no-op exporter
//
// Build the size-optimised package first: (cd .. && npm run build:release), then
// npm install && node capture.mjs        Options: ITER=100000 ROUNDS=5 node capture.mjs
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === '--sink') {
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send(srv.address().port));
  process.on('disconnect', () => process.exit(0));
  await new Promise(() => {});
}
const { context } = await import('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
const userspan = await import('../js/node.js');

const ITER = Number(process.env.ITER ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const WARMUP = Math.min(ITER, 20_000);
const opts = { userId: 'user-42', userEmail: 'ada@example.com', sessionId: 'conv-7' };
const attrs = { 'user.id': 'user-42', 'user.email': 'ada@example.com', 'session.id': 'conv-7' };
const noop = () => 1;
const noopExporter = {
  export(_spans, done) {
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
const tick = () => new Promise((r) => setImmediate(r));

// Yields to the event loop every 1000 calls, as a server would between requests (size-triggered
// sends and finalizers run inside the timing). Returns [wall µs, process CPU µs] per call.
async function time(fn, every) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITER; i += 1000) {
    for (let j = 0; j < 1000; j++) fn();
    every?.();
    await tick();
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / ITER;
  const c = process.cpuUsage(c0);
  return [wall, (c.user + c.system) / ITER];
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sink = fork(fileURLToPath(import.meta.url), ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const sinkUrl = `http://127.0.0.1:${await new Promise((r) => sink.once('message', r))}`;

console.log(
  `node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model}), ITER=${ITER}, ROUNDS=${ROUNDS}`,
);
const cm = new AsyncLocalStorageContextManager();
const bareTracer = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] }).getTracer(
  'bench',
);

const contenders = [
  {
    name: 'wasm none',
    setup: () => {
      context.disable();
      userspan.init({ exporter: 'none' });
    },
    fn: () => userspan.capture('support-agent-turn', noop, opts),
  },
  {
    name: 'wasm otlp',
    setup: () => {
      context.disable();
      userspan.init({ endpoint: sinkUrl, maxQueueSize: 100_000 });
    },
    fn: () => userspan.capture('support-agent-turn', noop, opts),
    after: () => userspan.flush(),
  },
  {
    name: 'wasm memory',
    setup: () => {
      context.disable();
      userspan.init({ exporter: 'memory' });
    },
    fn: () => userspan.capture('support-agent-turn', noop, opts),
    every: () => userspan.clearFinishedSpans(),
  },
  {
    name: 'otel bare',
    setup: () => {
      context.disable();
      context.setGlobalContextManager(cm.enable());
    },
    fn: () =>
      bareTracer.startActiveSpan('support-agent-turn', { attributes: attrs }, (span) => {
        noop();
        span.end();
      }),
  },
];

const results = {};
for (const c of contenders) {
  c.setup();
  await time(c.fn, c.every); // warm-up (JIT, allocator)
  await c.after?.();
  const walls = [];
  const cpus = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [w, cpu] = await time(c.fn, c.every);
    // The otlp contender's last partial batch is sent inside the timing too.
    const t0 = process.hrtime.bigint();
    await c.after?.();
    walls.push(w + Number(process.hrtime.bigint() - t0) / 1000 / ITER);
    cpus.push(cpu);
  }
  results[c.name] = { wall: median(walls), cpu: median(cpus) };
  console.log(
    `${c.name.padEnd(12)} ${median(walls).toFixed(2).padStart(7)} µs/call wall   ${median(cpus).toFixed(2).padStart(7)} µs/call CPU (median of ${ROUNDS})`,
  );
}
void WARMUP;
const st = userspan.stats();
console.log(
  `wasm otlp: ${st.spansExported} spans sent to the sink, ${st.spansDropped} dropped, ${st.exportErrors} export errors`,
);
console.log(JSON.stringify(results));
await userspan.shutdown();
sink.disconnect();
sink.kill();
