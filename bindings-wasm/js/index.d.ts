// Types of userspan-wasm (same for the Node entry, js/node.js, and the browser / edge entry,
// js/web.js). The API mirrors the Node package `userspan`.

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
 * Wire keys: `userId` → `user.id`, `userEmail` → `user.email`, `userIdType` → `user.id.type`,
 * `userIdHash` → `user.id.hash`, `userMetadata` → `user.metadata` (JSON text), `sessionId` →
 * `session.id`, `tags` → `tag.tags`, `metadata` → `metadata` (JSON text), `attributes` → as given.
 *
 * Limits: ids, e-mail, session and each tag over 256 characters are truncated; metadata JSON over
 * 4 KiB is cut. Truncations are counted in {@link stats}`().valuesTruncated` and never throw.
 */
export interface CaptureOptions {
  userId?: string | null;
  userEmail?: string | null;
  /** `"email" | "phone" | "uuid" | "custom"`; anything else is a RangeError. */
  userIdType?: UserIdType | null;
  userIdHash?: string | null;
  userMetadata?: Record<string, JsonValue> | null;
  sessionId?: string | null;
  /** Merged with outer scopes' tags, order kept, duplicates dropped. */
  tags?: string[] | null;
  /** Merges shallowly with outer scopes' metadata, inner key wins. */
  metadata?: Record<string, JsonValue> | null;
  /** Extra span attributes. */
  attributes?: Record<string, AttributeValue | null> | null;
}

/** The user-identity part of {@link CaptureOptions} (for {@link withUser}). */
export type UserOptions = Pick<CaptureOptions, 'userId' | 'userEmail' | 'userIdType' | 'userIdHash' | 'userMetadata'>;

/**
 * Options of {@link init}. There is no environment in browsers: everything comes from here.
 * (In Node, the WASM core does not read `process.env` either; use the native `userspan` package
 * for environment configuration.)
 */
export interface InitOptions {
  /** OTLP base URL; `/v1/traces` is appended. Default `http://127.0.0.1:4318` (`userspan serve`). */
  endpoint?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. In browsers, anyone can read it: use a write-only, per-project key. */
  apiKey?: string;
  /** Resource attribute `userspan.project`. */
  project?: string;
  /** Resource attribute `service.name`. */
  serviceName?: string;
  /** Only `"http/protobuf"` (the default) is supported here. */
  protocol?: 'http/protobuf';
  /** Extra request headers (browsers: the receiver must allow them in CORS). */
  headers?: Record<string, string>;
  /** `"otlp"` (default, sent with fetch), `"memory"` ({@link getFinishedSpans}), `"console"` (console.log JSON lines), `"none"`. */
  exporter?: 'otlp' | 'memory' | 'console' | 'none';
  /** `"off"` (default), `"add"` (`user.id.hash` = hex HMAC-SHA256(hashKey, id)), `"replace"` (send only the hash). */
  userIdHashing?: 'off' | 'add' | 'replace';
  /** HMAC key for `userIdHashing`. */
  hashKey?: string;
  /** Accepted for parity; the WASM package sets no baggage headers itself. */
  propagateBaggage?: Array<'user.id' | 'session.id'>;
  /** Bound of the span buffer (default 2048); spans past it are dropped and counted. */
  maxQueueSize?: number;
  /** Periodic send interval, ms (default 5000). */
  scheduledDelayMs?: number;
  /** Spans per request (default 512); a full batch is sent at once. */
  maxExportBatchSize?: number;
  /** Deadline of one request including retries, ms (default 10000). */
  exportTimeoutMs?: number;
}

/** Counters since the module was loaded (they survive a new {@link init}). */
export interface Stats {
  spansStarted: number;
  /** Spans the receiver accepted (2xx); with the memory exporter, spans it kept. */
  spansExported: number;
  /** Spans lost: buffer full, or their request failed after retries. */
  spansDropped: number;
  /** Requests that failed after retries. */
  exportErrors: number;
  valuesTruncated: number;
}

/** A finished span as plain data (memory exporter). Ids are lower-case hex. */
export interface FinishedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** ns since the Unix epoch, decimal string. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, AttributeValue>;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message: string };
  events: Array<{ name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }>;
  resource: Record<string, AttributeValue>;
}

/** `capture`'s result: a Promise for thenables, the value itself otherwise. */
export type CaptureResult<R> = R extends PromiseLike<infer U> ? Promise<U> : R;

/** Error codes of userspan's exceptions (`error.code`). */
export type UserspanErrorCode = 'USERSPAN_INVALID_TYPE' | 'USERSPAN_UNKNOWN_OPTION' | 'USERSPAN_INVALID_VALUE' | 'USERSPAN_CONFIG';

