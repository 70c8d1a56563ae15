// OpenTelemetry JS spans through the core: `UserspanSpanProcessor` stamps the current scope at
// start (the shared `UserAttributesSpanProcessor`) and at end hands the finished `ReadableSpan`
// (sdk-trace-base 1.x and 2.x) to the pipeline `init` built, in one native call per tick (or per
// MAX_BATCH spans), so OTel spans leave through the same exporter, queue and resource as capture
// spans. `setupOtel` is `init`'s `otel` / `instrument` step.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { UserAttributesSpanProcessor, type UserAttributesSpanProcessorOptions } from './shared/api';
import { native } from './native';

/** The compact shape the addon reads (see `src/host_span.rs`, `JsHostSpan`). */
export interface HostSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  parentIsRemote?: boolean;
  traceFlags: number;
  traceState?: string;
  name: string;
  kind: number;
  startTime: [number, number];
  endTime: [number, number];
  attributes?: Record<string, unknown>;
  droppedAttributesCount?: number;
  events?: {
    name: string;
    time: [number, number];
    attributes?: Record<string, unknown>;
    droppedAttributesCount?: number;
  }[];
  droppedEventsCount?: number;
  links?: {
    traceId: string;
    spanId: string;
    traceFlags?: number;
    traceState?: string;
    attributes?: Record<string, unknown>;
    droppedAttributesCount?: number;
  }[];
  droppedLinksCount?: number;
  statusCode?: number;
  statusMessage?: string;
  scopeName?: string;
  scopeVersion?: string;
  scopeSchemaUrl?: string;
}

interface JsSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: { serialize(): string };
}

/** The fields of an OTel JS `ReadableSpan` (sdk-trace-base 1.x and 2.x) read at end. */
export interface ReadableSpanLike {
  spanContext(): JsSpanContext;
  /** 2.x */
  parentSpanContext?: JsSpanContext;
  /** 1.x */
  parentSpanId?: string;
  name: string;
  kind: number;
  startTime: [number, number];
  endTime: [number, number];
  attributes: Record<string, unknown>;
  events: {
    name: string;
    time: [number, number];
    attributes?: Record<string, unknown>;
    droppedAttributesCount?: number;
  }[];
  links: { context: JsSpanContext; attributes?: Record<string, unknown>; droppedAttributesCount?: number }[];
  status: { code: number; message?: string };
  /** 2.x */
  instrumentationScope?: { name: string; version?: string; schemaUrl?: string };
  /** 1.x */
  instrumentationLibrary?: { name: string; version?: string; schemaUrl?: string };
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
}

/** `span` in the addon's compact shape. */
export function toHostSpan(span: ReadableSpanLike): HostSpan {
  const sc = span.spanContext();
  const parent = span.parentSpanContext;
  const scope = span.instrumentationScope ?? span.instrumentationLibrary;
  const out: HostSpan = {
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId: parent?.spanId ?? span.parentSpanId,
    parentIsRemote: parent?.isRemote,
    traceFlags: sc.traceFlags,
    traceState: sc.traceState?.serialize(),
    name: span.name,
    kind: span.kind,
    startTime: span.startTime,
    endTime: span.endTime,
    attributes: span.attributes,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    statusCode: span.status?.code,
    statusMessage: span.status?.message,
    scopeName: scope?.name,
    scopeVersion: scope?.version,
    scopeSchemaUrl: scope?.schemaUrl,
  };
  if (span.events?.length) out.events = span.events;
  if (span.links?.length)
    out.links = span.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceFlags: l.context.traceFlags,
      traceState: l.context.traceState?.serialize(),
      attributes: l.attributes,
      droppedAttributesCount: l.droppedAttributesCount,
    }));
  return out;
}

/** Ended spans are handed to the core in one call per tick, or as soon as this many wait. */
export const MAX_BATCH = 512;

let pending: HostSpan[] = [];
let scheduled = false;

/** Hands the waiting spans to the core now. Never throws (telemetry never raises into the app). */
export function drainHostSpans(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const batch = pending;
  pending = [];
  try {
    native.exportHostSpans(batch);
  } catch {
    // a span the addon could not read is dropped; the app is not told
  }
}

/**
 * A span processor for OpenTelemetry JS (`@opentelemetry/sdk-trace-base` / `sdk-trace-node` 1.x
 * and 2.x): stamps every span started inside a capture / scope with the scope's attributes (as
 * {@link UserAttributesSpanProcessor}) and exports every ended, sampled span through the pipeline
 * {@link init} built (same exporter, endpoint, queue and `service.name` as capture spans). Before
 * `init`, after `shutdown` or with exporter `"none"` ended spans are counted and dropped.
 * `init()` registers it on its own provider; an app with its own SDK 2.x provider adds it:
 * `new NodeTracerProvider({ spanProcessors: [new UserspanSpanProcessor(), ...] })`.
 *
 * @throws like {@link init} for a bad `userIdHashing` / missing `hashKey`.
 */
