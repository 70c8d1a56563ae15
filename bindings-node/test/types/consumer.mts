// Type-checked by test/types.test.mjs (ESM consumer, NodeNext resolution).
import {
  capture,
  startCapture,
  withUser,
  getAttributes,
  init,
  flush,
  shutdown,
  stats,
  getFinishedSpans,
  UserAttributesSpanProcessor,
  type CaptureOptions,
  ConfigError,
  UserspanError,
  UserspanTypeError,
  UserspanValueError,
} from 'userspan';
import userspan from 'userspan';

init({ exporter: 'memory', serviceName: 'types' });
const opts: CaptureOptions = {
  userId: 'u',
  userIdType: 'email',
  tags: ['a'],
  metadata: { k: 1 },
  attributes: { n: 1 },
};
const n: number = capture('sync', () => 42, opts);
const p: Promise<string> = capture('async', async () => 'x', { userEmail: 'a@x.io' });
const h = startCapture('manual');
h.setAttribute('k', 1).end(new Error('x'));
const id: string | null | undefined = withUser('u', () => getAttributes().userId);
const e = new Error() as UserspanError;
const code: 'USERSPAN_INVALID_TYPE' | 'USERSPAN_UNKNOWN_OPTION' | 'USERSPAN_INVALID_VALUE' | 'USERSPAN_CONFIG' = e.code;
try {
  init({ exporter: 'memory', userIdHashing: 'replace' });
} catch (err) {
  if (err instanceof UserspanError) void [err.code, err.field];
  if (err instanceof UserspanTypeError || err instanceof UserspanValueError || err instanceof ConfigError)
    void err.code;
}
const viaCtx: Promise<string> = capture('ctx', async (ctx) => ctx.spanId);
const started: number = stats().spansStarted;
const traceId: string = getFinishedSpans()[0]?.traceId ?? '';
new UserAttributesSpanProcessor({ userIdHashing: 'off' });
await flush(1000);
await shutdown();
userspan.capture('default-import', () => 1);
// @ts-expect-error userIdType is an enum
capture('bad', () => 1, { userIdType: 'phone-number' });
void [n, p, id, code, started, traceId, viaCtx];
