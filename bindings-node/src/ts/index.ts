// userspan for Node.js: attribute OpenTelemetry traces to the end users of an LLM app.
//
// Thin layer over the native core (Rust, napi-rs): every option is validated, merged, stamped and
// exported by the core. This file only keeps the current scope in an AsyncLocalStorage, calls the
// core once per span start and once per end, and adapts JS control flow (sync, Promise/thenable,
// async iterable) to span lifetimes.
import { AsyncLocalStorage } from 'node:async_hooks';
import { invalidArgument } from './errors';
import { endFrame, endFrameWithError, Frame, keepFrame, nativeOf, slotFrame } from './frame';
import { native, type Stamper } from './native';
import { ANCHOR_KEY, CaptureSpan, contextManager, SPAN_KEY, validSpanContext, wrapContextManager, type OtelContext, type OtelContextManager } from './otel';

export type { UserspanError, UserspanErrorCode } from './errors';

// ---------------------------------------------------------------------------------------------
// Types

/** Kind of end-user id, sent as `user.id.type`. */
export type UserIdType = 'email' | 'phone' | 'uuid' | 'custom';

/** A JSON value (metadata content). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An OpenTelemetry attribute value: a primitive or a homogeneous array of primitives. */
export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

/**
 * Options of {@link capture}, {@link startCapture} and {@link withAttributes}. Every option is
 * optional; `null`, `undefined` and `""` mean "unset" (an outer scope's value then applies).
 *
 * Wire keys (DESIGN.md; OTel semconv unless noted): `userId` → `user.id`, `userEmail` →
 * `user.email`, `userIdType` → `user.id.type`, `userIdHash` → `user.id.hash`, `userMetadata` →
 * `user.metadata` (JSON text), `sessionId` → `session.id`, `tags` → `tag.tags` (OpenInference),
 * `metadata` → `metadata` (OpenInference, JSON text), `attributes` → as given.
 *
 * Limits: ids, e-mail, session and each tag over 256 characters are truncated; metadata JSON over
 * 4 KiB drops its last keys (adds `"_truncated": true`). Truncations are counted in
 * {@link stats}`().valuesTruncated` and never throw.
 */
export interface CaptureOptions {
  /** End-user id (`user.id`). Required for attribution in the Users dashboard. */
  userId?: string | null;
  /** End-user e-mail (`user.email`). */
  userEmail?: string | null;
  /** Kind of id (`user.id.type`): `"email" | "phone" | "uuid" | "custom"`; else RangeError. */
  userIdType?: UserIdType | null;
  /** App-computed hash of the id (`user.id.hash`). */
  userIdHash?: string | null;
  /** End-user metadata: plan, tier, region, ... (`user.metadata`, JSON object text). */
  userMetadata?: Record<string, JsonValue> | null;
  /** Conversation id (`session.id`). */
  sessionId?: string | null;
  /** Tags (`tag.tags`): merged with outer scopes' tags, order kept, duplicates dropped. */
  tags?: string[] | null;
  /** Free-form metadata (`metadata`, JSON object text); merges shallowly with outer scopes. */
  metadata?: Record<string, JsonValue> | null;
  /** Extra span attributes; typed options above win over an attribute with the same key. */
  attributes?: Record<string, AttributeValue | null> | null;
}

/** The user-identity part of {@link CaptureOptions} (for {@link withUser}). */
export type UserOptions = Pick<CaptureOptions, 'userId' | 'userEmail' | 'userIdType' | 'userIdHash' | 'userMetadata'>;

/**
 * Options of {@link init}. Unset options come from the environment (DESIGN.md, "Configuration"):
 * `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_PROTOCOL`,
 * `OTEL_SERVICE_NAME`, `OTEL_BSP_*`, `USERSPAN_API_KEY`, `USERSPAN_PROJECT`, `USERSPAN_EXPORTER`,
 * `USERSPAN_USER_ID_HASHING`, `USERSPAN_HASH_KEY`, `USERSPAN_PROPAGATE_BAGGAGE`.
 */