export class UserspanSpanProcessor extends UserAttributesSpanProcessor {
  constructor(options: UserAttributesSpanProcessorOptions = {}) {
    super(options);
  }
  /** Queues `span` for the core (one native call per tick or per {@link MAX_BATCH} spans). */
  override onEnd(span?: unknown): void {
    if (span === undefined || span === null) return;
    try {
      pending.push(toHostSpan(span as ReadableSpanLike));
    } catch {
      return;
    }
    if (pending.length >= MAX_BATCH) drainHostSpans();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(drainHostSpans);
    }
  }
  /** Hands waiting spans to the core and flushes its pipeline. */
  override async forceFlush(): Promise<void> {
    drainHostSpans();
    await native.flush(native.defaultFlushTimeoutMs());
  }
  /** Hands waiting spans to the core (the pipeline itself stops with userspan's `shutdown`). */
  override shutdown(): Promise<void> {
    drainHostSpans();
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------
// init({ otel, instrument })

/** Instrumentation names `init({ instrument })` accepts. */
export const INSTRUMENTATIONS = ['openai'] as const;

/** What `init` did for OpenTelemetry JS (see {@link otelStatus}). */
export interface OtelStatus {
  /**
   * `"registered"`: init registered a global provider exporting through userspan; `"added"`: the
   * processor was added to the app's 1.x provider; `"app"`: the app's provider cannot take it (2.x),
   * add `UserspanSpanProcessor` to its `spanProcessors`; `"off"`: `otel: false` or no
   * `@opentelemetry/api` / `sdk-trace-base` resolvable.
   */
  provider: 'registered' | 'added' | 'app' | 'off';
  /** Instrumentations `instrument` enabled (e.g. `["openai"]`). */
  instrumentations: string[];
  /** Instrumentations asked for but not installed. */
  missing: string[];
}

let status: OtelStatus = { provider: 'off', instrumentations: [], missing: [] };
let ownProvider: { shutdown?(): Promise<void> } | undefined;
// App providers (1.x) that already hold a processor of ours: a later `init` must not add a second
// one, which would export each of their spans twice.
const providersWithProcessor = new WeakSet<object>();
const warned = new Set<string>();

function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(message, 'UserspanWarning');
}

/** What the last `init` did for OpenTelemetry JS. */
export function otelStatus(): OtelStatus {
  return { ...status, instrumentations: [...status.instrumentations], missing: [...status.missing] };
}

function appRequire(): (id: string) => unknown {
  const fromApp = createRequire(join(process.cwd(), 'index.js'));
  const fromUs = createRequire(__filename);
  return (id) => {
    try {
      return fromApp(id);
    } catch {
      return fromUs(id);
    }
  };
}

