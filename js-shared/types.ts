// The public types of both JavaScript packages (`userspan` over the native addon, `userspan-wasm`
// over the WebAssembly core). Wire keys and limits are the core's; see docs/design.md.

/** Kind of end-user id, sent as `user.id.type`. */
export type UserIdType = 'email' | 'phone' | 'uuid' | 'custom';

/** A JSON value (metadata content). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An OpenTelemetry attribute value: a primitive or a homogeneous array of primitives. */
export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

/**
 * Options of `capture`, `startCapture` and `withAttributes`. Every option is optional; `null`,
 * `undefined` and `""` mean "unset" (an outer scope's value then applies).
 *
 * Wire keys (docs/design.md; OTel semconv unless noted): `userId` → `user.id`, `userEmail` →
 * `user.email`, `userIdType` → `user.id.type`, `userIdHash` → `user.id.hash`, `userMetadata` →
 * `user.metadata` (JSON text), `sessionId` → `session.id`, `tags` → `tag.tags` (OpenInference),
 * `metadata` → `metadata` (OpenInference, JSON text), `attributes` → as given.
 *
 * Limits: ids, e-mail, session and each tag over 256 characters are truncated; metadata JSON over
 * 4 KiB drops its last keys (adds `"_truncated": true`). Truncations are counted in
 * `stats().valuesTruncated` and never throw.
 */