export interface InitOptions {
  /** OTLP base URL; `/v1/traces` is appended for HTTP. Default `http://127.0.0.1:4318` (`userspan serve`). */
  endpoint?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Resource attribute `userspan.project`. */
  project?: string;
  /** Resource attribute `service.name`. */
  serviceName?: string;
  /** OTLP transport. Default `"http/protobuf"` (`"grpc"` needs a core built with the grpc feature). */
  protocol?: 'http/protobuf' | 'http/json' | 'grpc';
  /** Extra export headers. */
  headers?: Record<string, string>;
  /** Where spans go. Default `"otlp"`; `"memory"` keeps them for {@link getFinishedSpans}; `"console"` prints JSON lines; `"none"` drops them. */
  exporter?: 'otlp' | 'memory' | 'console' | 'none';
  /** `"off"` (default), `"add"` (also send `user.id.hash` = hex HMAC-SHA256(hashKey, id)), `"replace"` (send only the hash, drop `user.email`). */
  userIdHashing?: 'off' | 'add' | 'replace';
  /** HMAC key for `userIdHashing` `"add"` / `"replace"`. */
  hashKey?: string;
  /** Opt-in W3C baggage propagation of `"user.id"` / `"session.id"`. Default none. */
  propagateBaggage?: Array<'user.id' | 'session.id'>;
  /** Bounded export queue, spans (default 2048); overflow is dropped and counted. */
  maxQueueSize?: number;
  /** Delay between batch exports, ms (default 5000). */
  scheduledDelayMs?: number;
  /** Spans per export request (default 512). */
  maxExportBatchSize?: number;
  /** Deadline of one export including retries, ms (default 10000). */
  exportTimeoutMs?: number;
}

/** Counters since process start (they survive a new {@link init}). */
export interface Stats {
  /** Spans started under userspan's pipeline. */
  spansStarted: number;
  /** Spans the exporter accepted (OTLP: the receiver answered 2xx). */
  spansExported: number;
  /** Spans lost: queue full, or their batch failed after all retries. */
  spansDropped: number;
  /** Export calls that failed after all retries. */
  exportErrors: number;
  /** Values cut to their limit (see {@link CaptureOptions}). */
  valuesTruncated: number;
}

/** A finished span as plain data (memory exporter). Ids are lower-case hex. */
export interface FinishedSpan {
  name: string;
  /** 32 hex chars. */
  traceId: string;
  /** 16 hex chars. */
  spanId: string;
  /** 16 hex chars, `null` for a root span. */
  parentSpanId: string | null;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** ns since the Unix epoch, as a decimal string (64-bit, as OTLP/JSON spells it). */
  startTimeUnixNano: string;
  /** ns since the Unix epoch, as a decimal string. */
  endTimeUnixNano: string;
  attributes: Record<string, AttributeValue>;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message: string };
  events: Array<{ name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }>;
  /** Resource attributes (`service.name`, `userspan.project`, ...). */
  resource: Record<string, AttributeValue>;
}

/** `capture`'s result: a Promise for thenables, the value itself otherwise. */
export type CaptureResult<R> = R extends PromiseLike<infer U> ? Promise<U> : R;

// ---------------------------------------------------------------------------------------------
// Context

const storage = new AsyncLocalStorage<Frame>();

/**
 * The capture whose span is current for each attribute-scope frame ({@link withAttributes}): the
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

/** Runs `fn` with `frame` current (and, with an OTel context manager, `otelCx` active). */
function runIn<R>(frame: Frame, otel: OtelContextManager | undefined, otelCx: OtelContext | undefined, fn: () => R): R {
  if (otel === undefined || otelCx === undefined) return storage.run(frame, fn);
  return storage.run(frame, () => otel.with(otelCx, fn));
}

const OBJECT_PROTO = Object.prototype;
// Option name -> position in the native fast path, from the core's own list (so nothing here
// knows which options exist: a key missing from this table takes the generic path, where the core
// reports it).
const OPTION_INDEX: Record<string, number> = Object.create(null);
native.optionNames().forEach((n, i) => (OPTION_INDEX[n] = i));
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
function startFrame(name: string, options: unknown, outer: Frame | undefined, slot: boolean, traceId?: string, spanId?: string, sampled?: boolean): Frame {
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
    const ref = native.startSlot(name, o, traceId, spanId, sampled, mask, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
    return slotFrame(ref, outer, mask, v);
  }
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
 * is not one of ours) becomes the parent. The returned context is undefined when the manager is
 * wrapped ({@link wrapContextManager}: it reports the capture span itself); otherwise it is the
 * context to activate so that OTel sees our span as current.
 */
