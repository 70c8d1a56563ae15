// The host logic of both JavaScript packages, written once: `userspan` (Node, native addon) and
// `userspan-wasm` (WebAssembly core; Node, browsers, edge runtimes) each build this folder into
// their own output and implement a small {@link Backend} over their core. Everything a capture
// means in JavaScript terms lives here: argument checks, the result kinds (sync value,
// Promise/thenable, async iterable) mapped onto span lifetimes, how a thrown value is recorded,
// manual captures, attribute scopes and the OpenTelemetry JS span processor. What differs stays in
// each package: the native module, the context storage (AsyncLocalStorage; the browser's
// synchronous stack), OpenTelemetry JS interop (Node) and the transport (WASM's fetch sending).
//
// Option validation, merging, truncation, hashing, stamping and export are the core's
// (docs/design.md); nothing here knows which options exist.
import { invalidArgument } from './errors.js';
import type {
  AttributeValue,
  CaptureOptions,
  CaptureResult,
  FinishedSpan,
  InitOptions,
  Stats,
  UserOptions,
} from './types.js';

/**
 * What a package provides over its core. `F` is the package's frame: what its context storage
 * holds for a capture or an attribute scope (the scope and the span its children parent on).
 * Methods that take options validate them in the core and throw a userspan error before anything
 * starts; the others never throw for a valid frame.
 */
export interface Backend<F extends object> {
  /** The frame current here, undefined outside any capture or scope. */
  current(): F | undefined;
  /** Calls `fn(arg)` with `frame` current (and whatever else the package makes current with it). */
  run<A, R>(frame: F, fn: (arg: A) => R, arg: A): R;
  /**
   * Starts a capture span `name` with `options` merged over the current scope, child of the
   * current span. `sync`: the capture's function runs right after (not `startCapture`). Undefined
   * when the package runs without telemetry (the WASM module not loaded, or failed).
   */
  startSpan(name: string, options: unknown, sync: boolean): F | undefined;
  /** An attribute scope (no span) with `options` merged over the current scope; undefined as above. */
  startScope(options: unknown): F | undefined;
  /** Ends a capture's span (idempotent). */
  end(frame: F): void;
  /** Ends a capture's span recording a thrown value (`exception` event, status ERROR, `error.type`). */
  endError(frame: F, typeName: string, message: string, stack: string | undefined): void;
  /** The capture outlives the call that started it (its function returned a thenable or an async iterable). */
  keep(frame: F): void;
  /** The merged options of `frame`'s scope (a fresh object). */
  attributes(frame: F): CaptureOptions;
  /** Trace id of the span `frame`'s children parent on, 32 hex chars, or "". */
  traceId(frame: F): string;
  /** Span id of that span, 16 hex chars, or "". */
  spanId(frame: F): string;
  /** Sets one attribute on a capture's span, validated as an entry of the `attributes` option. */
  setAttribute(frame: F, key: string, value: unknown): void;
  /** Builds the export pipeline from `init`'s options. */
  init(options: unknown): void;
  /** Exports what has finished, waiting at most `timeoutMs` (undefined: the core's default); never rejects. */
  flush(timeoutMs: number | undefined): Promise<void>;
  /** Flushes and stops the pipeline, waiting at most `timeoutMs` (undefined: the core's default). */
  shutdown(timeoutMs: number | undefined): Promise<void>;
  stats(): Stats;
  finishedSpans(): FinishedSpan[];
  clearFinishedSpans(): void;
  /** Renders scopes for OpenTelemetry JS spans under one privacy mode (`UserAttributesSpanProcessor`). */
  stamper?(options: unknown): { render(frame: F): Record<string, AttributeValue> };
}

let b: Backend<object>;

/**
 * Makes `backend` the one every function here uses. Each package calls it once, when its entry
 * module loads; a second, different backend in the same realm is refused (the WASM package's
 * `node` and `web` entries cannot run side by side).
 */
export function install<F extends object>(backend: Backend<F>): void {
  if (b !== undefined && b !== backend) {
    throw new Error('userspan: two builds of the package are loaded in one JavaScript realm; import one entry only');
  }
  b = backend as Backend<object>;
}

// ---------------------------------------------------------------------------------------------
// Results and thrown values