function tryRequire(req: (id: string) => unknown, id: string): Record<string, unknown> | undefined {
  try {
    return req(id) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

type Instrument = boolean | string[] | Record<string, unknown> | undefined;

function instrumentNames(instrument: Instrument): [string[], Record<string, unknown>] {
  if (instrument === undefined || instrument === false) return [[], {}];
  if (instrument === true) return [[...INSTRUMENTATIONS], {}];
  const names = Array.isArray(instrument) ? instrument : Object.keys(instrument);
  for (const n of names)
    if (!(INSTRUMENTATIONS as readonly string[]).includes(n))
      throw new TypeError(
        `userspan: init option "instrument" has unknown instrumentation ${JSON.stringify(n)}; allowed: ${INSTRUMENTATIONS.join(', ')} (or true)`,
      );
  return [names, Array.isArray(instrument) ? {} : instrument];
}

/**
 * `init`'s OpenTelemetry JS step: `otel` (default true) makes OTel JS spans export through userspan,
 * `instrument` enables installed instrumentations (`true`, a list of names, or `{ openai: OpenAI }`
 * for ESM apps, whose module the instrumentation cannot patch at load). Never throws for a missing
 * package; throws `TypeError` for an unknown instrumentation name or a bad `otel` value.
 */
export function setupOtel(otel: unknown, instrument: unknown): OtelStatus {
  if (otel !== undefined && typeof otel !== 'boolean')
    throw new TypeError(`userspan: init option "otel" must be true or false, got ${typeof otel}`);
  if (
    instrument !== undefined &&
    typeof instrument !== 'boolean' &&
    (typeof instrument !== 'object' || instrument === null)
  )
    throw new TypeError(
      'userspan: init option "instrument" must be true, false, a list of names or { openai: module }',
    );
  const [names, modules] = instrumentNames(instrument as Instrument);
  status = { provider: 'off', instrumentations: [], missing: [] };
  if (otel === false) return otelStatus();
  const req = appRequire();
  const api = tryRequire(req, '@opentelemetry/api') as
    | {
        trace: { getTracerProvider(): { getDelegate?(): unknown }; setGlobalTracerProvider(p: unknown): boolean };
        context: { setGlobalContextManager(cm: unknown): boolean };
      }
    | undefined;
  if (api === undefined) {
    if (names.length) status.missing = names;
    return otelStatus();
  }
  const global = api.trace.getTracerProvider();
  const delegate = (global.getDelegate?.() ?? global) as {
    constructor?: { name?: string };
    addSpanProcessor?(p: unknown): void;
  };
  const isNoop = delegate?.constructor?.name === 'NoopTracerProvider';
  if (ownProvider !== undefined && delegate === ownProvider) {
    // a later init: the provider registered by an earlier one still exports through the core
    status.provider = 'registered';
  } else if (!isNoop) {
    if (typeof delegate.addSpanProcessor === 'function') {
      if (!providersWithProcessor.has(delegate)) {
        delegate.addSpanProcessor(new UserspanSpanProcessor());
        providersWithProcessor.add(delegate);
      }
      status.provider = 'added';
    } else {
      status.provider = 'app';
      warnOnce(
        'app-provider',
        'userspan: the app registered its own OpenTelemetry provider (SDK 2.x cannot take processors after construction): ' +
          'add `new UserspanSpanProcessor()` to its `spanProcessors` so its spans are stamped and exported through userspan',
      );
    }
  } else {
    const sdk = (tryRequire(req, '@opentelemetry/sdk-trace-node') ??
      tryRequire(req, '@opentelemetry/sdk-trace-base')) as
      | { BasicTracerProvider?: new (c: unknown) => unknown; NodeTracerProvider?: new (c: unknown) => unknown }
      | undefined;
    const Provider = sdk?.NodeTracerProvider ?? sdk?.BasicTracerProvider;
    if (Provider === undefined) {
      warnOnce(
        'no-sdk',
        'userspan: @opentelemetry/api is installed but no @opentelemetry/sdk-trace-base / sdk-trace-node: OpenTelemetry spans of instrumentations reach no exporter',
      );
    } else {
      const processor = new UserspanSpanProcessor();
      const provider = new Provider({ spanProcessors: [processor] }) as {
        addSpanProcessor?(p: unknown): void;
        register?(): void;
        shutdown?(): Promise<void>;
        _activeSpanProcessor?: unknown;
      };
      // 1.x ignores `spanProcessors` and has addSpanProcessor
      if (typeof provider.addSpanProcessor === 'function') provider.addSpanProcessor(processor);
      if (!contextManagerRegistered()) {
        const cam = tryRequire(req, '@opentelemetry/context-async-hooks') as
          | { AsyncLocalStorageContextManager?: new () => { enable(): unknown } }
          | undefined;
        if (cam?.AsyncLocalStorageContextManager)
          api.context.setGlobalContextManager(new cam.AsyncLocalStorageContextManager().enable());
        else
          warnOnce(
            'no-cm',
            'userspan: no OpenTelemetry context manager and no @opentelemetry/context-async-hooks: OTel spans will not nest across awaits',
          );
      }
      if (api.trace.setGlobalTracerProvider(provider)) {
        ownProvider = provider;
        status.provider = 'registered';
      }
    }
  }
  if (status.provider !== 'off' && !native.hostExportActive())
    warnOnce('no-export', 'userspan: init has no exporter for OpenTelemetry spans (exporter "none"): they are dropped');
  for (const name of names) {
    if (name === 'openai' && enableOpenAI(req, modules.openai)) status.instrumentations.push(name);
    else status.missing.push(name);
  }
  return otelStatus();
}

const enabled = new Map<string, { manuallyInstrument?(m: unknown): void }>();

function enableOpenAI(req: (id: string) => unknown, module: unknown): boolean {
  let inst = enabled.get('openai');
  if (inst === undefined) {
    const pkg = tryRequire(req, '@arizeai/openinference-instrumentation-openai') as
      | { OpenAIInstrumentation?: new () => { manuallyInstrument?(m: unknown): void } }
      | undefined;
    if (pkg?.OpenAIInstrumentation === undefined) return false;
    inst = new pkg.OpenAIInstrumentation();
    enabled.set('openai', inst);
  }
  if (module !== undefined && module !== null) {
    // the instrumentation patches `module.OpenAI`: accept the module namespace
    // (`import * as openai from 'openai'`) or the class (`import OpenAI from 'openai'`)
    const m = module as { OpenAI?: unknown; default?: { OpenAI?: unknown } };
    inst.manuallyInstrument?.(m.OpenAI !== undefined ? m : m.default?.OpenAI !== undefined ? m.default : { OpenAI: m });
  }
  return true;
}

function contextManagerRegistered(): boolean {
  const registry = (globalThis as Record<symbol, { context?: unknown } | undefined>)[
    Symbol.for('opentelemetry.js.api.1')
  ];
  return registry?.context !== undefined;
}

/** Hands waiting spans over at `flush` / `shutdown`. */
export function beforeFlush(): void {
  drainHostSpans();
}

/**
 * Hands waiting spans over at `shutdown`. init's provider stays registered (OTel JS cannot
 * unregister it without disabling the app's API use): its spans are counted and dropped until the
 * next `init`, which exports them again.
 */
export async function shutdownOtel(): Promise<void> {
  drainHostSpans();
}
