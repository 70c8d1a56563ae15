// The public API of userspan-wasm, shared by the Node entry (js/node.js) and the browser / edge
// entry (js/web.js). Thin layer over the WebAssembly core: every option is validated, merged,
// stamped, buffered and OTLP-encoded in Rust. This file only
//   - keeps the current frame (scope + parent span) in a context storage: AsyncLocalStorage where
//     the runtime has one, else a synchronous stack (browsers; see README "Context isolation");
//   - calls the core once per span start and once per end, adapting sync / Promise / async
//     iterable results to span lifetimes (as the Node package does);
//   - sends the core's encoded batches with fetch (keepalive) on flush, by size and by time.

/** Context storage for runtimes without AsyncLocalStorage: a stack that follows synchronous
 * calls only. Code after the first `await` in a callback runs with no frame (never another
 * capture's frame: microtasks start from an empty stack). */
export class SyncStorage {
  constructor() {
    this.current = undefined;
  }
  getStore() {
    return this.current;
  }
  run(frame, fn) {
    const prev = this.current;
    this.current = frame;
    try {
      return fn();
    } finally {
      this.current = prev;
    }
  }
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/** TypeError for a wrong argument type (same shape as the core's errors). */
function invalidArgument(field, expected, got) {
  const e = new TypeError(`userspan: \`${field}\` must be ${expected}, got ${describe(got)}`);
  e.code = 'USERSPAN_INVALID_TYPE';
  e.field = field;
  return e;
}

function isUserspanError(e) {
  return e !== null && typeof e === 'object' && typeof e.code === 'string' && e.code.startsWith('USERSPAN_');
}

/** The current context's entry: a handle on a core frame (scope + parent span). */
class FrameRef {
  constructor(id) {
    this.id = id;
  }
}

const OBJECT_PROTO = Object.prototype;

/**
 * `key\0value\0...` when `options` is a plain object whose values are all strings (the common
 * case: userId, userEmail, sessionId), so the core gets one string instead of enumerating the
 * object across the boundary; '' for no options; undefined for anything else (generic path).
 * Either way the core validates.
 */
function pack(options) {
  if (options === undefined || options === null) return '';
  if (typeof options !== 'object' || Object.getPrototypeOf(options) !== OBJECT_PROTO) return undefined;
  let s = '';
  const keys = Object.keys(options);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = options[k];
    if (typeof v !== 'string' || k.includes('\0') || v.includes('\0')) return undefined;
    s += k + '\0' + v + '\0';
  }
  return s;
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

function isAsyncIterable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v[Symbol.asyncIterator] === 'function';
}

