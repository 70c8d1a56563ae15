// Interop with OpenTelemetry JS through the API's global registry, so any @opentelemetry/api 1.x
// copy the app uses (and no dependency of ours) is honoured:
//   globalThis[Symbol.for('opentelemetry.js.api.1')].context  -> the registered context manager
//   Symbol.for('OpenTelemetry Context Key SPAN')               -> the span key in a Context
// Both are part of @opentelemetry/api 1.x's stable layout (createContextKey uses Symbol.for).
import { nativeOf, type Frame } from './frame';
import { native } from './native';

const API_KEY = Symbol.for('opentelemetry.js.api.1');
/** The key under which @opentelemetry/api stores the current span in a Context. */
export const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/** Minimal structural view of an OTel JS Context. */
export interface OtelContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OtelContext;
}

/** Minimal structural view of an OTel JS ContextManager. */
export interface OtelContextManager {
  active(): OtelContext;
  with<R>(context: OtelContext, fn: () => R): R;
}

/** The context manager the app registered with @opentelemetry/api, if any. */
export function contextManager(): OtelContextManager | undefined {
  const registry = (globalThis as Record<symbol, { context?: OtelContextManager } | undefined>)[API_KEY];
  return registry?.context;
}

/**
 * Context key (private to userspan) holding the capture frame that was current when a context was
 * made active through the context manager's `with`. When the current capture is not that frame,
 * the capture began after OTel last activated a context, so the capture span is the newer one.
 */
export const ANCHOR_KEY = Symbol('userspan capture anchor');

const wrapped = new WeakSet<object>();
/** Managers found unwrappable: not tried again on every capture. */
const unwrappable = new WeakSet<object>();

/**
 * Makes `cm` (the app's OTel JS context manager) report the current capture span as the active
 * span without a context of its own per capture: `active()` adds the capture span (a
 * {@link CaptureSpan}) only while a capture that began after the last `with` is current, and
 * `with(context, fn)` records that capture in the context (under {@link ANCHOR_KEY}) before
 * delegating. `currentCapture` returns the capture frame in effect (undefined outside captures).
 * Done once per manager; returns false when `cm` cannot be wrapped (frozen, accessors), in which
 * case the caller activates a context per capture instead.
 */
export function wrapContextManager(cm: OtelContextManager, currentCapture: () => Frame | undefined): boolean {
  if (wrapped.has(cm)) return true;
  if (unwrappable.has(cm)) return false;
  const wrappedNow = tryWrap(cm, currentCapture);
  (wrappedNow ? wrapped : unwrappable).add(cm);
  return wrappedNow;
}

function tryWrap(cm: OtelContextManager, currentCapture: () => Frame | undefined): boolean {
  try {
    const active = cm.active;
    const withFn = cm.with as (
      context: OtelContext,
      fn: (...a: unknown[]) => unknown,
      thisArg?: unknown,
      ...args: unknown[]
    ) => unknown;
    if (typeof active !== 'function' || typeof withFn !== 'function') return false;
    let lastBase: OtelContext | undefined;
    let lastFrame: Frame | undefined;
    let lastView: OtelContext | undefined;
    const lazyActive = (): OtelContext => {
      const base = active.call(cm);
      const frame = currentCapture();
      if (frame === undefined || base.getValue(ANCHOR_KEY) === frame) return base;
      if (base !== lastBase || frame !== lastFrame) {
        lastView = base.setValue(SPAN_KEY, new CaptureSpan(frame)).setValue(ANCHOR_KEY, frame);
        lastBase = base;
        lastFrame = frame;
      }
      return lastView as OtelContext;
    };
    const lazyWith = (
      context: OtelContext,
      fn: (...a: unknown[]) => unknown,
      thisArg?: unknown,
      ...args: unknown[]
    ): unknown => {
      const frame = currentCapture();
      const anchored =
        context === undefined ||
        context === null ||
        typeof context.getValue !== 'function' ||
        context.getValue(ANCHOR_KEY) === frame
          ? context
          : context.setValue(ANCHOR_KEY, frame);
      return withFn.call(cm, anchored, fn, thisArg, ...args);
    };
    const target = cm as unknown as Record<string, unknown>;
    try {
      target.active = lazyActive;
      target.with = lazyWith;
    } catch {
      // strict-mode assignment to a frozen object or a getter-only property
    }
    if (target.active !== lazyActive || target.with !== lazyWith) {
      try {
        if (target.active === lazyActive) target.active = active;
        if (target.with === lazyWith) target.with = withFn;
      } catch {
        // cannot be undone either; the per-capture activation still makes the capture current
      }
      return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** An OTel JS span context (structural). */
export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

const INVALID_TRACE = '00000000000000000000000000000000';
const INVALID_SPAN = '0000000000000000';
const HEX32 = /^[0-9a-f]{32}$/i;
const HEX16 = /^[0-9a-f]{16}$/i;

/** The valid span context of `value` when it is an OTel span (anything with `spanContext()`). */
export function validSpanContext(value: unknown): OtelSpanContext | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const get = (value as { spanContext?: unknown }).spanContext;
  if (typeof get !== 'function') return undefined;
  const sc = get.call(value) as OtelSpanContext | undefined;
  if (
    !sc ||
    typeof sc.traceId !== 'string' ||
    typeof sc.spanId !== 'string' ||
    sc.traceId === INVALID_TRACE ||
    sc.spanId === INVALID_SPAN ||
    !HEX32.test(sc.traceId) ||
    !HEX16.test(sc.spanId)
  ) {
    return undefined;
  }
  return sc;
}

/**
 * The span OTel JS sees as current inside a capture: it reports the capture span's ids (so
 * OTel spans started inside become its children, same trace) and forwards `setAttribute(s)` to it.
 * Ending, status, events and links are the capture's business and are ignored here.
 */
export class CaptureSpan {
  private ids: OtelSpanContext | undefined;
  constructor(readonly frame: Frame) {}

  spanContext(): OtelSpanContext {
    if (this.ids === undefined) {
      const ids = native.spanIds(nativeOf(this.frame));
      this.ids = ids
        ? { traceId: ids.traceId, spanId: ids.spanId, traceFlags: ids.traceFlags, isRemote: false }
        : { traceId: INVALID_TRACE, spanId: INVALID_SPAN, traceFlags: 0, isRemote: false };
    }
    return this.ids;
  }
  setAttribute(key: string, value: unknown): this {
    try {
      native.setAttribute(nativeOf(this.frame), key, value);
    } catch {
      // OTel's API never throws into the app; an invalid attribute value is dropped.
    }
    return this;
  }
  setAttributes(attributes: Record<string, unknown>): this {
    if (attributes) for (const k of Object.keys(attributes)) this.setAttribute(k, attributes[k]);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return true;
  }
  recordException(): void {}
}