/** Every error userspan throws is a TypeError / RangeError / Error with these fields. */
export interface UserspanError extends Error {
  code: UserspanErrorCode;
  /** The option the error is about (`userId`, `tags[1]`, `attributes.k`), or null. */
  field: string | null;
}

/** What a capture's function receives: the capture's ids and a way to re-enter its scope after
 * an `await` where there is no AsyncLocalStorage (browsers). */
export declare class CaptureContext {
  /** Trace id, 32 lower-case hex chars ("" without telemetry). */
  get traceId(): string;
  /** Span id, 16 lower-case hex chars ("" without telemetry). */
  get spanId(): string;
  /** Runs `fn` inside this capture's scope; returns its result unchanged. */
  run<R>(fn: () => R): R;
}

/** A manually ended capture ({@link startCapture}). */
export declare class CaptureHandle extends CaptureContext {
  /** Sets one span attribute (validated like an `attributes` entry); returns the handle. */
  setAttribute(key: string, value: AttributeValue): this;
  /** Ends the span; with `error` it is recorded first. Idempotent. */
  end(error?: unknown): void;
}

/** Options of {@link load} (browser / edge entry). */
export interface LoadOptions {
  /** The .wasm to instantiate: URL, string, Request, Response, BufferSource or WebAssembly.Module. Default: `userspan_wasm_bg.wasm` next to the glue. */
  module?: URL | string | Request | Response | BufferSource | WebAssembly.Module;
  /** `AsyncLocalStorage` from `node:async_hooks` (Deno, Bun, Workers) so scopes follow `await`. */
  AsyncLocalStorage?: new () => { getStore(): unknown; run<R>(store: unknown, fn: () => R): R };
}

/** Loads the WebAssembly module (browsers / edge: required once before {@link init}; Node: resolves at once). */
export declare function load(options?: LoadOptions): Promise<void>;

/**
 * Builds the export pipeline (replacing an earlier one). OTLP spans are buffered in the core and
 * sent with `fetch` (keepalive) when a batch fills, every `scheduledDelayMs`, on {@link flush},
 * and when the page is hidden / the Node event loop drains.
 * @throws TypeError / RangeError with `.field` for a bad option, Error `USERSPAN_CONFIG` for an unusable configuration.
 */
export declare function init(options?: InitOptions | null): void;

/**
 * Runs `fn` in a span `name` with a scope holding `options` for the whole of `fn`; returns `fn`'s
 * result (a Promise when `fn` returns a thenable; async iterables are wrapped and the span ends
 * when iteration ends). Throws / rejections are recorded and re-thrown unchanged.
 * @throws TypeError / RangeError with `.field`, before `fn` runs.
 */
export declare function capture<R>(name: string, fn: (ctx: CaptureContext) => R, options?: CaptureOptions | null): CaptureResult<R>;

/** Starts a capture span without running a function; end it with `handle.end(error?)`. */
export declare function startCapture(name: string, options?: CaptureOptions | null): CaptureHandle;

/** Runs `fn` with `attributes` merged over the current scope (no span of its own). */
export declare function withAttributes<R>(attributes: CaptureOptions | null | undefined, fn: () => R): R;

/** `withUser("u-42", fn)` or `withUser({ userId, userEmail }, fn)`. */
export declare function withUser<R>(user: string | UserOptions, fn: () => R): R;

/** `withSession("conv-7", fn)` sets `session.id`. */
export declare function withSession<R>(sessionId: string, fn: () => R): R;

/** The merged options of the current scope (`{}` outside any). */
export declare function getAttributes(): CaptureOptions;

/** Sends every buffered span; resolves when done or after `timeoutMs` (default 30000). Never rejects. */
export declare function flush(timeoutMs?: number): Promise<void>;

/** Stops the pipeline and sends what is buffered. Idempotent. */
export declare function shutdown(timeoutMs?: number): Promise<void>;

/** Counters (see {@link Stats}). */
export declare function stats(): Stats;

/** Spans finished so far with `init({ exporter: "memory" })`, oldest first. */
export declare function getFinishedSpans(): FinishedSpan[];

/** Forgets the memory exporter's spans. */
export declare function clearFinishedSpans(): void;

/** `"async-local-storage"` (scopes follow `await`) or `"sync"` (browsers: see README). */
export declare function contextMode(): 'async-local-storage' | 'sync';

/** Uses `storage` (an AsyncLocalStorage instance) for scopes; `undefined` → the synchronous stack. Call before the first capture. */
export declare function setContextStorage(storage: { getStore(): unknown; run<R>(store: unknown, fn: () => R): R } | undefined): void;
