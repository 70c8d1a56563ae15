//! The process-wide export pipeline that [`init`] builds: a tracer provider with the stamping
//! processor, the chosen exporter (batched OTLP on the SDK's own thread, or memory / console),
//! and the global OpenTelemetry tracer provider pointed at it.

#[cfg(feature = "otlp")]
use crate::config::{Compression, Protocol};
use crate::config::{Config, ExporterKind, ResolvedConfig};
use crate::conventions::{INSTRUMENTATION_SCOPE, RESOURCE_PROJECT, SESSION_ID, USER_ID};
use crate::error::{Error, Result};
use crate::export::{CompatKeys, ConsoleExporter, Counted, FinishedSpan, MemoryExporter};
use crate::privacy::Privacy;
#[cfg(feature = "otlp")]
use crate::processor::QueueGate;
use crate::processor::{Dyn, UserAttributesSpanProcessor};
use crate::scope::Scope;
use opentelemetry::global;
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::resource::{ResourceDetector, SdkProvidedResourceDetector, TelemetryResourceDetector};
#[cfg(feature = "otlp")]
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SimpleSpanProcessor, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::borrow::Cow;
#[cfg(feature = "otlp")]
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

struct Pipeline {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    memory: Option<MemoryExporter>,
    config: Config,
    resolved: ResolvedConfig,
    exporter: ExporterOrigin,
    /// The exporting processor behind the stamping one, shared with the provider so that
    /// [`crate::export_host_spans`] hands host spans to the same queue; `None` without one.
    exporting: Option<Arc<dyn SpanProcessor>>,
    /// The feedback log sink built with it, handed to [`crate::feedback`] by [`install`].
    feedback: std::sync::Mutex<Option<crate::feedback::Sink>>,
}

/// Where the pipeline's exporter came from, which decides what [`reinit_after_fork`] can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExporterOrigin {
    /// Built from the configuration: rebuilt from it.
    Config,
    /// The app's exporter behind a synchronous processor (no thread): still usable after fork.
    AppSync,
    /// The app's exporter behind a batch thread that a forked child does not have.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    AppBatched,
}

static PIPELINE: RwLock<Option<Arc<Pipeline>>> = RwLock::new(None);

fn current() -> Option<Arc<Pipeline>> {
    PIPELINE.read().ok().and_then(|p| p.clone())
}

/// The privacy mode of the pipeline [`init`] built, apart from [`PIPELINE`] so that reading it
/// takes no pipeline `Arc` (the host OpenTelemetry processors read it on every span start).
static PRIVACY: RwLock<Option<Arc<Privacy>>> = RwLock::new(None);

/// The privacy mode (`user_id_hashing` / `userIdHashing` with its `hash_key` / `hashKey`) that the
/// last successful [`init`] (or `init_with_exporter` / `init_with_batch_exporter`) configured,
/// options and environment resolved; `None` before `init` and after [`shutdown`].
///
/// The host OpenTelemetry span processors built without privacy options (Python
/// `userspan.otel.UserAttributesSpanProcessor()`, the JS packages' `UserAttributesSpanProcessor`)
/// render with it at each span start, so `replace` set through `init` holds for spans of every
/// tracer; before `init` they fall back to the environment (`USERSPAN_USER_ID_HASHING`,
/// `USERSPAN_HASH_KEY`). One read-lock and an `Arc` clone; never blocks on an export.
pub fn current_privacy() -> Option<Arc<Privacy>> {
    PRIVACY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Starts span `name` in `cx` and returns `cx` with the span current. The tracer is the
/// pipeline's after [`init`], else the global OpenTelemetry tracer `userspan` (so an app that owns
/// its provider, with [`crate::UserAttributesSpanProcessor`] added, still gets capture spans).
pub(crate) fn start_in(name: Cow<'static, str>, cx: Context) -> Context {
    let guard = PIPELINE.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(p) => {
            let span = p.tracer.start_with_context(name, &cx);
            drop(guard);
            cx.with_span(span)
        }
        None => {
            drop(guard);
            let span = global::tracer(INSTRUMENTATION_SCOPE).start_with_context(name, &cx);
            cx.with_span(span)
        }
    }
}

/// A span started for a binding, owned as it is (not behind a [`Context`]): the pipeline's SDK
/// span, or, with no pipeline, a span of the global tracer `userspan`.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // it lives in the handle's `Arc`: boxing the SDK span is the allocation this saves
pub(crate) enum StartedSpan {
    Sdk(opentelemetry_sdk::trace::Span),
    Global(global::BoxedSpan),
}