function startWithOtel(name: string, options: unknown, otel: OtelContextManager, slot: boolean): [Frame, OtelContext | undefined] {
  const outer = storage.getStore();
  const lazy = wrapContextManager(otel, currentCapture);
  const outerCapture = captureOf(outer);
  const active = otel.active();
  // Under the wrapped manager, a capture newer than OTel's active context is found without reading
  // OTel's span (active() reports it as a CaptureSpan anyway).
  const current = lazy && outerCapture !== undefined && active.getValue(ANCHOR_KEY) !== outerCapture ? undefined : active.getValue(SPAN_KEY);
  const sc = current instanceof CaptureSpan ? undefined : validSpanContext(current);
  const frame =
    sc !== undefined
      ? startFrame(name, options, outer, slot, sc.traceId, sc.spanId, (sc.traceFlags & 1) === 1)
      : startFrame(name, options, outer, slot);
  return [frame, lazy ? undefined : active.setValue(SPAN_KEY, new CaptureSpan(frame))];
}

function errorInfo(e: unknown): [string, string, string | undefined] {
  try {
    if (e !== null && typeof e === 'object') {
      const o = e as { name?: unknown; message?: unknown; stack?: unknown; constructor?: { name?: unknown } };
      if (e instanceof Error || (typeof o.message === 'string' && typeof o.name === 'string')) {
        const ctorName = typeof o.constructor?.name === 'string' ? o.constructor.name : '';
        const name = typeof o.name === 'string' && o.name ? o.name : ctorName || 'Error';
        return [name, String(o.message ?? ''), typeof o.stack === 'string' ? o.stack : undefined];
      }
      const ctorName = typeof o.constructor?.name === 'string' && o.constructor.name ? o.constructor.name : 'Object';
      let message: string;
      try {
        message = JSON.stringify(e) ?? String(e);
      } catch {
        message = String(e);
      }
      return [ctorName, message, undefined];
    }
    return [e === null ? 'null' : typeof e, String(e), undefined];
  } catch {
    return ['unknown', '(the thrown value could not be read)', undefined];
  }
}

function endWithError(frame: Frame, e: unknown): void {
  const [type, message, stack] = errorInfo(e);
  endFrameWithError(frame, type, message, stack);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function';
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  );
}

type AnyIterator = AsyncIterator<unknown> & { return?: (v?: unknown) => Promise<IteratorResult<unknown>>; throw?: (e?: unknown) => Promise<IteratorResult<unknown>> };

/**
 * Wraps an async iterable so that every step runs inside the frame and (for captures) the span
 * ends when iteration ends: `next()` reports done or rejects, or `return()` is called (a `break`
 * out of `for await`). Other properties and methods of the object are passed through (methods
 * bound to the original object).
 */