/** `[type, message, stack]` recorded for a thrown value: an Error's name, else its JS type. */
function errorInfo(e: unknown): [string, string, string | undefined] {
  try {
    if (e !== null && typeof e === 'object') {
      const o = e as { name?: unknown; message?: unknown; stack?: unknown; constructor?: { name?: unknown } };
      const ctorName = typeof o.constructor?.name === 'string' ? o.constructor.name : '';
      if (e instanceof Error || (typeof o.message === 'string' && typeof o.name === 'string')) {
        const name = typeof o.name === 'string' && o.name ? o.name : ctorName || 'Error';
        return [name, String(o.message ?? ''), typeof o.stack === 'string' ? o.stack : undefined];
      }
      let message: string;
      try {
        message = JSON.stringify(e) ?? String(e);
      } catch {
        message = String(e);
      }
      return [ctorName || 'Object', message, undefined];
    }
    return [e === null ? 'null' : typeof e, String(e), undefined];
  } catch {
    return ['unknown', '(the thrown value could not be read)', undefined];
  }
}

function end(frame: object | undefined): void {
  if (frame !== undefined) b.end(frame);
}

function endWithError(frame: object | undefined, e: unknown): void {
  if (frame === undefined) return;
  const [type, message, stack] = errorInfo(e);
  b.endError(frame, type, message, stack);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  );
}

function runIn<R>(frame: object | undefined, fn: () => R): R {
  return frame === undefined ? fn() : b.run(frame, fn, undefined);
}

type AnyIterator = AsyncIterator<unknown> & {
  return?: (v?: unknown) => Promise<IteratorResult<unknown>>;
  throw?: (e?: unknown) => Promise<IteratorResult<unknown>>;
};

/**
 * Wraps an async iterable so that every step runs inside the frame and (for captures: `owns`) the
 * span ends when iteration ends: `next()` reports done or rejects, or `return()` is called (a
 * `break` out of `for await`). Other properties and methods of the object are passed through
 * (methods bound to the original object, so private fields work).
 */
