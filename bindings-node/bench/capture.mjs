// Per-call cost of a capture (sync no-op fn, userId + userEmail + sessionId), in one process:
//
//   userspan              capture(name, fn, opts), exporter "none" (spans stamped, then dropped)
//   userspan+otel         the same with an OTel JS context manager registered (interop path:
//                         OTel parent lookup + our span made current in the OTel context)
//   userspan otlp         exporter "otlp" to a local HTTP sink (batched on the core's thread)
//   latitude              @latitude-data/telemetry's capture with LatitudeSpanProcessor on a
//                         BasicTracerProvider, its exporter replaced by a no-op one (no network)
//   otel bare             @opentelemetry/sdk-trace-base startActiveSpan with the same three
//                         attributes, BatchSpanProcessor into a no-op exporter
//
// Build the addon in release first: (cd .. && npm run build), then: npm install && node capture.mjs
// Options: ITER=200000 ROUNDS=7 node capture.mjs
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
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { capture as latitudeCapture, LatitudeSpanProcessor } from '@latitude-data/telemetry';
import * as userspan from 'userspan';

const ITER = Number(process.env.ITER ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const WARMUP = Math.min(ITER, 50_000);
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

// Yields to the event loop every 1000 calls, as a server would between requests: batch
// processors get to export and Node-API finalizers run, and their cost is inside the timing.
// Returns [wall µs per call, process CPU µs per call (all threads: user + system)]. CPU time is
// the steadier figure on a shared machine: time spent descheduled does not count.
async function time(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITER; i += 1000) {
    for (let j = 0; j < 1000; j++) fn();
    await tick();
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / ITER;
  const c = process.cpuUsage(c0);
  return [wall, (c.user + c.system) / ITER];
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// A local OTLP sink in a child process (so the busy benchmark loop cannot stall it): answers every
// request 200 with an empty ExportTraceServiceResponse.
const sink = fork(fileURLToPath(import.meta.url), ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const sinkPort = await new Promise((r) => sink.once('message', r));
const sinkUrl = `http://127.0.0.1:${sinkPort}`;

console.log(
  `node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model}), ITER=${ITER}, ROUNDS=${ROUNDS}`,
);

// OTel JS: an async-hooks context manager (enabled only for the contenders that use it) and a
// global provider for Latitude, whose capture uses the global tracer.
const otelContextManager = new AsyncLocalStorageContextManager();
const withOtel = (on) => {
  context.disable();
  if (on) context.setGlobalContextManager(otelContextManager.enable());
};
const latitudeProvider = new BasicTracerProvider({
  spanProcessors: [new LatitudeSpanProcessor('local-bench-key', 'bench', { exporter: noopExporter })],
});
trace.setGlobalTracerProvider(latitudeProvider);
const bareTracer = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] }).getTracer(
  'bench',
);

const contenders = [
  {
    name: 'userspan',
    setup: () => {
      withOtel(false);
      return userspan.init({ exporter: 'none' });
    },
    fn: () => userspan.capture('support-agent-turn', noop, opts),
  },
  {
    name: 'userspan+otel',
    setup: () => {
      withOtel(true);
      return userspan.init({ exporter: 'none' });
    },
    fn: () => userspan.capture('support-agent-turn', noop, opts),
  },
  {
    name: 'userspan otlp',
    setup: () => {
      withOtel(false);
      return userspan.init({ exporter: 'otlp', endpoint: sinkUrl });
    },
    fn: () => userspan.capture('support-agent-turn', noop, opts),
  },
  {
    name: 'latitude',
    setup: () => withOtel(true),
    fn: () => latitudeCapture('support-agent-turn', noop, opts),
  },
  {
    name: 'otel bare',
    setup: () => withOtel(true),
    fn: () =>
      bareTracer.startActiveSpan('support-agent-turn', { attributes: attrs }, (span) => {
        noop();
        span.end();
      }),
  },
];

// Warm up each, then interleave the rounds so machine load hits every contender alike.
for (const c of contenders) {
  await c.setup();
  for (let i = 0; i < WARMUP; i += 1000) {
    for (let j = 0; j < 1000; j++) c.fn();
    await tick();
  }
  c.rounds = [];
  c.cpu = [];
}
for (let r = 0; r < ROUNDS; r++) {
  for (const c of contenders) {
    await c.setup();
    const [wall, cpu] = await time(c.fn);
    c.rounds.push(wall);
    c.cpu.push(cpu);
  }
}
const results = {};
for (const c of contenders) {
  results[c.name] = { median: median(c.rounds), min: Math.min(...c.rounds), cpu: median(c.cpu) };
  const r = results[c.name];
  console.log(
    `${c.name.padEnd(16)} wall ${r.median.toFixed(3)} µs/call (min ${r.min.toFixed(3)}), CPU ${r.cpu.toFixed(3)} µs/call`,
  );
}
await userspan.flush(5000);
const st = userspan.stats();
console.log(
  `userspan stats: ${st.spansStarted} started, ${st.spansExported} exported, ${st.spansDropped} dropped, ${st.exportErrors} export errors`,
);
await userspan.shutdown(2000);
sink.disconnect();
sink.kill();

const r = (a, b) =>
  `${(results[b].median / results[a].median).toFixed(2)}x wall, ${(results[b].cpu / results[a].cpu).toFixed(2)}x CPU`;
console.log('\nratios (how many times faster userspan is; medians):');
console.log(`  latitude / userspan       = ${r('userspan', 'latitude')}`);
console.log(`  latitude / userspan+otel  = ${r('userspan+otel', 'latitude')}`);
console.log(`  otel bare / userspan      = ${r('userspan', 'otel bare')}`);
console.log(`  otel bare / userspan+otel = ${r('userspan+otel', 'otel bare')}`);
console.log(JSON.stringify(results));