/// Starts span `name` in `cx` stamped with `scope`'s attributes; `scope` is *not* put in a context
/// (the bindings keep it in their own context mechanism). With a pipeline, the attributes go in
/// the span builder under the pipeline's privacy mode, which spares a context entry map per span;
/// without one (an app-owned provider with [`crate::UserAttributesSpanProcessor`]) the scope travels
/// in `cx` to that processor.
pub(crate) fn start_scoped(name: Cow<'static, str>, cx: Context, scope: Option<&Scope>) -> StartedSpan {
    let guard = PIPELINE.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(p) => {
            let mut builder = p.tracer.span_builder(name);
            if let Some(scope) = scope {
                let mut attributes = Vec::with_capacity(8);
                scope.for_each_key_value(&p.resolved.privacy, |kv| attributes.push(kv));
                builder = builder.with_attributes(attributes);
            }
            StartedSpan::Sdk(p.tracer.build_with_context(builder, &cx))
        }
        None => {
            drop(guard);
            let cx = if let Some(s) = scope { cx.with_value(s.clone()) } else { cx };
            StartedSpan::Global(global::tracer(INSTRUMENTATION_SCOPE).start_with_context(name, &cx))
        }
    }
}

/// Baggage keys to propagate, as a bit set (1 = `user.id`, 2 = `session.id`); 0 unless configured.
static BAGGAGE: AtomicU8 = AtomicU8::new(0);

/// Baggage keys to propagate (empty unless configured).
pub(crate) fn baggage_keys() -> impl Iterator<Item = &'static str> {
    let bits = BAGGAGE.load(Ordering::Relaxed);
    [(1u8, USER_ID), (2u8, SESSION_ID)].into_iter().filter(move |(b, _)| bits & b != 0).map(|(_, k)| k)
}

pub(crate) fn baggage_enabled() -> bool {
    BAGGAGE.load(Ordering::Relaxed) != 0
}

/// Builds an `opentelemetry-otlp` exporter (`SpanExporter` / `LogExporter`, whose builders share
/// their methods) to `$endpoint` with the configuration's protocol, headers, TLS, timeout and
/// compression: one description of the OTLP connection for traces and feedback logs.
#[cfg(feature = "otlp")]
macro_rules! otlp_exporter {
    ($exporter:ty, $c:expr, $endpoint:expr) => {{
        let c: &ResolvedConfig = $c;
        let endpoint: String = $endpoint;
        use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
        let headers = c.headers.iter().cloned().collect();
        let built = match c.protocol {
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let builder = <$exporter>::builder()
                    .with_http()
                    .with_http_client(crate::tls::http_client(&c.tls, c.export_timeout)?)
                    .with_endpoint(endpoint.clone())
                    .with_protocol(if c.protocol == Protocol::HttpJson {
                        opentelemetry_otlp::Protocol::HttpJson
                    } else {
                        opentelemetry_otlp::Protocol::HttpBinary
                    })
                    .with_timeout(c.export_timeout)
                    .with_headers(headers);
                match c.compression {
                    Compression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
                    Compression::None => builder,
                }
                .build()
            }
            Protocol::Grpc => {
                #[cfg(feature = "grpc")]
                {
                    use opentelemetry_otlp::WithTonicConfig;
                    let mut metadata = tonic::metadata::MetadataMap::new();
                    for (k, v) in &c.headers {
                        let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                            .map_err(|e| Error::Config(format!("header {k:?}: {e}")))?;
                        let val = v.parse().map_err(|e| Error::Config(format!("header {k:?}: {e}")))?;
                        metadata.insert(key, val);
                    }
                    let mut builder = <$exporter>::builder()
                        .with_tonic()
                        .with_endpoint(endpoint.clone())
                        .with_timeout(c.export_timeout)
                        .with_metadata(metadata);
                    if endpoint.starts_with("https://") {
                        builder = builder.with_tls_config(crate::tls::tonic_tls(&c.tls)?);
                    } else if !c.tls.is_empty() {
                        return Err(Error::Config(format!(
                            "TLS files are set but the gRPC endpoint {:?} is not https://",
                            endpoint
                        )));
                    }
                    if c.compression == Compression::Gzip {
                        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
                    }
                    builder.build()
                }
                #[cfg(not(feature = "grpc"))]
                {
                    let _ = headers;
                    return Err(Error::Config("protocol \"grpc\" needs the `grpc` feature".into()));
                }
            }
        };
        built.map_err(|e| Error::Config(format!("cannot build the OTLP exporter: {e}")))
    }};
}

