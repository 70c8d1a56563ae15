// userspan for Node.js: attribute OpenTelemetry traces to the end users of an LLM app.
//
// The public API is the shared host source (js-shared/, built into dist/shared/): capture and
// settle for every result kind, scopes, manual captures, error classes, the span processor. This
// file is the Node backend under it: the current frame in an AsyncLocalStorage, the native addon
// (Rust, napi-rs) called once per span start and once per end with the options by position, the
// sync-capture slot fast path (`frame.ts`), the OpenTelemetry JS interop (`otel.ts`) and the
// `beforeExit` flush. Every option is validated, merged, stamped and exported by the core.
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Backend, install } from './shared/api';
import { errorClasses } from './shared/errors';
import type { AttributeValue, CaptureOptions, FinishedSpan } from './shared/types';
import { endFrame, endFrameWithError, Frame, keepFrame, nativeOf, slotFrame } from './frame';
import { native } from './native';
import {
  ANCHOR_KEY,
  CaptureSpan,
  contextManager,
  type OtelContextManager,
  SPAN_KEY,
  validSpanContext,
  wrapContextManager,
} from './otel';

export * from './shared/public';
export {
  type StampableSpan,
  UserAttributesSpanProcessor,
  type UserAttributesSpanProcessorOptions,
} from './shared/api';
export { INSTRUMENTATIONS, type OtelStatus, otelStatus, UserspanSpanProcessor } from './host';
import { beforeFlush, setupOtel, shutdownOtel } from './host';

native.registerErrorClasses(...errorClasses);

// ---------------------------------------------------------------------------------------------
// Context

const storage = new AsyncLocalStorage<Frame>();

/**
 * The capture whose span is current for each attribute-scope frame (`withAttributes`): the
 * enclosing capture's frame, or null outside any capture. Capture frames are not in the map (they
 * are their own capture). Read by the OTel interop, which must tell "a scope inside the same
 * capture" from "a capture that began since OTel last activated a context".
 */
const scopeOwners = new WeakMap<Frame, Frame | null>();

function captureOf(frame: Frame | undefined): Frame | undefined {
  if (frame === undefined) return undefined;
  const owner = scopeOwners.get(frame);
  return owner === undefined ? frame : (owner ?? undefined);
}

/** The capture frame in effect here (undefined outside captures). */
function currentCapture(): Frame | undefined {
  return captureOf(storage.getStore());
}

const OBJECT_PROTO = Object.prototype;
// Option name -> position in the native fast path, from the core's own list (so nothing here
// knows which options exist: a key missing from this table takes the generic path, where the core
// reports it).
const OPTION_INDEX: Record<string, number> = Object.create(null);
native.optionNames().forEach((n, i) => {
  OPTION_INDEX[n] = i;
});
const OPTION_COUNT = native.optionNames().length;
const MAX_ID_CHARS = native.maxIdChars();

/**
 * Set by {@link indexOptions}: every value it read was a string the core keeps whole, or
 * null/undefined (unset), so a capture with these options can live in a native slot and be revived
 * from them (see `frame.ts`).
 */
let revivable = false;

/**
 * Reads a plain options object into `vals` by position and returns the presence mask, or -1 when
 * the object must take the generic native path (not a plain object, or a key the table does not
 * know). No validation happens here: the core does it.
 */
function indexOptions(options: object, vals: unknown[]): number {
  revivable = false;
  if (Object.getPrototypeOf(options) !== OBJECT_PROTO) return -1;
  const o = options as Record<string, unknown>;
  let mask = 0;
  let keepable = true;
  for (const k in o) {
    const i = OPTION_INDEX[k];
    if (i === undefined) return -1;
    const v = o[k];
    vals[i] = v;
    mask |= 1 << i;
    if (v != null && (typeof v !== 'string' || v.length > MAX_ID_CHARS)) keepable = false;
  }
  revivable = keepable;
  return mask;
}

/**
 * Starts a capture span natively. A plain options object crosses as values by position (no
 * property enumeration or key strings across the FFI); anything else goes to the generic path.
 * Either way the core validates and throws before anything starts. With `slot` (a capture whose
 * function has not run yet) and options a slot frame can be revived from, the frame takes a
 * native slot instead of an External.
 */
function startFrame(
  name: string,
  options: unknown,
  outer: Frame | undefined,
  slot: boolean,
  traceId?: string,
  spanId?: string,
  sampled?: boolean,
): Frame {
  const o = nativeOf(outer);
  if (options === undefined || options === null) {
    return slot
      ? slotFrame(native.startSlot(name, o, traceId, spanId, sampled), outer, 0, undefined)
      : new Frame(native.startIdx(name, o, traceId, spanId, sampled));
  }
  const v: unknown[] = new Array(OPTION_COUNT);
  const mask = typeof options === 'object' ? indexOptions(options, v) : -1;
  if (mask < 0) return new Frame(native.start(name, o, traceId, spanId, sampled, options));
  if (slot && revivable) {
    // biome-ignore format: the values by position stay on one line, as the native side reads them
    const ref = native.startSlot(name, o, traceId, spanId, sampled, mask, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
    return slotFrame(ref, outer, mask, v);
  }
  // biome-ignore format: as above
  return new Frame(native.startIdx(name, o, traceId, spanId, sampled, mask, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]));
}

