// The WASM backend of the shared host API (../../js-shared, built into js/shared/): what this
// package does differently from the native Node package.
//   - The current frame lives in a context storage: AsyncLocalStorage where the runtime has one,
//     else a synchronous stack (browsers; see README "Context isolation").
//   - Frames are u32 ids into the core's slab, freed when their JS handle is collected.
//   - A failure of the WebAssembly module (a trap) disables telemetry, never the app: captures
//     keep running the app's code. Only validation errors reach the caller.
//   - The core buffers and OTLP-encodes spans; this file sends them with fetch (keepalive) on
//     flush, by size and by time.
// Used by the Node entry (node.ts) and the browser / edge entry (web.ts).
import { type Backend, install } from './shared/api.js';
import { ConfigError, errorClasses, invalidArgument, UserspanError } from './shared/errors.js';
import type { AttributeValue, CaptureOptions, FinishedSpan, Stats } from './shared/types.js';

/** The exports of the wasm-bindgen module this file uses (pkg/node or pkg/web; see ../src/lib.rs). */
export interface NativeWasm {
  start(name: string, outer: number, options: unknown): number;
  startPacked(name: string, outer: number, packed: string): number;
  scope(outer: number, options: unknown): number;
  scopePacked(outer: number, packed: string): number;
  freeFrame(id: number): void;
  end(id: number): number;
  endError(id: number, typeName: string, message: string, stacktrace: string | undefined): number;
  setAttribute(id: number, key: string, value: unknown): void;
  traceId(id: number): string;
  spanId(id: number): string;
  attributes(id: number): CaptureOptions;
  init(options: unknown): Transport | null;
  drain(max: number): Uint8Array<ArrayBuffer> | undefined;
  drained(): number;
  buffered(): number;
  report(spans: number, ok: boolean): void;
  coreFlush(): boolean;
  coreShutdown(): void;
  stats(): Stats;
  finishedSpans(): FinishedSpan[];
  clearFinishedSpans(): void;
  registerErrorClasses(...classes: typeof errorClasses): void;
  defaultFlushTimeoutMs(): number;
  Stamper: new (options: unknown) => { render(id: number): Record<string, AttributeValue> };
}

/** What `native.init` returns for the OTLP exporter: where and how to send. */
interface Transport {
  url: string;
  headers: Record<string, string>;
  scheduledDelayMs: number;
  maxExportBatchSize: number;
  exportTimeoutMs: number;
  maxQueueSize: number;
}

/** A context storage: AsyncLocalStorage's shape. */
export interface ContextStorage {
  getStore(): unknown;
  run<R>(store: unknown, fn: () => R): R;
}

/** Options of `load` (browser / edge entry; the Node entry loads at import and ignores them). */
export interface LoadOptions {
  /** The .wasm to instantiate: URL, string, Request, Response, BufferSource or WebAssembly.Module. Default: `userspan_wasm_bg.wasm` next to the glue. */
  module?: URL | string | Request | Response | BufferSource | WebAssembly.Module;
  /** `AsyncLocalStorage` from `node:async_hooks` (Deno, Bun, Workers) so scopes follow `await`. */
  AsyncLocalStorage?: new () => ContextStorage;
}

/** What an entry provides: the initial storage and how to hook "about to go away". */
export interface Host {
  storage: ContextStorage;
  /** Registers `hook` to run when the page is hidden / the Node event loop drains; returns its remover. */
  onExit?(hook: () => void): (() => void) | undefined;
}

/**
 * Context storage for runtimes without AsyncLocalStorage: a stack that follows synchronous
 * calls only. Code after the first `await` in a callback runs with no frame (never another
 * capture's frame: microtasks start from an empty stack).
 */
export class SyncStorage implements ContextStorage {
  private current: unknown = undefined;
  getStore(): unknown {
    return this.current;
  }
  run<R>(frame: unknown, fn: () => R): R {
    const prev = this.current;
    this.current = frame;
    try {
      return fn();
    } finally {
      this.current = prev;
    }
  }
}

/** The current context's entry: a handle on a core frame (scope + parent span). */
class FrameRef {
  constructor(readonly id: number) {}
}

const OBJECT_PROTO = Object.prototype;
// Browsers cap the bodies of in-flight keepalive requests at 64 KiB in total.
const KEEPALIVE_MAX_BYTES = 60_000;
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 3;
const NO_STATS: Stats = { spansStarted: 0, spansExported: 0, spansDropped: 0, exportErrors: 0, valuesTruncated: 0 };

let native: NativeWasm | undefined;
let host: Host;
let storage: ContextStorage;
let broken = false;
let warned = false;