/** [type, message, stack] of a thrown value (as the Node package records it). */
function errorInfo(e) {
  try {
    if (e !== null && typeof e === 'object') {
      const ctor = e.constructor;
      const ctorName = typeof ctor?.name === 'string' ? ctor.name : '';
      if (e instanceof Error || (typeof e.message === 'string' && typeof e.name === 'string')) {
        const name = typeof e.name === 'string' && e.name ? e.name : ctorName || 'Error';
        return [name, String(e.message ?? ''), typeof e.stack === 'string' ? e.stack : undefined];
      }
      let message;
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

const DEFAULT_TIMEOUT_MS = 30_000;
// Browsers cap the bodies of in-flight keepalive requests at 64 KiB in total.
const KEEPALIVE_MAX_BYTES = 60_000;
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 3;

/**
 * Builds the API over a wasm-bindgen module.
 * @param {object} native the wasm-bindgen exports (pkg/node or pkg/web)
 * @param {object} host { storage, ready(): boolean, onExit?(hook): () => void }
 */
export function createApi(native, host) {
  let storage = host.storage;
  // Frames are ids into the core's slab; each JS handle frees its id when collected, so callbacks
  // that outlive their capture (timers, listeners) keep a usable frame.
  const frames = new FinalizationRegistry((id) => {
    try {
      native.freeFrame(id);
    } catch {
      // the module failed; nothing to free
    }
  });
  let broken = false;
  let warned = false;

  function warn(msg) {
    if (warned) return;
    warned = true;
    try {
      console.warn(`userspan: warning: ${msg}; captures keep running your code without telemetry`);
    } catch {
      // no console
    }
  }

  /** Native calls that are not validation: a failure (wasm trap) disables telemetry, never the app. */
  function guard(fn, fallback) {
    if (broken) return fallback;
    try {
      return fn();
    } catch (e) {
      broken = true;
      warn(`the WebAssembly core failed (${e && e.message})`);
      return fallback;
    }
  }

  /** Starts a frame; validation errors are thrown, anything else disables telemetry. */
  function startFrame(kind, name, options) {
    if (broken) return undefined;
    if (!host.ready()) {
      warn('userspan-wasm is not loaded yet (call `await load()` first)');
      return undefined;
    }
    const outer = storage.getStore();
    try {
      const outerId = outer === undefined ? 0 : outer.id;
      const packed = pack(options);
      let id;
      if (kind === 'span') id = packed === undefined ? native.start(name, outerId, options) : native.startPacked(name, outerId, packed);
      else id = packed === undefined ? native.scope(outerId, options) : native.scopePacked(outerId, packed);
      const frame = new FrameRef(id);
      frames.register(frame, id);
      return frame;
    } catch (e) {
      if (isUserspanError(e)) throw e;
      broken = true;
      warn(`the WebAssembly core failed (${e && e.message})`);
      return undefined;
    }
  }

  function run(frame, fn, arg) {
    if (frame === undefined) return fn(arg);
    return storage.run(frame, () => fn(arg));
  }

  function endFrame(frame, error, failed) {
    if (frame === undefined) return;
    const buffered = guard(() => {
      if (!failed) return native.end(frame.id);
      const [type, message, stack] = errorInfo(error);
      return native.endError(frame.id, type, message, stack);
    }, 0);
    if (transport !== null && buffered >= transport.maxExportBatchSize) scheduleSend();
  }

  function wrapAsyncIterable(target, frame, owns) {
    let ended = false;
    const finish = (e, failed = false) => {
      if (ended || !owns) return;
      ended = true;
      endFrame(frame, e, failed);
    };
    const step = (call, endOnSettle) => {
      let p;
      try {
        p = Promise.resolve(run(frame, call));
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
    const wrapIterator = (it) => ({
      next: (...args) => step(() => it.next(...args), false),
      return: (value) => step(() => (typeof it.return === 'function' ? it.return(value) : { done: true, value }), true),
      throw: (error) =>
        step(() => {
          if (typeof it.throw === 'function') return it.throw(error);
          throw error;
        }, false),
    });
    const isIterator = typeof target.next === 'function';
    let own;
    const self = () => (own ??= wrapIterator(target));
    const proxy = new Proxy(target, {
      get(t, prop) {
        if (prop === Symbol.asyncIterator) {
          if (isIterator) return () => proxy;
          return () => wrapIterator(run(frame, () => t[Symbol.asyncIterator]()));
        }
        if (isIterator && (prop === 'next' || prop === 'return' || prop === 'throw')) return self()[prop];
        const v = Reflect.get(t, prop, t);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    return proxy;
  }

  // -------------------------------------------------------------------------------------------
  // Captures and scopes

  /** What a capture's function receives: re-enter the capture's scope after an `await` in
   * runtimes without AsyncLocalStorage (`ctx.run(() => ...)`). */
  class CaptureContext {
    constructor(frame) {
      this._frame = frame;
    }
    /** Trace id, 32 lower-case hex chars ("" without telemetry). */
    get traceId() {
      return this._frame === undefined ? '' : guard(() => native.traceId(this._frame.id), '');
    }
    /** Span id, 16 lower-case hex chars ("" without telemetry). */
    get spanId() {
      return this._frame === undefined ? '' : guard(() => native.spanId(this._frame.id), '');
    }
    /** Runs `fn` inside this capture's scope; returns its result unchanged. */
    run(fn) {
      if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
      return run(this._frame, fn);
    }
  }

  function capture(name, fn, options) {
    if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
    if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
    const frame = startFrame('span', name, options);
    const ctx = new CaptureContext(frame);
    let result;
    try {
      result = run(frame, fn, ctx);
    } catch (e) {
      endFrame(frame, e, true);
      throw e;
    }
    let thenable;
    let iterable = false;
    try {
      thenable = isThenable(result);
      iterable = !thenable && isAsyncIterable(result);
    } catch (e) {
      // a `then` / `Symbol.asyncIterator` getter of the result threw
      endFrame(frame, e, true);
      throw e;
    }
    if (thenable) {
      return Promise.resolve(result).then(
        (v) => {
          endFrame(frame);
          return v;
        },
        (e) => {
          endFrame(frame, e, true);
          throw e;
        },
      );
    }
    if (iterable) return wrapAsyncIterable(result, frame, true);
    endFrame(frame);
    return result;
  }

  class CaptureHandle extends CaptureContext {
    constructor(frame) {
      super(frame);
      this._ended = false;
    }
    /** Sets one span attribute (string, number, boolean or a homogeneous array); returns the handle. */
    setAttribute(key, value) {
      if (typeof key !== 'string') throw invalidArgument('key', 'a string', key);
      const frame = this._frame;
      if (frame !== undefined && !broken) {
        try {
          native.setAttribute(frame.id, key, value);
        } catch (e) {
          if (isUserspanError(e)) throw e;
          broken = true;
          warn(`the WebAssembly core failed (${e && e.message})`);
        }
      }
      return this;
    }
    /** Ends the span (recording `error` when given). Idempotent. */
    end(error) {
      if (this._ended) return;
      this._ended = true;
      if (arguments.length > 0 && error !== undefined) endFrame(this._frame, error, true);
      else endFrame(this._frame);
    }
  }

  function startCapture(name, options) {
    if (typeof name !== 'string') throw invalidArgument('name', 'a string', name);
    return new CaptureHandle(startFrame('span', name, options));
  }

  function withAttributes(attributes, fn) {
    if (typeof fn !== 'function') throw invalidArgument('fn', 'a function', fn);
    const frame = startFrame('scope', undefined, attributes);
    const result = run(frame, fn);
    if (frame !== undefined && !isThenable(result) && isAsyncIterable(result)) return wrapAsyncIterable(result, frame, false);
    return result;
  }

  function withUser(user, fn) {
    if (typeof user === 'string') return withAttributes({ userId: user }, fn);
    if (user === null || typeof user !== 'object') throw invalidArgument('user', 'a string or an object', user);
    return withAttributes(user, fn);
  }

  function withSession(sessionId, fn) {
    if (typeof sessionId !== 'string') throw invalidArgument('sessionId', 'a string', sessionId);
    return withAttributes({ sessionId }, fn);
  }

  function getAttributes() {
    const frame = storage.getStore();
    return frame === undefined ? {} : guard(() => native.attributes(frame.id), {});
  }

  // -------------------------------------------------------------------------------------------
  // Export: the core buffers and encodes; this sends.

  /** From native.init for the OTLP exporter: { url, headers, scheduledDelayMs, maxExportBatchSize, exportTimeoutMs, maxQueueSize }. */
  let transport = null;
  let timer = null;
  let sendScheduled = false;
  let chain = Promise.resolve();
  let removeExitHook = null;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function retryAfterMs(res) {
    const v = res.headers.get('retry-after');
    if (!v) return undefined;
    const s = Number(v);
    if (Number.isFinite(s)) return Math.max(0, s * 1000);
    const at = Date.parse(v);
    return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
  }

  /** POSTs one encoded request; retries network errors, 429 and 502–504 with backoff (honouring
   * Retry-After) within the export timeout. Resolves true on 2xx. Never rejects. */
  async function post(t, bytes) {
    const deadline = Date.now() + t.exportTimeoutMs;
    const headers = { 'content-type': 'application/x-protobuf', ...t.headers };
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let wait;
      const ac = typeof AbortController === 'function' ? new AbortController() : undefined;
      const timeout = ac ? setTimeout(() => ac.abort(), left) : undefined;
      try {
        const res = await fetch(t.url, {
          method: 'POST',
          headers,
          body: bytes,
          keepalive: bytes.length <= KEEPALIVE_MAX_BYTES,
          signal: ac?.signal,
        });
        try {
          await res.arrayBuffer();
        } catch {
          // body not needed
        }
        if (res.ok) return true;
        if (!RETRY_STATUS.has(res.status)) return false;
        wait = retryAfterMs(res);
      } catch {
        // network error or timeout: retried below
      } finally {
        if (timeout !== undefined) clearTimeout(timeout);
      }
      if (attempt >= MAX_ATTEMPTS) return false;
      const backoff = wait ?? 100 * 2 ** (attempt - 1) * (0.5 + Math.random());
      if (Date.now() + backoff >= deadline) return false;
      await sleep(backoff);
    }
  }

  /** Takes every buffered span out of the core as encoded batches. */
  function drainAll(t) {
    const batches = [];
    for (;;) {
      const bytes = guard(() => native.drain(t.maxExportBatchSize), undefined);
      if (bytes === undefined) break;
      batches.push([bytes, guard(() => native.drained(), 0)]);
    }
    return batches;
  }

  async function sendBatches(t, batches) {
    for (const [bytes, n] of batches) {
      const ok = await post(t, bytes);
      guard(() => native.report(n, ok), undefined);
    }
  }

  /** Queues a send of everything buffered now (sends are sequential). */
  function sendNow() {
    const t = transport;
    if (t === null) return chain;
    chain = chain.then(() => sendBatches(t, drainAll(t))).catch(() => {});
    return chain;
  }

  function scheduleSend() {
    if (sendScheduled) return;
    sendScheduled = true;
    setTimeout(() => {
      sendScheduled = false;
      sendNow();
    }, 0);
  }

  function stopTimers() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    if (removeExitHook !== null) removeExitHook();
    removeExitHook = null;
  }

  function init(options) {
    if (!host.ready()) {
      const e = new Error('userspan: call `await load()` before `init()` (the WebAssembly module is not loaded yet)');
      e.code = 'USERSPAN_CONFIG';
      e.field = null;
      throw e;
    }
    const next = native.init(options); // throws TypeError / RangeError / Error before anything changes
    // Spans still buffered for the previous pipeline go to the previous endpoint.
    const old = transport;
    const leftovers = old === null ? [] : drainAll(old);
    broken = false;
    if (leftovers.length > 0) chain = chain.then(() => sendBatches(old, leftovers)).catch(() => {});
    stopTimers();
    transport = next;
    if (transport !== null && typeof setInterval === 'function') {
      timer = setInterval(() => {
        if (guard(() => native.buffered(), 0) > 0) sendNow();
      }, transport.scheduledDelayMs);
      if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref();
    }
    if (host.onExit) {
      removeExitHook = host.onExit(() => {
        if (transport !== null && guard(() => native.buffered(), 0) > 0) return sendNow();
        return undefined;
      });
    }
  }

  function withTimeout(p, timeoutMs) {
    const ms = typeof timeoutMs === 'number' && timeoutMs >= 0 ? timeoutMs : DEFAULT_TIMEOUT_MS;
    let t;
    const timeout = new Promise((resolve) => {
      t = setTimeout(resolve, ms);
    });
    return Promise.race([p, timeout]).then(() => clearTimeout(t));
  }

  async function flush(timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (!host.ready()) return;
    guard(() => native.coreFlush(), false);
    await withTimeout(sendNow(), timeoutMs);
  }

  async function shutdown(timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (!host.ready()) return;
    stopTimers();
    guard(() => native.coreShutdown(), undefined);
    await withTimeout(sendNow(), timeoutMs);
    transport = null;
  }

  function stats() {
    if (!host.ready()) return { spansStarted: 0, spansExported: 0, spansDropped: 0, exportErrors: 0, valuesTruncated: 0 };
    return guard(() => native.stats(), { spansStarted: 0, spansExported: 0, spansDropped: 0, exportErrors: 0, valuesTruncated: 0 });
  }

  function getFinishedSpans() {
    return host.ready() ? guard(() => native.finishedSpans(), []) : [];
  }

  function clearFinishedSpans() {
    if (host.ready()) guard(() => native.clearFinishedSpans(), undefined);
  }

  /** Which context propagation this runtime gets: "async-local-storage" or "sync" (browsers). */
  function contextMode() {
    return storage instanceof SyncStorage ? 'sync' : 'async-local-storage';
  }

  /** Replaces the context storage (an AsyncLocalStorage instance, or undefined for the
   * synchronous stack). Do it before the first capture. */
  function setContextStorage(s) {
    if (s === undefined || s === null) storage = new SyncStorage();
    else if (typeof s.getStore === 'function' && typeof s.run === 'function') storage = s;
    else throw invalidArgument('storage', 'an AsyncLocalStorage instance', s);
  }

  return {
    init,
    capture,
    startCapture,
    withAttributes,
    withUser,
    withSession,
    getAttributes,
    flush,
    shutdown,
    stats,
    getFinishedSpans,
    clearFinishedSpans,
    contextMode,
    setContextStorage,
    CaptureHandle,
    CaptureContext,
  };
}
