// Type-checked by test/types.test.mjs: the generated js/*.d.ts serve a TypeScript consumer of
// both entries (NodeNext resolution).
import {
  type CaptureContext,
  type CaptureOptions,
  ConfigError,
  capture,
  contextMode,
  flush,
  getAttributes,
  init,
  load,
  shutdown,
  startCapture,
  stats,
  UserspanError,
  type UserspanErrorCode,
  UserspanTypeError,
  UserspanValueError,
  withUser,
} from 'userspan-wasm';
import * as web from 'userspan-wasm/web';

await load();
init({ exporter: 'memory', serviceName: 'types' });
const opts: CaptureOptions = { userId: 'u', userIdType: 'email', tags: ['a'], metadata: { k: 1 } };
const n: number = capture('sync', () => 42, opts);
const p: Promise<string> = capture('async', async (ctx: CaptureContext) => ctx.traceId, { sessionId: 's' });
const h = startCapture('manual');
h.setAttribute('k', 1).end(new Error('x'));
const id: string | null | undefined = withUser('u', () => getAttributes().userId);
const mode: 'async-local-storage' | 'sync' = contextMode();
try {
  capture('bad', () => 1, { userId: 'u' });
} catch (e) {
  if (e instanceof UserspanError) {
    const code: UserspanErrorCode = e.code;
    const field: string | null = e.field;
    void [code, field];
  }
  if (e instanceof UserspanTypeError || e instanceof UserspanValueError || e instanceof ConfigError) void e.code;
}
const started: number = stats().spansStarted;
await flush(1000);
await shutdown();
await web.load({ module: new URL('file:///x.wasm') });
// @ts-expect-error userIdType is an enum
capture('bad', () => 1, { userIdType: 'phone-number' });
void [n, p, id, mode, started];