#[cfg(feature = "otlp")]
pub(crate) use otlp_exporter;

#[cfg(feature = "otlp")]
fn build_otlp(c: &ResolvedConfig) -> Result<opentelemetry_otlp::SpanExporter> {
    otlp_exporter!(opentelemetry_otlp::SpanExporter, c, c.traces_endpoint.clone())
}

/// `exporter` adding the keys of the back ends named in `compat` (a pass-through when none is).
fn compat<E: SpanExporter>(exporter: E, resolved: &ResolvedConfig) -> CompatKeys<E> {
    CompatKeys { inner: exporter, compat: resolved.compat.clone() }
}

/// Builds the app's exporting processor, given the resolved configuration.
type AddExporter = Box<dyn FnOnce(&ResolvedConfig) -> Box<dyn SpanProcessor>>;

fn build(config: Config, custom: Option<(AddExporter, ExporterOrigin)>) -> Result<Pipeline> {
    let resolved = config.clone().resolve()?;
    // The SDK's own detectors for `service.name`'s default (`unknown_service:<exe>`) and the
    // `telemetry.sdk.*` keys; `OTEL_RESOURCE_ATTRIBUTES` comes parsed (percent-decoded, validated)
    // in `resolved.resource_attributes` instead of from the SDK's lenient detector. Later wins:
    // `service_name` / `OTEL_SERVICE_NAME` over a `service.name` among the resource attributes.
    let detectors: [Box<dyn ResourceDetector>; 2] =
        [Box::new(SdkProvidedResourceDetector), Box::new(TelemetryResourceDetector)];
    let mut resource_builder = Resource::builder_empty()
        .with_detectors(&detectors)
        .with_attributes(resolved.resource_attributes.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())));
    if let Some(name) = &resolved.service_name {
        resource_builder = resource_builder.with_service_name(name.clone());
    }
    if let Some(project) = &resolved.project {
        resource_builder = resource_builder.with_attribute(KeyValue::new(RESOURCE_PROJECT, project.clone()));
    }
    let resource = resource_builder.build();
    let stamping = UserAttributesSpanProcessor::with_privacy(resolved.privacy.clone())
        .with_baggage_keys(resolved.propagate_baggage.clone());
    let mut memory = None;
    let builder = SdkTracerProvider::builder().with_resource(resource.clone()).with_sampler(resolved.sdk_sampler());
    if resolved.disabled {
        // OTEL_SDK_DISABLED: every span is non-recording (the sampler is always_off) and there is
        // no processor, so nothing is stamped, counted or exported; captures still run.
        let origin = custom.map_or(ExporterOrigin::Config, |(_, origin)| origin);
        let provider = builder.build();
        let tracer = provider.tracer(INSTRUMENTATION_SCOPE);
        let feedback = Default::default();
        return Ok(Pipeline {
            provider,
            tracer,
            memory,
            config,
            resolved,
            exporter: origin,
            exporting: None,
            feedback,
        });
    }
    let (exporting, exporter) = match custom {
        Some((custom, origin)) => (Some(custom(&resolved)), origin),
        None => (exporting_processor(&resolved, &mut memory)?, ExporterOrigin::Config),
    };
    // The resource is set here, before the processor is shared (the provider's own
    // `set_resource` call cannot reach through the `Arc`).
    let exporting: Option<Arc<dyn SpanProcessor>> = exporting.map(|mut p| {
        p.set_resource(&resource);
        Arc::from(p)
    });
    // One processor, not two: the SDK copies each ended span's data per processor when there
    // are several.
    let builder = match &exporting {
        Some(p) => builder.with_span_processor(stamping.then(Dyn(p.clone()))),
        None => builder.with_span_processor(stamping),
    };
    let feedback = std::sync::Mutex::new(crate::feedback::build_sink(&resolved, &resource)?);
    let provider = builder.build();
    let tracer = provider.tracer(INSTRUMENTATION_SCOPE);
    Ok(Pipeline { provider, tracer, memory, config, resolved, exporter, exporting, feedback })
}