export interface CaptureOptions {
  /** End-user id (`user.id`). Required for attribution in the Users dashboard. */
  userId?: string | null;
  /** End-user e-mail (`user.email`). */
  userEmail?: string | null;
  /** Kind of id (`user.id.type`): `"email" | "phone" | "uuid" | "custom"`; else a {@link UserspanValueError}. */
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

/** The user-identity part of {@link CaptureOptions} (for `withUser`). */
export type UserOptions = Pick<CaptureOptions, 'userId' | 'userEmail' | 'userIdType' | 'userIdHash' | 'userMetadata'>;

/**
 * Options of `init` (docs/design.md, "Configuration"). The Node package reads unset options from
 * the environment (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, `OTEL_BSP_*`, `USERSPAN_API_KEY`,
 * `USERSPAN_PROJECT`, `USERSPAN_EXPORTER`, `USERSPAN_USER_ID_HASHING`, `USERSPAN_HASH_KEY`,
 * `USERSPAN_PROPAGATE_BAGGAGE`). The WASM package has no environment and takes everything from
 * here; its OTLP spans are buffered in the core and sent with `fetch` (keepalive) when a batch
 * fills, every `scheduledDelayMs`, on `flush`, and when the page is hidden / the Node event loop
 * drains.
 */
export interface InitOptions {
  /** OTLP base URL; `/v1/traces` is appended for HTTP. Default `http://127.0.0.1:4318` (`userspan serve`). */
  endpoint?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. In browsers anyone can read it: use a write-only, per-project key. */
  apiKey?: string;
  /** Resource attribute `userspan.project`. */
  project?: string;
  /** Resource attribute `service.name`. */
  serviceName?: string;
  /**
   * OTLP transport. Default `"http/protobuf"`. Node: also `"http/json"`, and `"grpc"` with a core
   * built with the grpc feature. WASM: `"http/protobuf"` only; another is a `ConfigError`.
   */
  protocol?: 'http/protobuf' | 'http/json' | 'grpc';
  /** Extra export headers (browsers: the receiver must allow them in CORS). */
  headers?: Record<string, string>;
  /** Where spans go. Default `"otlp"`; `"memory"` keeps them for `getFinishedSpans`; `"console"` prints JSON lines; `"none"` drops them. */
  exporter?: 'otlp' | 'memory' | 'console' | 'none';
  /** `"off"` (default), `"add"` (also send `user.id.hash` = hex HMAC-SHA256(hashKey, id)), `"replace"` (send only the hash, drop `user.email`). */
  userIdHashing?: 'off' | 'add' | 'replace';
  /** HMAC key for `userIdHashing` `"add"` / `"replace"`. */
  hashKey?: string;
  /** Opt-in W3C baggage propagation of the scope's user.id and/or session.id (those key names). Default none. */
  propagateBaggage?: string[];
  /** Bounded export queue, spans (default 2048); overflow is dropped and counted. */
  maxQueueSize?: number;
  /** Delay between batch exports, ms (default 5000). */
  scheduledDelayMs?: number;
  /** Spans per export request (default 512). */
  maxExportBatchSize?: number;
  /**
   * Deadline of one export including retries, ms (default 10000). Node: env
   * `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, then `OTEL_EXPORTER_OTLP_TIMEOUT`, then `OTEL_BSP_EXPORT_TIMEOUT`.
   */
  exportTimeoutMs?: number;
  /**
   * Request compression, default `"none"`. `"gzip"`: the body gzip-compressed (`Content-Encoding: gzip`;
   * gRPC's `gzip` encoding). Node: env `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, then
   * `OTEL_EXPORTER_OTLP_COMPRESSION`. WASM: accepted but not applied (the `fetch` sender sends uncompressed).
   */
  compression?: 'gzip' | 'none';
  /**
   * Path of a PEM CA bundle trusted for an `https://` endpoint instead of the default roots (the platform's
   * trust store plus Mozilla's). Read at `init`: a missing or unparsable file is a `ConfigError` naming the
   * option and the path; a server certificate it does not verify is a counted export error, never thrown.
   * Node: env `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`, then `OTEL_EXPORTER_OTLP_CERTIFICATE`.
   * WASM: not available (no file system; TLS is the runtime's `fetch`).
   */
  certificate?: string;
  /**
   * Path of a PEM client certificate chain for mTLS (give `clientKey` too). Node: env
   * `OTEL_EXPORTER_OTLP_(TRACES_)CLIENT_CERTIFICATE`. WASM: not available.
   */
  clientCertificate?: string;
  /** Path of the PEM private key of `clientCertificate`. Node: env `OTEL_EXPORTER_OTLP_(TRACES_)CLIENT_KEY`. WASM: not available. */
  clientKey?: string;
  /**
   * The OpenTelemetry SDK sampler, default `"parentbased_always_on"`. A sampled-out span is neither stamped,
   * counted nor exported: per-user numbers count what is sampled in. Node: env `OTEL_TRACES_SAMPLER`.
   */
  sampler?:
    | 'always_on'
    | 'always_off'
    | 'traceidratio'
    | 'parentbased_always_on'
    | 'parentbased_always_off'
    | 'parentbased_traceidratio';
  /** Ratio of the `traceidratio` samplers, 0.0 to 1.0 (default 1.0). Node: env `OTEL_TRACES_SAMPLER_ARG`. */
  samplerArg?: number;
  /**
   * Extra resource attributes, merged over `OTEL_RESOURCE_ATTRIBUTES` (Node; a key given here wins);
   * `serviceName` wins over a `service.name` here.
   */
  resourceAttributes?: Record<string, string>;
  /**
   * `true`: nothing is recorded or sent; `capture` still runs the function and returns its result.
   * Node: env `OTEL_SDK_DISABLED` (`true` / `false`).
   */
  disabled?: boolean;
  /**
   * Back ends whose own attribute keys are emitted beside the OTel ones: `"langfuse"` (also
   * `langfuse.user.id`, `langfuse.session.id`, `langfuse.trace.tags`, `langfuse.trace.metadata.<key>`).
   * Node: env `USERSPAN_COMPAT` (comma separated). Default none.
   */
  compat?: 'langfuse'[];
  /**
   * Node only (OpenTelemetry JS; the Node package's `otelStatus()` says what it did). Default `true`:
   * spans of OpenTelemetry JS instrumentations are stamped with the current scope and exported through
   * userspan's pipeline (a global provider is registered, or the processor is added once to the app's
   * 1.x provider). WASM: an unknown option (`UserspanTypeError`, `USERSPAN_UNKNOWN_OPTION`).
   */
  otel?: boolean;
  /**
   * Node only: instrumentations to enable when installed: `true` (all of `INSTRUMENTATIONS`), a list of
   * names (e.g. `["openai"]`), or `{ openai: OpenAI }` for ESM apps, whose module the instrumentation
   * cannot patch at load. A missing package is reported in `otelStatus().missing`, never thrown; an
   * unknown name is a `TypeError`. WASM: an unknown option.
   */
  instrument?: boolean | string[] | Record<string, unknown>;
}

/** Counters since the core was loaded (they survive a new `init`). */
export interface Stats {
  /** Spans started under userspan's pipeline. */
  spansStarted: number;
  /** Spans the exporter accepted (OTLP: the receiver answered 2xx; memory: spans it kept). */
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