// Frames are ids into the core's slab; each JS handle frees its id when collected, so callbacks
// that outlive their capture (timers, listeners) keep a usable frame.
const frames = new FinalizationRegistry<number>((id) => {
  try {
    native?.freeFrame(id);
  } catch {
    // the module failed; nothing to free
  }
});

function warn(msg: string): void {
  if (warned) return;
  warned = true;
  try {
    console.warn(`userspan: warning: ${msg}; captures keep running your code without telemetry`);
  } catch {
    // no console
  }
}

function fail(e: unknown): void {
  broken = true;
  warn(`the WebAssembly core failed (${(e as Error | undefined)?.message})`);
}

/** Native calls that are not validation: a failure (wasm trap) disables telemetry, never the app. */
function guard<T>(fn: (n: NativeWasm) => T, fallback: T): T {
  if (broken || native === undefined) return fallback;
  try {
    return fn(native);
  } catch (e) {
    fail(e);
    return fallback;
  }
}

/** A native call that validates: userspan errors reach the caller, anything else disables telemetry. */
function validating<T>(fn: (n: NativeWasm) => T, fallback: T): T {
  if (broken || native === undefined) return fallback;
  try {
    return fn(native);
  } catch (e) {
    if (e instanceof UserspanError) throw e;
    fail(e);
    return fallback;
  }
}

/**
 * `key\0value\0...` when `options` is a plain object whose values are all strings (the common
 * case: userId, userEmail, sessionId), so the core gets one string instead of enumerating the
 * object across the boundary; '' for no options; undefined for anything else (generic path).
 * Either way the core validates.
 */
function pack(options: unknown): string | undefined {
  if (options === undefined || options === null) return '';
  if (typeof options !== 'object' || Object.getPrototypeOf(options) !== OBJECT_PROTO) return undefined;
  const o = options as Record<string, unknown>;
  let s = '';
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = o[k];
    if (typeof v !== 'string' || k.includes('\0') || v.includes('\0')) return undefined;
    s += `${k}\0${v}\0`;
  }
  return s;
}

/** Starts a frame (`name` undefined: a scope); undefined without telemetry. */
function startFrame(name: string | undefined, options: unknown): FrameRef | undefined {
  if (broken) return undefined;
  if (native === undefined) {
    warn('userspan-wasm is not loaded yet (call `await load()` first)');
    return undefined;
  }
  const outer = storage.getStore() as FrameRef | undefined;
  const outerId = outer === undefined ? 0 : outer.id;
  const id = validating((n) => {
    const packed = pack(options);
    if (name === undefined) return packed === undefined ? n.scope(outerId, options) : n.scopePacked(outerId, packed);
    return packed === undefined ? n.start(name, outerId, options) : n.startPacked(name, outerId, packed);
  }, 0);
  if (id === 0) return undefined;
  const frame = new FrameRef(id);
  frames.register(frame, id);
  return frame;
}

function ended(buffered: number): void {
  if (transport !== null && buffered >= transport.maxExportBatchSize) scheduleSend();
}

// ---------------------------------------------------------------------------------------------
// Export: the core buffers and encodes; this sends.

/** From native.init for the OTLP exporter. */
let transport: Transport | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
let sendScheduled = false;
let chain: Promise<void> = Promise.resolve();
let removeExitHook: (() => void) | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function retryAfterMs(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * POSTs one encoded request; retries network errors, 429 and 502–504 with backoff (honouring
 * Retry-After) within the export timeout. Resolves true on 2xx. Never rejects.
 */
async function post(t: Transport, bytes: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const deadline = Date.now() + t.exportTimeoutMs;
  const headers = { 'content-type': 'application/x-protobuf', ...t.headers };
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let wait: number | undefined;
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
function drainAll(t: Transport): Array<[Uint8Array<ArrayBuffer>, number]> {
  const batches: Array<[Uint8Array<ArrayBuffer>, number]> = [];
  for (;;) {
    const bytes = guard((n) => n.drain(t.maxExportBatchSize), undefined);
    if (bytes === undefined) break;
    batches.push([bytes, guard((n) => n.drained(), 0)]);
  }
  return batches;
}

async function sendBatches(t: Transport, batches: Array<[Uint8Array<ArrayBuffer>, number]>): Promise<void> {
  for (const [bytes, spans] of batches) {
    const ok = await post(t, bytes);
    guard((n) => n.report(spans, ok), undefined);
  }
}

/** Queues a send of everything buffered now (sends are sequential). */
function sendNow(): Promise<void> {
  const t = transport;
  if (t === null) return chain;
  chain = chain.then(() => sendBatches(t, drainAll(t))).catch(() => {});
  return chain;
}

function scheduleSend(): void {
  if (sendScheduled) return;
  sendScheduled = true;
  setTimeout(() => {
    sendScheduled = false;
    sendNow();
  }, 0);
}

function stopTimers(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  removeExitHook?.();
  removeExitHook = undefined;
}

function init(n: NativeWasm, options: unknown): void {
  const next = n.init(options); // throws a userspan error before anything changes
  // Spans still buffered for the previous pipeline go to the previous endpoint.
  const old = transport;
  const leftovers = old === null ? [] : drainAll(old);
  broken = false;
  if (old !== null && leftovers.length > 0) chain = chain.then(() => sendBatches(old, leftovers)).catch(() => {});
  stopTimers();
  transport = next;
  if (next !== null && typeof setInterval === 'function') {
    const t = setInterval(() => {
      if (guard((m) => m.buffered(), 0) > 0) sendNow();
    }, next.scheduledDelayMs);
    (t as { unref?: () => void }).unref?.();
    timer = t;
  }
  removeExitHook = host.onExit?.(() => {
    if (transport !== null && guard((m) => m.buffered(), 0) > 0) sendNow();
  });
}

/** Resolves when `p` does or after `timeoutMs` (a number >= 0, else the core's default). */
function withTimeout(n: NativeWasm, p: Promise<void>, timeoutMs: number | undefined): Promise<void> {
  const ms = typeof timeoutMs === 'number' && timeoutMs >= 0 ? timeoutMs : n.defaultFlushTimeoutMs();
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    t = setTimeout(resolve, ms);
  });
  return Promise.race([p, timeout]).then(() => clearTimeout(t));
}

