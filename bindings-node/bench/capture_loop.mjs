// N sync captures (userId + userEmail + sessionId, no-op fn, nothing exported), for
// instructions.sh: run under callgrind at two N, the difference divided by the extra calls is the
// per-capture instruction count (JS, the addon and V8's collection of the frames alike), whatever
// else the machine does. Yields to the event loop every 1000 calls, as capture.mjs does, so
// Node-API finalizers run inside the count.
// Usage: node capture_loop.mjs plain|otel N   (otel registers an OTel JS context manager first)
const [mode, n] = [process.argv[2], Number(process.argv[3])];
if (mode === 'otel') {
  const { context } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
} else if (mode !== 'plain') {
  throw new Error('mode must be plain or otel');
}
const userspan = await import('userspan');
userspan.init({ exporter: 'none' });
const opts = { userId: 'user-42', userEmail: 'ada@example.com', sessionId: 'conv-7' };
const noop = () => 1;
for (let i = 0; i < n; i += 1000) {
  for (let j = 0; j < 1000; j++) userspan.capture('support-agent-turn', noop, opts);
  await new Promise((r) => setImmediate(r));
}