function wrapAsyncIterable<T extends object>(
  target: T,
  frame: Frame,
  otel: OtelContextManager | undefined,
  otelCx: OtelContext | undefined,
  owns: boolean,
): T {
  let ended = false;
  const finish = (e?: unknown, failed = false) => {
    if (ended || !owns) return;
    ended = true;
    if (failed) endWithError(frame, e);
    else endFrame(frame);
  };
  const step = (call: () => Promise<IteratorResult<unknown>> | IteratorResult<unknown>, endOnSettle: boolean) => {
    let p: Promise<IteratorResult<unknown>>;
    try {
      p = Promise.resolve(runIn(frame, otel, otelCx, call));
    } catch (e) {
      finish(e, true);
      return Promise.reject(e);
    }
    return p.then(
      (r) => {
        if (endOnSettle || (r && r.done)) finish();
        return r;
      },
      (e) => {
        finish(e, true);
        throw e;
      },
    );
  };
  const wrapIterator = (it: AnyIterator): AnyIterator => ({
    next: (...args: [] | [unknown]) => step(() => it.next(...args), false),
    return: (value?: unknown) =>
      step(() => (typeof it.return === 'function' ? it.return(value) : { done: true, value }), true),
    throw: (error?: unknown) =>
      step(() => {
        if (typeof it.throw === 'function') return it.throw(error);
        throw error;
      }, false),
  });
  const isIterator = typeof (target as { next?: unknown }).next === 'function';
  let own: AnyIterator | undefined;
  const self = (): AnyIterator => (own ??= wrapIterator(target as unknown as AnyIterator));
  const proxy: T = new Proxy(target, {
    get(t, prop) {
      if (prop === Symbol.asyncIterator) {
        if (isIterator) return () => proxy;
        return () =>
          wrapIterator(runIn(frame, otel, otelCx, () => (t as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]() as AnyIterator));
      }
      if (isIterator && (prop === 'next' || prop === 'return' || prop === 'throw')) return self()[prop];
      const v = Reflect.get(t, prop, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return proxy;
}

/** Settles a capture frame around `fn`'s result (sync value, thenable, async iterable). */
function settle<R>(frame: Frame, otel: OtelContextManager | undefined, otelCx: OtelContext | undefined, fn: () => R): CaptureResult<R> {
  let result: R;
  try {
    result = runIn(frame, otel, otelCx, fn);
  } catch (e) {
    endWithError(frame, e);
    throw e;
  }
  let thenable: boolean;
  let iterable = false;
  try {
    thenable = isThenable(result);
    iterable = !thenable && isAsyncIterable(result);
  } catch (e) {
    // a `then` / `Symbol.asyncIterator` getter of the result threw
    endWithError(frame, e);
    throw e;
  }
  if (thenable) {
    keepFrame(frame);
    return Promise.resolve(result).then(
      (v) => {
        endFrame(frame);
        return v;
      },
      (e) => {
        endWithError(frame, e);
        throw e;
      },
    ) as CaptureResult<R>;
  }
  if (iterable) {
    keepFrame(frame);
    return wrapAsyncIterable(result as unknown as object, frame, otel, otelCx, true) as CaptureResult<R>;
  }
  endFrame(frame);
  return result as CaptureResult<R>;
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Runs `fn` in a span `name` with a scope holding `options` (merged over the current scope) for
 * the whole of `fn`; returns `fn`'s result. Latitude's `capture` shape:
 *
 * ```ts
 * await capture("support-agent-turn", async () => agent.run(userMessage), { userId: user.id, userEmail: user.email })
 * ```
 *
 * - The span is a child of the current span (an outer capture, or the current OpenTelemetry JS
 *   span when the app registered a context manager), same trace.
 * - Every span started inside — userspan's, or any OTel JS tracer's with
 *   {@link UserAttributesSpanProcessor} — carries `user.id`, `session.id`, ... (see
 *   {@link CaptureOptions}).
 * - Sync `fn`: the span ends when it returns. Async `fn` / returned thenable: a Promise is
 *   returned and the span ends when it settles. Returned async iterable (e.g. an async generator):
 *   the same object is returned wrapped, and the span ends when iteration ends, fails, or is
 *   stopped (`return()`, `break`).
 * - A throw / rejection is recorded (`exception` event, status ERROR, `error.type` = the error's
 *   `name`, or `typeof` / constructor name for non-Error values) and re-thrown unchanged (the same
 *   object).
 *
 * @throws TypeError (`USERSPAN_INVALID_TYPE` / `USERSPAN_UNKNOWN_OPTION`) or RangeError
 *   (`USERSPAN_INVALID_VALUE`, e.g. `userIdType: "phone-number"`), with `.field`, before `fn` runs.
 */
export function capture<R>(name: string, fn: () => R, options?: CaptureOptions | null): CaptureResult<R> {
  if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
  if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
  const otel = contextManager();
  if (otel === undefined) return settle(startFrame(name, options, storage.getStore(), true), undefined, undefined, fn);
  const [frame, otelCx] = startWithOtel(name, options, otel, true);
  return settle(frame, otel, otelCx, fn);
}

/** A manually ended capture (see {@link startCapture}). */
export class CaptureHandle {
  private ended = false;
  /** @internal */
  constructor(
    private readonly frame: Frame,
    private readonly otel: OtelContextManager | undefined,
    private readonly otelCx: OtelContext | undefined,
  ) {}

  /** Trace id, 32 lower-case hex chars. */
  get traceId(): string {
    return native.spanIds(nativeOf(this.frame))?.traceId ?? '';
  }
  /** Span id, 16 lower-case hex chars. */
  get spanId(): string {
    return native.spanIds(nativeOf(this.frame))?.spanId ?? '';
  }
  /**
   * Runs `fn` inside this capture's scope (its span is the parent of spans started there); does
   * not end the span. Returns `fn`'s result unchanged.
   */
  run<R>(fn: () => R): R {
    if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
    return runIn(this.frame, this.otel, this.otelCx, fn);
  }
  /**
   * Sets one attribute on this capture's span (e.g. token usage known only after an LLM call):
   * a string, number, boolean or homogeneous array of those.
   *
   * @throws TypeError (`USERSPAN_INVALID_TYPE`, `field` = `attributes.<key>`) for another value.
   */
  setAttribute(key: string, value: AttributeValue): this {
    if (typeof key !== 'string') throw invalidArgument('key', 'a string', key);
    native.setAttribute(nativeOf(this.frame), key, value);
    return this;
  }
  /**
   * Ends the span; with `error` (any thrown value) it is first recorded as in {@link capture}.
   * Idempotent: later calls do nothing.
   */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (arguments.length > 0 && error !== undefined) endWithError(this.frame, error);
    else endFrame(this.frame);
  }
}

/**
 * Starts a capture span `name` with `options` (child of the current span) without running a
 * function; end it with `handle.end(error?)`. The scope applies inside `handle.run(fn)`.
 *
 * @throws like {@link capture}, before the span starts.
 */
export function startCapture(name: string, options?: CaptureOptions | null): CaptureHandle {
  if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
  const otel = contextManager();
  if (otel === undefined) return new CaptureHandle(startFrame(name, options, storage.getStore(), false), undefined, undefined);
  const [frame, otelCx] = startWithOtel(name, options, otel, false);
  return new CaptureHandle(frame, otel, otelCx);
}

/**
 * Runs `fn` with `attributes` merged over the current scope (no span of its own); returns `fn`'s
 * result unchanged. The scope follows `await`, timers, `queueMicrotask`, promise chains and
 * EventEmitter callbacks emitted from inside it; an async iterable result is wrapped so each step
 * runs in the scope. Leaving restores the outer scope exactly.
 *
 * Merge rules (DESIGN.md): scalar options inner wins; `tags` union in order; `metadata`,
 * `userMetadata`, `attributes` shallow merge, inner key wins.
 *
 * @throws like {@link capture}, before `fn` runs.
 */
export function withAttributes<R>(attributes: CaptureOptions | null | undefined, fn: () => R): R {
  if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
  const outer = storage.getStore();
  const frame = scopeFrame(attributes, outer);
  if (frame !== outer) scopeOwners.set(frame, captureOf(outer) ?? null);
  const result = storage.run(frame, fn);
  if (!isThenable(result) && isAsyncIterable(result)) {
    return wrapAsyncIterable(result as unknown as object, frame, undefined, undefined, false) as R;
  }
  return result;
}

/**
 * {@link withAttributes} for an end user: `withUser("u-42", fn)` or
 * `withUser({ userId: "u-42", userEmail: "ada@example.com" }, fn)`.
 */
export function withUser<R>(user: string | UserOptions, fn: () => R): R {
  if (typeof user === 'string') return withAttributes({ userId: user }, fn);
  if (user === null || typeof user !== 'object') throw invalidArgument('user', 'a string or an object', user);
  return withAttributes(user, fn);
}

/** {@link withAttributes} for a conversation: `withSession("conv-7", fn)` sets `session.id`. */
export function withSession<R>(sessionId: string, fn: () => R): R {
  if (typeof sessionId !== 'string') throw invalidArgument('sessionId', 'a string', sessionId);
  return withAttributes({ sessionId }, fn);
}

/**
 * The merged options of the current scope (`{}` outside any), e.g.
 * `{ userId: "u-1", sessionId: "s-1", tags: ["vip"] }`. A fresh object each call.
 */
export function getAttributes(): CaptureOptions {
  const frame = storage.getStore();
  return frame === undefined ? {} : (native.frameAttributes(nativeOf(frame)) as CaptureOptions);
}

const DEFAULT_TIMEOUT_MS = 30_000;
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
      () => (flushing = false),
      () => (flushing = false),
    );
  };
  process.on('beforeExit', exitHook);
}

/**
 * Builds the export pipeline (replacing an earlier one, which is flushed) and makes it the
 * process's OpenTelemetry provider in the core. Unset options come from the environment; see
 * {@link InitOptions}. Registers a `beforeExit` listener that flushes (no signal handler is
 * installed or replaced; call `await shutdown()` before `process.exit()`).
 *
 * Until `init` is called, captures and scopes work but their spans go nowhere.
 *
 * @throws TypeError / RangeError with `.field` for a bad option, Error `USERSPAN_CONFIG` for an
 *   unusable configuration (bad endpoint, hashing without `hashKey`, ...). Nothing changes then.
 */
export function init(options?: InitOptions | null): void {
  native.init(options);
  installExitHook();
}

/**
 * Exports every finished span; resolves when done or after `timeoutMs` (default 30 000 ms). The
 * wait happens on a libuv worker thread, never on the event loop. Never rejects: failures are
 * counted in {@link stats}.
 */
export async function flush(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
  await native.flush(timeoutMs);
}

/**
 * Flushes and stops the pipeline (later spans are not exported); waits at most `timeoutMs`
 * (default 30 000 ms) off the event loop. Idempotent.
 */
export async function shutdown(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
  if (exitHook !== undefined) {
    process.removeListener('beforeExit', exitHook);
    exitHook = undefined;
  }
  await native.shutdown(timeoutMs);
}

/** The core's counters (see {@link Stats}). */
export function stats(): Stats {
  return native.stats();
}

/** Spans finished so far with `init({ exporter: "memory" })`, oldest first (else `[]`). */
export function getFinishedSpans(): FinishedSpan[] {
  return native.finishedSpans() as FinishedSpan[];
}

/** Forgets the memory exporter's finished spans. */
export function clearFinishedSpans(): void {
  native.clearFinishedSpans();
}

/** Options of {@link UserAttributesSpanProcessor}. */
export interface UserAttributesSpanProcessorOptions {
  /** As in {@link InitOptions}; default from `USERSPAN_USER_ID_HASHING`, else `"off"`. */
  userIdHashing?: 'off' | 'add' | 'replace';
  /** HMAC key; default from `USERSPAN_HASH_KEY`. */
  hashKey?: string;
}

/** The parts of an OTel JS SDK span the processor touches. */
export interface StampableSpan {
  setAttribute(key: string, value: AttributeValue): unknown;
}

/**
 * A span processor for apps on `@opentelemetry/sdk-trace-base` (or `sdk-trace-node`): stamps
 * every span started inside a {@link capture} / {@link withAttributes} scope with the scope's
 * attributes (`user.id`, `session.id`, ...) at start, rendered by the core (privacy mode
 * included). Add it to your provider: `new BasicTracerProvider({ spanProcessors: [new
 * UserAttributesSpanProcessor(), ...] })`. Spans outside any scope are untouched.
 *
 * @throws like {@link init} for a bad `userIdHashing` / missing `hashKey`.
 */
export class UserAttributesSpanProcessor {
  private readonly stamper: Stamper;
  private readonly rendered = new WeakMap<Frame, Record<string, AttributeValue>>();

  constructor(options: UserAttributesSpanProcessorOptions = {}) {
    this.stamper = new native.Stamper(options);
  }

  /** Stamps `span` from the current scope. */
  onStart(span: StampableSpan, _parentContext?: unknown): void {
    const frame = storage.getStore();
    if (frame === undefined) return;
    let attrs = this.rendered.get(frame);
    if (attrs === undefined) {
      attrs = this.stamper.render(nativeOf(frame)) as Record<string, AttributeValue>;
      this.rendered.set(frame, attrs);
    }
    for (const key in attrs) span.setAttribute(key, attrs[key]);
  }
  /** Nothing to do at end. */
  onEnd(_span?: unknown): void {}
  /** Nothing buffered. */
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  /** Nothing to release. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