function wrapAsyncIterable<T extends object>(target: T, frame: object, owns: boolean): T {
  let ended = false;
  const finish = (e?: unknown, failed = false) => {
    if (ended || !owns) return;
    ended = true;
    if (failed) endWithError(frame, e);
    else end(frame);
  };
  const step = (call: () => Promise<IteratorResult<unknown>> | IteratorResult<unknown>, endOnSettle: boolean) => {
    let p: Promise<IteratorResult<unknown>>;
    try {
      p = Promise.resolve(runIn(frame, call));
    } catch (e) {
      finish(e, true);
      return Promise.reject(e);
    }
    return p.then(
      (r) => {
        if (endOnSettle || r?.done) finish();
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
  const self = (): AnyIterator => {
    own ??= wrapIterator(target as unknown as AnyIterator);
    return own;
  };
  const proxy: T = new Proxy(target, {
    get(t, prop) {
      if (prop === Symbol.asyncIterator) {
        if (isIterator) return () => proxy;
        return () =>
          wrapIterator(
            runIn(frame, () => (t as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]() as AnyIterator),
          );
      }
      if (isIterator && (prop === 'next' || prop === 'return' || prop === 'throw')) return self()[prop];
      const v = Reflect.get(t, prop, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return proxy;
}

/** Runs a capture's function in its frame and ends the span when its result settles. */
function settle<R>(frame: object | undefined, fn: (ctx: CaptureContext) => R): CaptureResult<R> {
  const ctx = new CaptureContext(frame);
  let result: R;
  try {
    result = frame === undefined ? fn(ctx) : b.run(frame, fn, ctx);
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
  if (frame === undefined) return (thenable ? Promise.resolve(result) : result) as CaptureResult<R>;
  if (thenable) {
    b.keep(frame);
    return Promise.resolve(result).then(
      (v) => {
        b.end(frame);
        return v;
      },
      (e) => {
        endWithError(frame, e);
        throw e;
      },
    ) as CaptureResult<R>;
  }
  if (iterable) {
    b.keep(frame);
    return wrapAsyncIterable(result as unknown as object, frame, true) as CaptureResult<R>;
  }
  b.end(frame);
  return result as CaptureResult<R>;
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * What a capture's function receives: the capture's ids, and a way back into its scope — after an
 * `await` in runtimes without AsyncLocalStorage (browsers), `ctx.run(() => ...)`.
 */
export class CaptureContext {
  /** @internal */
  constructor(protected readonly frame: object | undefined) {}

  /** Trace id, 32 lower-case hex chars ("" without telemetry). */
  get traceId(): string {
    return this.frame === undefined ? '' : b.traceId(this.frame);
  }
  /** Span id, 16 lower-case hex chars ("" without telemetry). */
  get spanId(): string {
    return this.frame === undefined ? '' : b.spanId(this.frame);
  }
  /**
   * Runs `fn` inside this capture's scope (its span is the parent of spans started there); does
   * not end the span. Returns `fn`'s result unchanged.
   */
  run<R>(fn: () => R): R {
    if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
    return runIn(this.frame, fn);
  }
}

/** A manually ended capture (see {@link startCapture}). */
export class CaptureHandle extends CaptureContext {
  private ended = false;

  /**
   * Sets one attribute on this capture's span (e.g. token usage known only after an LLM call):
   * a string, number, boolean or homogeneous array of those. Returns the handle.
   *
   * @throws {@link UserspanTypeError} (`USERSPAN_INVALID_TYPE`, `field` = `attributes.<key>`) for another value.
   */
  setAttribute(key: string, value: AttributeValue): this {
    if (typeof key !== 'string') throw invalidArgument('key', 'a string', key);
    if (this.frame !== undefined) b.setAttribute(this.frame, key, value);
    return this;
  }
  /**
   * Ends the span; with `error` (any thrown value but undefined) it is first recorded as in
   * {@link capture}. Idempotent: later calls do nothing.
   */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) endWithError(this.frame, error);
    else end(this.frame);
  }
}

/**
 * Runs `fn` in a span `name` with a scope holding `options` (merged over the current scope) for
 * the whole of `fn`; returns `fn`'s result. Latitude's `capture` shape:
 *
 * ```ts
 * await capture("support-agent-turn", async () => agent.run(userMessage), { userId: user.id, userEmail: user.email })
 * ```
 *
 * - The span is a child of the current span (an outer capture, or in Node the current
 *   OpenTelemetry JS span when the app registered a context manager), same trace.
 * - Every span started inside — userspan's, or any OTel JS tracer's with
 *   `UserAttributesSpanProcessor` — carries `user.id`, `session.id`, ... (see {@link CaptureOptions}).
 * - Sync `fn`: the span ends when it returns. Async `fn` / returned thenable: a Promise is
 *   returned and the span ends when it settles. Returned async iterable (e.g. an async generator):
 *   the same object is returned wrapped, and the span ends when iteration ends, fails, or is
 *   stopped (`return()`, `break`).
 * - A throw / rejection is recorded (`exception` event, status ERROR, `error.type` = the error's
 *   `name`, or `typeof` / constructor name for non-Error values) and re-thrown unchanged (the same
 *   object).
 * - `fn` receives a {@link CaptureContext} (the capture's ids, `ctx.run` to re-enter its scope).
 *
 * @throws {@link UserspanTypeError} (`USERSPAN_INVALID_TYPE` / `USERSPAN_UNKNOWN_OPTION`) or
 *   {@link UserspanValueError} (`USERSPAN_INVALID_VALUE`, e.g. `userIdType: "phone-number"`), with
 *   `.field`, before `fn` runs.
 */
export function capture<R>(
  name: string,
  fn: (ctx: CaptureContext) => R,
  options?: CaptureOptions | null,
): CaptureResult<R> {
  if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
  if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
  return settle(b.startSpan(name, options, true), fn);
}

/**
 * Starts a capture span `name` with `options` (child of the current span) without running a
 * function; end it with `handle.end(error?)`. The scope applies inside `handle.run(fn)`.
 *
 * @throws like {@link capture}, before the span starts.
 */
export function startCapture(name: string, options?: CaptureOptions | null): CaptureHandle {
  if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
  return new CaptureHandle(b.startSpan(name, options, false));
}

/**
 * Runs `fn` with `attributes` merged over the current scope (no span of its own); returns `fn`'s
 * result unchanged. With AsyncLocalStorage the scope follows `await`, timers, `queueMicrotask`,
 * promise chains and EventEmitter callbacks emitted from inside it; an async iterable result is
 * wrapped so each step runs in the scope. Leaving restores the outer scope exactly.
 *
 * Merge rules (docs/design.md): scalar options inner wins; `tags` union in order; `metadata`,
 * `userMetadata`, `attributes` shallow merge, inner key wins.
 *
 * @throws like {@link capture}, before `fn` runs.
 */
export function withAttributes<R>(attributes: CaptureOptions | null | undefined, fn: () => R): R {
  if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
  const frame = b.startScope(attributes);
  if (frame === undefined) return fn();
  const result = b.run(frame, fn, undefined);
  if (!isThenable(result) && isAsyncIterable(result))
    return wrapAsyncIterable(result as unknown as object, frame, false) as R;
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
  const frame = b.current();
  return frame === undefined ? {} : b.attributes(frame);
}

/**
 * Bumped by {@link init} and {@link shutdown}: each changes the privacy mode that processors built
 * without options render with, so their per-scope caches are dropped.
 */
let pipelineEpoch = 0;

/**
 * Builds the export pipeline (replacing an earlier one) and makes it the provider of the core's
 * spans; see {@link InitOptions}. Until `init` is called, captures and scopes work but their spans
 * go nowhere. Nothing changes when it throws.
 *
 * @throws {@link UserspanTypeError} / {@link UserspanValueError} with `.field` for a bad option,
 *   {@link ConfigError} (`USERSPAN_CONFIG`) for an unusable configuration (bad endpoint, hashing
 *   without `hashKey`, ...).
 */
export function init(options?: InitOptions | null): void {
  b.init(options);
  pipelineEpoch++;
}

/**
 * Exports every finished span; resolves when done or after `timeoutMs` (default: the core's
 * `DEFAULT_FLUSH_TIMEOUT`, 30 000 ms, as OpenTelemetry's `forceFlush`). Never rejects: failures are
 * counted in {@link stats}.
 */
export function flush(timeoutMs?: number): Promise<void> {
  return b.flush(timeoutMs);
}

/**
 * Flushes and stops the pipeline (later spans are not exported); waits at most `timeoutMs`
 * (default as {@link flush}). Idempotent.
 */
export function shutdown(timeoutMs?: number): Promise<void> {
  return b.shutdown(timeoutMs).finally(() => {
    pipelineEpoch++;
  });
}

/** The core's counters (see {@link Stats}). */
export function stats(): Stats {
  return b.stats();
}

/** Spans finished so far with `init({ exporter: "memory" })`, oldest first (else `[]`). */
export function getFinishedSpans(): FinishedSpan[] {
  return b.finishedSpans();
}

/** Forgets the memory exporter's finished spans. */
export function clearFinishedSpans(): void {
  b.clearFinishedSpans();
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry JS span processor

/** Options of {@link UserAttributesSpanProcessor}. */
export interface UserAttributesSpanProcessorOptions {
  /**
   * As in {@link InitOptions}. With neither option the processor renders with the mode
   * {@link init} configured (the core's, read at each span start), and before `init` / after
   * {@link shutdown} with `USERSPAN_USER_ID_HASHING` (Node), else `"off"`.
   */
  userIdHashing?: 'off' | 'add' | 'replace';
  /** HMAC key; default as `userIdHashing` (`init`'s `hashKey`, else `USERSPAN_HASH_KEY` on Node). */
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
 * included: its own options, else the one {@link init} configured). Add it to your provider: `new BasicTracerProvider({ spanProcessors: [new
 * UserAttributesSpanProcessor(), ...] })`. Spans outside any scope are untouched.
 *
 * @throws like {@link init} for a bad `userIdHashing` / missing `hashKey`.
 */
export class UserAttributesSpanProcessor {
  private readonly stamper: { render(frame: object): Record<string, AttributeValue> };
  private rendered = new WeakMap<object, Record<string, AttributeValue>>();
  private epoch = pipelineEpoch;

  constructor(options: UserAttributesSpanProcessorOptions = {}) {
    if (b.stamper === undefined) throw new Error('userspan: this package has no UserAttributesSpanProcessor');
    this.stamper = b.stamper(options);
  }

  /** Stamps `span` from the current scope. */
  onStart(span: StampableSpan, _parentContext?: unknown): void {
    const frame = b.current();
    if (frame === undefined) return;
    if (this.epoch !== pipelineEpoch) {
      this.rendered = new WeakMap();
      this.epoch = pipelineEpoch;
    }
    let attrs = this.rendered.get(frame);
    if (attrs === undefined) {
      attrs = this.stamper.render(frame);
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
