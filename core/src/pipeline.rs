//! The process-wide export pipeline that [`init`] builds: a tracer provider with the stamping
//! processor, the chosen exporter (batched OTLP on the SDK's own thread, or memory / console),
//! and the global OpenTelemetry tracer provider pointed at it.

use crate::config::{Config, ExporterKind, Protocol, ResolvedConfig};
use crate::conventions::RESOURCE_PROJECT;
use crate::error::{Error, Result};
use crate::export::{ConsoleExporter, Counted, FinishedSpan, MemoryExporter};
use crate::processor::{QueueGate, UserAttributesProcessor};
use opentelemetry::global;
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SimpleSpanProcessor};
use opentelemetry_sdk::Resource;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

struct Pipeline {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    memory: Option<MemoryExporter>,
    config: Config,
    resolved: ResolvedConfig,
}

static PIPELINE: RwLock<Option<Arc<Pipeline>>> = RwLock::new(None);

fn current() -> Option<Arc<Pipeline>> {
    PIPELINE.read().ok().and_then(|p| p.clone())
}

/// Starts span `name` in `cx` and returns `cx` with the span current. The tracer is the
/// pipeline's after [`init`], else the global OpenTelemetry tracer `userspan` (so an app that owns
/// its provider, with [`crate::UserAttributesProcessor`] added, still gets capture spans).
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
            let span = global::tracer("userspan").start_with_context(name, &cx);
            cx.with_span(span)
        }
    }
}

/// Baggage keys to propagate, as a bit set (1 = `user.id`, 2 = `session.id`); 0 unless configured.
static BAGGAGE: AtomicU8 = AtomicU8::new(0);

/// Baggage keys to propagate (empty unless configured).
pub(crate) fn baggage_keys() -> impl Iterator<Item = &'static str> {
    let bits = BAGGAGE.load(Ordering::Relaxed);
    [(1u8, "user.id"), (2u8, "session.id")].into_iter().filter(move |(b, _)| bits & b != 0).map(|(_, k)| k)
}

pub(crate) fn baggage_enabled() -> bool {
    BAGGAGE.load(Ordering::Relaxed) != 0
}

fn build_otlp(c: &ResolvedConfig) -> Result<opentelemetry_otlp::SpanExporter> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let headers = c.headers.iter().cloned().collect();
    let built = match c.protocol {
        Protocol::HttpProtobuf | Protocol::HttpJson => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(c.traces_endpoint.clone())
            .with_protocol(if c.protocol == Protocol::HttpJson {
                opentelemetry_otlp::Protocol::HttpJson
            } else {
                opentelemetry_otlp::Protocol::HttpBinary
            })
            .with_timeout(c.export_timeout)
            .with_headers(headers)
            .build(),
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
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(c.traces_endpoint.clone())
                    .with_timeout(c.export_timeout)
                    .with_metadata(metadata)
                    .build()
            }
            #[cfg(not(feature = "grpc"))]
            {
                let _ = headers;
                return Err(Error::Config("protocol \"grpc\" needs the `grpc` feature".into()));
            }
        }
    };
    built.map_err(|e| Error::Config(format!("cannot build the OTLP exporter: {e}")))
}

fn build(config: Config) -> Result<Pipeline> {
    let resolved = config.clone().resolve()?;
    let mut resource = Resource::builder();
    if let Some(name) = &resolved.service_name {
        resource = resource.with_service_name(name.clone());
    }
    if let Some(project) = &resolved.project {
        resource = resource.with_attribute(KeyValue::new(RESOURCE_PROJECT, project.clone()));
    }
    let stamping =
        UserAttributesProcessor::with_privacy(resolved.privacy.clone()).with_baggage_keys(resolved.propagate_baggage.clone());
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build()).with_span_processor(stamping);
    let mut memory = None;
    match resolved.exporter {
        ExporterKind::Otlp => {
            let in_flight = Arc::new(AtomicUsize::new(0));
            let exporter = Counted { inner: build_otlp(&resolved)?, in_flight: Some(in_flight.clone()) };
            let batch = BatchSpanProcessor::builder(exporter)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(resolved.max_queue_size)
                        .with_max_export_batch_size(resolved.max_export_batch_size)
                        .with_scheduled_delay(resolved.scheduled_delay)
                        .build(),
                )
                .build();
            builder = builder.with_span_processor(QueueGate { inner: batch, in_flight, max: resolved.max_queue_size });
        }
        ExporterKind::Memory => {
            let m = MemoryExporter::default();
            builder = builder.with_span_processor(SimpleSpanProcessor::new(Counted { inner: m.clone(), in_flight: None }));
            memory = Some(m);
        }
        ExporterKind::Console => {
            builder = builder
                .with_span_processor(SimpleSpanProcessor::new(Counted { inner: ConsoleExporter::default(), in_flight: None }));
        }
        ExporterKind::None => {}
    }
    let provider = builder.build();
    let tracer = provider.tracer("userspan");
    Ok(Pipeline { provider, tracer, memory, config, resolved })
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
    let pipeline = Arc::new(build(config)?);
    global::set_tracer_provider(pipeline.provider.clone());
    let bits = pipeline.resolved.propagate_baggage.iter().fold(0u8, |b, k| b | if *k == "user.id" { 1 } else { 2 });
    BAGGAGE.store(bits, Ordering::Relaxed);
    let old = PIPELINE.write().map_err(|_| Error::Config("pipeline lock poisoned".into()))?.replace(pipeline);
    if let Some(old) = old {
        let _ = old.provider.shutdown();
    }
    Ok(())
}

/// Exports everything finished so far; waits at most `timeout`. Returns `true` when every
/// processor reported success in time. Never panics or raises: failures are counted in
/// [`crate::stats()`].
pub fn flush(timeout: Duration) -> bool {
    let Some(p) = current() else { return true };
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("userspan-flush".into()).spawn(move || {
        let _ = tx.send(p.provider.force_flush().is_ok());
    });
    spawned.is_ok() && rx.recv_timeout(timeout).unwrap_or(false)
}

/// Flushes and stops the pipeline; later spans are not exported. Idempotent: a second call does
/// nothing. Waits at most `timeout` for the final export.
pub fn shutdown(timeout: Duration) {
    let old = PIPELINE.write().ok().and_then(|mut p| p.take());
    if let Some(p) = old {
        let _ = p.provider.shutdown_with_timeout(timeout);
        BAGGAGE.store(0, Ordering::Relaxed);
        global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    }
}

/// In a child process after `fork()`: the parent's batch thread does not exist here, so the old
/// pipeline is abandoned (never flushed or joined) and a fresh one is built from the same
/// configuration. Spans the parent had queued are the parent's to send.
pub fn reinit_after_fork() -> Result<()> {
    let old = PIPELINE.write().ok().and_then(|mut p| p.take());
    if let Some(old) = old {
        // Keep a provider handle alive forever so no drop in this process tries to shut down a
        // batch thread that only exists in the parent.
        std::mem::forget(old.provider.clone());
        let config = old.config.clone();
        std::mem::forget(old);
        init(config)?;
    }
    Ok(())
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
