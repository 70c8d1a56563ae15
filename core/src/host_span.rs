//! Spans finished by a host language's OpenTelemetry SDK (Python `ReadableSpan`, JS
//! `ReadableSpan`), handed to the core so they leave through the pipeline [`crate::init`] built:
//! the same exporter, endpoint, headers, TLS, batch queue, drop counting and resource (so the same
//! `service.name`) as capture spans — one connection and one queue per process.
//!
//! The host processor stamps the scope's attributes at span start (as
//! [`crate::UserAttributesSpanProcessor`] does for Rust spans); the core does not stamp them again.
//! Field names follow the OTLP `Span` message (OTLP spec, `trace/v1/trace.proto`).

use crate::stats::COUNTERS;
use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// A finished span of a host OpenTelemetry SDK, as the OTLP `Span` message describes it.
#[derive(Debug, Clone)]
pub struct HostSpan {
    /// 16-byte trace id (W3C trace context).
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// The parent's span id; `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// Whether the parent came from another process (propagated context).
    pub parent_is_remote: bool,
    /// W3C trace flags; a span without the sampled bit (`0x01`) is not exported.
    pub trace_flags: u8,
    /// W3C `tracestate` in its header form; `None` or unparsable: empty.
    pub trace_state: Option<String>,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start time, ns since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End time, ns since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Attributes as the host recorded them (scope stamps included).
    pub attributes: Vec<KeyValue>,
    /// Attributes the host SDK dropped at its limits.
    pub dropped_attributes_count: u32,
    /// Span events (exceptions included), oldest first.
    pub events: Vec<HostEvent>,
    /// Events the host SDK dropped at its limits.
    pub dropped_events_count: u32,
    /// Links to other spans.
    pub links: Vec<HostLink>,
    /// Links the host SDK dropped at its limits.
    pub dropped_links_count: u32,
    /// Status: `Unset`, `Ok` or `Error { description }`.
    pub status: Status,
    /// The instrumentation scope (the host tracer's name and version).
    pub scope: HostScope,
}

/// An event of a [`HostSpan`].
#[derive(Debug, Clone)]
pub struct HostEvent {
    /// Event name (`exception` for recorded exceptions, OTel semconv).
    pub name: String,
    /// Time, ns since the Unix epoch.
    pub time_unix_nano: u64,
    /// Event attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the host SDK dropped.
    pub dropped_attributes_count: u32,
}

/// A link of a [`HostSpan`].
#[derive(Debug, Clone)]
pub struct HostLink {
    /// The linked span's trace id.
    pub trace_id: [u8; 16],
    /// The linked span's id.
    pub span_id: [u8; 8],
    /// The linked span's W3C trace flags.
    pub trace_flags: u8,
    /// The linked span's `tracestate` header form.
    pub trace_state: Option<String>,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the host SDK dropped.
    pub dropped_attributes_count: u32,
}

/// The instrumentation scope of a [`HostSpan`] (OTLP `InstrumentationScope`).
#[derive(Debug, Clone, Default)]
pub struct HostScope {
    /// Scope name (the tracer's name, e.g. `openinference.instrumentation.openai`).
    pub name: String,
    /// Scope version.
    pub version: Option<String>,
    /// Schema URL.
    pub schema_url: Option<String>,
    /// Scope attributes.
    pub attributes: Vec<KeyValue>,
}

fn time(unix_nano: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(unix_nano)
}

fn trace_state(header: Option<String>) -> TraceState {
    header.and_then(|h| TraceState::from_str(&h).ok()).unwrap_or_default()
}

impl HostSpan {
    /// The SDK's [`SpanData`] for this span, as the OpenTelemetry SDK would have produced it.
    pub(crate) fn into_span_data(self) -> SpanData {
        let span_context = SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.span_id),
            TraceFlags::new(self.trace_flags),
            false,
            trace_state(self.trace_state),
        );
        let mut scope = InstrumentationScope::builder(self.scope.name).with_attributes(self.scope.attributes);
        if let Some(v) = self.scope.version {
            scope = scope.with_version(v);
        }
        if let Some(u) = self.scope.schema_url {
            scope = scope.with_schema_url(u);
        }
        let mut events = SpanEvents::default();
        events.events = self
            .events
            .into_iter()
            .map(|e| Event::new(e.name, time(e.time_unix_nano), e.attributes, e.dropped_attributes_count))
            .collect();
        events.dropped_count = self.dropped_events_count;
        let mut links = SpanLinks::default();
        links.links = self
            .links
            .into_iter()
            .map(|l| {
                let cx = SpanContext::new(
                    TraceId::from_bytes(l.trace_id),
                    SpanId::from_bytes(l.span_id),
                    TraceFlags::new(l.trace_flags),
                    true,
                    trace_state(l.trace_state),
                );
                Link::new(cx, l.attributes, l.dropped_attributes_count)
            })
            .collect();
        links.dropped_count = self.dropped_links_count;
        SpanData {
            span_context,
            parent_span_id: self.parent_span_id.map_or(SpanId::INVALID, SpanId::from_bytes),
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: Cow::Owned(self.name),
            start_time: time(self.start_time_unix_nano),
            end_time: time(self.end_time_unix_nano),
            attributes: self.attributes,
            dropped_attributes_count: self.dropped_attributes_count,
            events,
            links,
            status: self.status,
            instrumentation_scope: scope.build(),
        }
    }
}

/// Hands finished host spans to the pipeline [`crate::init`] built (its exporting processor: the
/// batch queue for OTLP, the memory or console exporter, or the app's exporter).
///
/// Returns how many were handed to the exporting processor: 0 before `init`, after
/// [`crate::shutdown`], with exporter `"none"` or `OTEL_SDK_DISABLED`. Every span counts in
/// [`crate::Stats::spans_started`]; spans without the sampled flag are skipped (the host SDK
/// decided); a full queue drops the span and counts it in `spans_dropped`. Never blocks on the
/// network and never panics.
pub fn export_host_spans(spans: impl IntoIterator<Item = HostSpan>) -> usize {
    let exporting = crate::pipeline::host_exporting();
    let mut handed = 0;
    for span in spans {
        COUNTERS.spans_started.fetch_add(1, Ordering::Relaxed);
        let Some(p) = exporting.as_ref() else { continue };
        if span.trace_flags & 0x01 == 0 {
            continue;
        }
        p.on_end(span.into_span_data());
        handed += 1;
    }
    handed
}

/// `true` when the pipeline [`crate::init`] built has an exporter that receives host spans (the
/// bindings warn once when an app's OpenTelemetry spans would go nowhere).
pub fn host_export_active() -> bool {
    crate::pipeline::host_exporting().is_some()
}