/** {@link startFrame} for an attribute scope (always an External). */
function scopeFrame(options: unknown, outer: Frame | undefined): Frame {
  const o = nativeOf(outer);
  if (options === undefined || options === null) return new Frame(native.scopeIdx(o));
  const v: unknown[] = new Array(OPTION_COUNT);
  const mask = typeof options === 'object' ? indexOptions(options, v) : -1;
  if (mask < 0) return new Frame(native.scope(o, options));
  return new Frame(native.scopeIdx(o, mask, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]));
}

/**
 * Starts a capture span with an OTel JS context manager registered: the current OTel span (when it
 * is not one of ours) becomes the parent. When the manager is wrapped ({@link wrapContextManager})
 * it reports the capture span itself; otherwise the frame keeps the context to activate with it
 * (`frame.otel`) so that OTel sees our span as current.
 */
function startWithOtel(name: string, options: unknown, otel: OtelContextManager, slot: boolean): Frame {
  const outer = storage.getStore();
  const lazy = wrapContextManager(otel, currentCapture);
  const outerCapture = captureOf(outer);
  const active = otel.active();
  // Under the wrapped manager, a capture newer than OTel's active context is found without reading
  // OTel's span (active() reports it as a CaptureSpan anyway).
  const current =
    lazy && outerCapture !== undefined && active.getValue(ANCHOR_KEY) !== outerCapture
      ? undefined
      : active.getValue(SPAN_KEY);
  const sc = current instanceof CaptureSpan ? undefined : validSpanContext(current);
  const frame =
    sc !== undefined
      ? startFrame(name, options, outer, slot, sc.traceId, sc.spanId, (sc.traceFlags & 1) === 1)
      : startFrame(name, options, outer, slot);
  if (!lazy) frame.otel = [otel, active.setValue(SPAN_KEY, new CaptureSpan(frame))];
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Export pipeline

const DEFAULT_TIMEOUT_MS = native.defaultFlushTimeoutMs();
const EXIT_FLUSH_TIMEOUT_MS = 5_000;
let exitHook: (() => void) | undefined;

function installExitHook(): void {
  if (exitHook !== undefined) return;
  let flushing = false;
  let flushedAt = -1;
  exitHook = () => {
    // `beforeExit` fires whenever the loop drains; flush only when spans started since the last
    // flush, so the loop can then end. Signal handlers are never touched.
    const started = native.stats().spansStarted;
    if (flushing || started === flushedAt) return;
    flushing = true;
    flushedAt = started;
    native.flush(EXIT_FLUSH_TIMEOUT_MS).then(
      () => {
        flushing = false;
      },
      () => {
        flushing = false;
      },
    );
  };
  process.on('beforeExit', exitHook);
}

// ---------------------------------------------------------------------------------------------
// The backend of the shared API

const backend: Backend<Frame> = {
  current: () => storage.getStore(),
  run(frame, fn, arg) {
    const otel = frame.otel;
    if (otel === undefined) return storage.run(frame, fn, arg);
    return storage.run(frame, () => otel[0].with(otel[1], () => fn(arg)));
  },
  startSpan(name, options, sync) {
    const otel = contextManager();
    return otel === undefined
      ? startFrame(name, options, storage.getStore(), sync)
      : startWithOtel(name, options, otel, sync);
  },
  startScope(options) {
    const outer = storage.getStore();
    const frame = scopeFrame(options, outer);
    scopeOwners.set(frame, captureOf(outer) ?? null);
    return frame;
  },
  end: endFrame,
  endError: endFrameWithError,
  keep: keepFrame,
  attributes: (frame) => native.frameAttributes(nativeOf(frame)) as CaptureOptions,
  traceId: (frame) => native.spanIds(nativeOf(frame))?.traceId ?? '',
  spanId: (frame) => native.spanIds(nativeOf(frame))?.spanId ?? '',
  setAttribute(frame, key, value) {
    native.setAttribute(nativeOf(frame), key, value);
  },
  // Registers a `beforeExit` listener that flushes (no signal handler is installed or replaced;
  // call `await shutdown()` before `process.exit()`).
  // `otel` and `instrument` are this package's (OpenTelemetry JS, `host.ts`); the rest goes to the core.
  init(options) {
    let core = options;
    let otel: unknown;
    let instrument: unknown;
    if (options !== null && typeof options === 'object' && ('otel' in options || 'instrument' in options)) {
      ({ otel, instrument, ...core } = options as Record<string, unknown>);
    }
    native.init(core);
    installExitHook();
    setupOtel(otel, instrument);
  },
  // The wait happens on a libuv worker thread, never on the event loop.
  async flush(timeoutMs) {
    beforeFlush();
    await native.flush(timeoutMs ?? DEFAULT_TIMEOUT_MS);
  },
  async shutdown(timeoutMs) {
    await shutdownOtel();
    if (exitHook !== undefined) {
      process.removeListener('beforeExit', exitHook);
      exitHook = undefined;
    }
    await native.shutdown(timeoutMs ?? DEFAULT_TIMEOUT_MS);
  },
  stats: () => native.stats(),
  finishedSpans: () => native.finishedSpans() as FinishedSpan[],
  clearFinishedSpans() {
    native.clearFinishedSpans();
  },
  stamper(options) {
    const stamper = new native.Stamper(options);
    return { render: (frame) => stamper.render(nativeOf(frame)) as Record<string, AttributeValue> };
  },
};

install(backend);