/// The processor that exports per `resolved.exporter` (`None` for [`ExporterKind::None`]).
fn exporting_processor(
    resolved: &ResolvedConfig,
    memory: &mut Option<MemoryExporter>,
) -> Result<Option<Box<dyn SpanProcessor>>> {
    Ok(match resolved.exporter {
        #[cfg(feature = "otlp")]
        ExporterKind::Otlp => Some(batched(build_otlp(resolved)?, resolved)),
        #[cfg(not(feature = "otlp"))]
        ExporterKind::Otlp => {
            return Err(Error::Config(
                "exporter \"otlp\" needs the `otlp` feature (bindings without it install their own exporter)".into(),
            ))
        }
        ExporterKind::Memory => {
            let m = MemoryExporter::default();
            *memory = Some(m.clone());
            Some(Box::new(SimpleSpanProcessor::new(Counted { inner: compat(m, resolved), in_flight: None })))
        }
        ExporterKind::Console => Some(Box::new(SimpleSpanProcessor::new(Counted {
            inner: compat(ConsoleExporter::default(), resolved),
            in_flight: None,
        }))),
        ExporterKind::None => None,
    })
}

/// Builds the export pipeline and makes it the global OpenTelemetry tracer provider.
///
/// Calling `init` again replaces the pipeline (the old one is flushed and shut down). Until `init`
/// is called, captures and scopes work but spans go to whatever global provider the app set
/// (a no-op one by default).
///
/// # Errors
/// [`Error::Config`] / [`Error::InvalidValue`] from [`Config::resolve`] or when the OTLP exporter
/// cannot be built. Nothing is changed on error.
pub fn init(config: Config) -> Result<()> {
    install(build(config, None)?)
}

/// [`init`] with the app's own exporter instead of `config.exporter`: finished spans are handed to
/// `exporter` synchronously as they end (a `SimpleSpanProcessor`, no background thread). For
/// runtimes without threads (the WASM package buffers spans in its exporter and sends them with
/// `fetch`) and for apps with a custom sink. The exporter reports what became of the spans with
/// [`crate::stats::record_exported`], [`crate::stats::record_dropped`] and
/// [`crate::stats::record_export_error`]; handing spans to it counts as nothing by itself.
///
/// # Errors
/// As [`init`].
pub fn init_with_exporter<E: SpanExporter + 'static>(config: Config, exporter: E) -> Result<()> {
    let add = move |resolved: &ResolvedConfig| -> Box<dyn SpanProcessor> {
        Box::new(SimpleSpanProcessor::new(compat(exporter, resolved)))
    };
    install(build(config, Some((Box::new(add), ExporterOrigin::AppSync)))?)
}

/// [`init`] with the app's own exporter behind the same batching as the OTLP exporter: the
/// OpenTelemetry SDK's `BatchSpanProcessor` on its own thread, the bounded queue
/// (`max_queue_size`; a span that does not fit is dropped and counted, the app never waits),
/// batches of `max_export_batch_size` every `scheduled_delay`. Spans the exporter accepts (`Ok`)
/// are counted as exported, the others as export errors. Needs the `otlp` feature (threads).
///
/// # Errors
/// As [`init`].
#[cfg(feature = "otlp")]
pub fn init_with_batch_exporter<E: SpanExporter + 'static>(config: Config, exporter: E) -> Result<()> {
    let add = move |resolved: &ResolvedConfig| batched(exporter, resolved);
    install(build(config, Some((Box::new(add), ExporterOrigin::AppBatched)))?)
}

/// `exporter` behind the SDK's batch processor, gated by the bounded queue ([`QueueGate`]).
#[cfg(feature = "otlp")]
fn batched<E: SpanExporter + 'static>(exporter: E, resolved: &ResolvedConfig) -> Box<dyn SpanProcessor> {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let exporter = Counted { inner: compat(exporter, resolved), in_flight: Some(in_flight.clone()) };
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(resolved.max_queue_size)
                .with_max_export_batch_size(resolved.max_export_batch_size)
                .with_scheduled_delay(resolved.scheduled_delay)
                .build(),
        )
        .build();
    Box::new(QueueGate { inner: batch, in_flight, max: resolved.max_queue_size })
}

fn install(pipeline: Pipeline) -> Result<()> {
    install_forgetting(pipeline, false)
}

/// [`install`]; `forget_old_feedback`: abandon the previous feedback sink (after `fork()`).
fn install_forgetting(pipeline: Pipeline, forget_old_feedback: bool) -> Result<()> {
    let sink = pipeline.feedback.lock().unwrap_or_else(|e| e.into_inner()).take();
    crate::feedback::install_sink(sink, forget_old_feedback);
    let pipeline = Arc::new(pipeline);
    global::set_tracer_provider(pipeline.provider.clone());
    let bits = pipeline.resolved.propagate_baggage.iter().fold(0u8, |b, k| b | if *k == USER_ID { 1 } else { 2 });
    BAGGAGE.store(bits, Ordering::Relaxed);
    *PRIVACY.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(pipeline.resolved.privacy.clone()));
    let old = PIPELINE.write().map_err(|_| Error::Config("pipeline lock poisoned".into()))?.replace(pipeline);
    if let Some(old) = old {
        let _ = old.provider.shutdown();
    }
    Ok(())
}