// ---------------------------------------------------------------------------------------------
// The backend of the shared API

const backend: Backend<FrameRef> = {
  current: () => storage.getStore() as FrameRef | undefined,
  run: (frame, fn, arg) => storage.run(frame, () => fn(arg)),
  startSpan: (name, options) => startFrame(name, options),
  startScope: (options) => startFrame(undefined, options),
  end(frame) {
    ended(guard((n) => n.end(frame.id), 0));
  },
  endError(frame, typeName, message, stack) {
    ended(guard((n) => n.endError(frame.id, typeName, message, stack), 0));
  },
  keep() {},
  attributes: (frame) => guard((n) => n.attributes(frame.id), {}),
  traceId: (frame) => guard((n) => n.traceId(frame.id), ''),
  spanId: (frame) => guard((n) => n.spanId(frame.id), ''),
  setAttribute(frame, key, value) {
    validating((n) => n.setAttribute(frame.id, key, value), undefined);
  },
  init(options) {
    if (native === undefined) {
      throw new ConfigError('userspan: call `await load()` before `init()` (the WebAssembly module is not loaded yet)');
    }
    init(native, options);
  },
  async flush(timeoutMs) {
    const n = native;
    if (n === undefined) return;
    guard((m) => m.coreFlush(), false);
    await withTimeout(n, sendNow(), timeoutMs);
  },
  async shutdown(timeoutMs) {
    const n = native;
    if (n === undefined) return;
    stopTimers();
    guard((m) => m.coreShutdown(), undefined);
    await withTimeout(n, sendNow(), timeoutMs);
    transport = null;
  },
  stats: () => guard((n) => n.stats(), { ...NO_STATS }),
  finishedSpans: () => guard((n) => n.finishedSpans(), []),
  clearFinishedSpans() {
    guard((n) => n.clearFinishedSpans(), undefined);
  },
  stamper(options) {
    if (native === undefined) {
      throw new ConfigError(
        'userspan: call `await load()` before creating a UserAttributesSpanProcessor (the WebAssembly module is not loaded yet)',
      );
    }
    const stamper = new native.Stamper(options);
    return { render: (frame) => stamper.render(frame.id) };
  },
};

/** Installs this backend under the shared API with `entry`'s storage and exit hook. */
export function setup(entry: Host): void {
  host = entry;
  storage = entry.storage;
  install(backend);
}

/** Starts using the instantiated wasm-bindgen module (its core errors become userspan's classes). */
export function attach(module: NativeWasm): void {
  module.registerErrorClasses(...errorClasses);
  native = module;
}

/** Which context propagation this runtime gets: "async-local-storage" or "sync" (browsers). */
export function contextMode(): 'async-local-storage' | 'sync' {
  return storage instanceof SyncStorage ? 'sync' : 'async-local-storage';
}

/**
 * Uses `s` (an AsyncLocalStorage instance) for scopes; `undefined` → the synchronous stack. Call
 * before the first capture.
 *
 * @throws {@link UserspanTypeError} for anything without `getStore` and `run`.
 */
export function setContextStorage(s: ContextStorage | undefined | null): void {
  if (s === undefined || s === null) storage = new SyncStorage();
  else if (typeof s.getStore === 'function' && typeof s.run === 'function') storage = s;
  else throw invalidArgument('storage', 'an AsyncLocalStorage instance', s);
}