/// How long `flush` and `shutdown` wait when the caller gives no timeout, in every binding
/// (Python `flush()`, JS `flush()`): 30 s, the OpenTelemetry SDKs' default for `forceFlush`.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Exports everything finished so far; waits at most `timeout` (bindings default to
/// [`DEFAULT_FLUSH_TIMEOUT`]). Returns `true` when every
/// processor reported success in time. Never panics or raises: failures are counted in
/// [`crate::stats()`].
pub fn flush(timeout: Duration) -> bool {
    let Some(p) = current() else { return true };
    if cfg!(target_arch = "wasm32") {
        // No threads to wait on: the exporters used there finish synchronously.
        return p.provider.force_flush().is_ok() & crate::feedback::flush_sink();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("userspan-flush".into()).spawn(move || {
        let spans = p.provider.force_flush().is_ok();
        let _ = tx.send(crate::feedback::flush_sink() && spans);
    });
    spawned.is_ok() && rx.recv_timeout(timeout).unwrap_or(false)
}

/// Flushes and stops the pipeline; later spans are not exported. Idempotent: a second call does
/// nothing. Waits at most `timeout` for the final export.
pub fn shutdown(timeout: Duration) {
    let old = PIPELINE.write().ok().and_then(|mut p| p.take());
    crate::feedback::shutdown_sink(timeout);
    if let Some(p) = old {
        let _ = p.provider.shutdown_with_timeout(timeout);
        clear_globals();
    }
}

/// What [`install`] set process-wide, back to "no pipeline": no baggage, a no-op global provider.
fn clear_globals() {
    BAGGAGE.store(0, Ordering::Relaxed);
    *PRIVACY.write().unwrap_or_else(|e| e.into_inner()) = None;
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
}

/// In a child process after `fork()`: the parent's batch thread does not exist here, so a
/// pipeline built from the configuration ([`init`]) is abandoned (never flushed or joined) and a
/// fresh one is built from the same configuration. Spans the parent had queued are the parent's
/// to send. A pipeline from [`init_with_exporter`] has no thread and is kept as it is.
///
/// # Errors
/// [`Error::Config`] when the pipeline came from `init_with_batch_exporter`: the app's exporter
/// cannot be rebuilt here, so the child is left with no pipeline (spans are not exported) until
/// the app calls `init_with_batch_exporter` again in the child. Errors of [`init`] otherwise.
pub fn reinit_after_fork() -> Result<()> {
    let mut guard = PIPELINE.write().map_err(|_| Error::Config("pipeline lock poisoned".into()))?;
    if guard.as_ref().is_some_and(|p| p.exporter == ExporterOrigin::AppSync) {
        return Ok(());
    }
    let Some(old) = guard.take() else { return Ok(()) };
    drop(guard);
    // Keep a provider handle alive forever so no drop in this process tries to shut down a batch
    // thread that only exists in the parent.
    std::mem::forget(old.provider.clone());
    let (config, origin) = (old.config.clone(), old.exporter);
    std::mem::forget(old);
    if origin == ExporterOrigin::AppBatched {
        crate::feedback::install_sink(None, true);
        clear_globals();
        return Err(Error::Config(
            "after fork(): the pipeline was built by init_with_batch_exporter, whose exporter cannot be rebuilt \
             here; call init_with_batch_exporter again in the child"
                .into(),
        ));
    }
    install_forgetting(build(config, None)?, true)
}

/// The exporting processor of the current pipeline, for [`crate::export_host_spans`].
pub(crate) fn host_exporting() -> Option<Arc<dyn SpanProcessor>> {
    current().and_then(|p| p.exporting.clone())
}

/// Spans finished so far when the memory exporter is active (else empty), oldest first.
pub fn finished_spans() -> Vec<FinishedSpan> {
    current().and_then(|p| p.memory.as_ref().map(|m| m.finished_spans())).unwrap_or_default()
}

/// Forgets the memory exporter's spans.
pub fn clear_finished_spans() {
    if let Some(m) = current().and_then(|p| p.memory.clone()) {
        m.clear()
    }
}
