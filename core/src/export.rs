//! Exporters: OTLP (from `opentelemetry-otlp`), in-memory (finished spans as plain data), console,
//! and the counting wrapper that feeds [`crate::stats()`].

use crate::attributes::value_to_json;
use crate::attributes::KeyStyle;
use crate::stats::{count_export_error, COUNTERS};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A finished span as plain data (what the memory exporter keeps and the bindings return as
/// dicts / objects). Ids are lower-case hex (OTLP/JSON spelling); times are ns since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishedSpan {
    /// Span name.
    pub name: String,
    /// 32 hex chars.
    pub trace_id: String,
    /// 16 hex chars.
    pub span_id: String,
    /// 16 hex chars, `None` for a root span.
    pub parent_span_id: Option<String>,
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    pub kind: &'static str,
    /// Start, ns since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, ns since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Attributes as JSON values (arrays for OTel arrays).
    pub attributes: Map<String, Json>,
    /// Status.
    pub status: FinishedStatus,
    /// Events in order.
    pub events: Vec<FinishedEvent>,
    /// Resource attributes (`service.name`, `userspan.project`, ...).
    pub resource: Map<String, Json>,
}

/// Span status as plain data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishedStatus {
    /// `UNSET`, `OK` or `ERROR` (OTLP names without the prefix).
    pub code: &'static str,
    /// Description (empty unless ERROR).
    pub message: String,
}

/// Span event as plain data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishedEvent {
    /// Event name (`exception` for recorded errors).
    pub name: String,
    /// ns since the Unix epoch.
    pub time_unix_nano: u64,
    /// Attributes as JSON values.
    pub attributes: Map<String, Json>,
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn attrs<'a>(kvs: impl Iterator<Item = (&'a opentelemetry::Key, &'a opentelemetry::Value)>) -> Map<String, Json> {
    kvs.map(|(k, v)| (k.to_string(), value_to_json(v))).collect()
}

impl FinishedSpan {
    /// Converts SDK span data.
    pub fn from_span_data(s: &SpanData, resource: &Map<String, Json>) -> FinishedSpan {
        let (code, message) = match &s.status {
            Status::Unset => ("UNSET", String::new()),
            Status::Ok => ("OK", String::new()),
            Status::Error { description } => ("ERROR", description.to_string()),
        };
        FinishedSpan {
            name: s.name.to_string(),
            trace_id: s.span_context.trace_id().to_string(),
            span_id: s.span_context.span_id().to_string(),
            parent_span_id: (s.parent_span_id != SpanId::INVALID).then(|| s.parent_span_id.to_string()),
            kind: match s.span_kind {
                SpanKind::Internal => "internal",
                SpanKind::Server => "server",
                SpanKind::Client => "client",
                SpanKind::Producer => "producer",
                SpanKind::Consumer => "consumer",
            },
            start_time_unix_nano: nanos(s.start_time),
            end_time_unix_nano: nanos(s.end_time),
            attributes: attrs(s.attributes.iter().map(|kv| (&kv.key, &kv.value))),
            status: FinishedStatus { code, message },
            events: s
                .events
                .iter()
                .map(|e| FinishedEvent {
                    name: e.name.to_string(),
                    time_unix_nano: nanos(e.timestamp),
                    attributes: attrs(e.attributes.iter().map(|kv| (&kv.key, &kv.value))),
                })
                .collect(),
            resource: resource.clone(),
        }
    }
}

impl FinishedSpan {
    /// The span as JSON for a host language: [`KeyStyle::Snake`] is the serde form (times as
    /// numbers); [`KeyStyle::Camel`] uses camelCase keys (`traceId`, `startTimeUnixNano`, ...) and
    /// gives the ns times as decimal strings, since a JavaScript number cannot hold them exactly.
    pub fn to_json(&self, style: KeyStyle) -> Json {
        if style == KeyStyle::Snake {
            return serde_json::to_value(self).unwrap_or(Json::Null);
        }
        let events: Vec<Json> = self
            .events
            .iter()
            .map(
                |e| json!({ "name": e.name, "timeUnixNano": e.time_unix_nano.to_string(), "attributes": e.attributes }),
            )
            .collect();
        json!({
            "name": self.name,
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "parentSpanId": self.parent_span_id,
            "kind": self.kind,
            "startTimeUnixNano": self.start_time_unix_nano.to_string(),
            "endTimeUnixNano": self.end_time_unix_nano.to_string(),
            "attributes": self.attributes,
            "status": { "code": self.status.code, "message": self.status.message },
            "events": events,
            "resource": self.resource,
        })
    }
}

fn resource_json(r: &Resource) -> Map<String, Json> {
    attrs(r.iter())
}

/// Keeps finished spans in memory (clones share the store).
#[derive(Debug, Clone, Default)]
pub struct MemoryExporter {
    spans: Arc<Mutex<Vec<FinishedSpan>>>,
    resource: Map<String, Json>,
}

impl MemoryExporter {
    /// The spans finished so far, oldest first.
    pub fn finished_spans(&self) -> Vec<FinishedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }
    /// Forgets the finished spans.
    pub fn clear(&self) {
        if let Ok(mut s) = self.spans.lock() {
            s.clear()
        }
    }
}

impl SpanExporter for MemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let converted: Vec<FinishedSpan> =
            batch.iter().map(|s| FinishedSpan::from_span_data(s, &self.resource)).collect();
        if let Ok(mut spans) = self.spans.lock() {
            spans.extend(converted);
        }
        Ok(())
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource_json(resource);
    }
}

/// Writes each finished span as one JSON line on stdout.
#[derive(Debug, Default)]
pub struct ConsoleExporter {
    resource: Map<String, Json>,
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for s in &batch {
            let line = serde_json::to_string(&FinishedSpan::from_span_data(s, &self.resource)).unwrap_or_default();
            let _ = writeln!(out, "{line}");
        }
        Ok(())
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource_json(resource);
    }
}

/// Counts what an exporter accepted or lost, and releases the queue gate's slots.
#[derive(Debug)]
pub(crate) struct Counted<E> {
    pub inner: E,
    pub in_flight: Option<Arc<AtomicUsize>>,
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        if let Some(f) = &self.in_flight {
            f.fetch_sub(n, Ordering::AcqRel);
        }
        match &result {
            Ok(()) => {
                COUNTERS.spans_exported.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => count_export_error(n, e),
        }
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

/// Adds the keys of the back ends named in the `compat` option beside the OTel ones, on each span
/// before `inner` exports it. With no back end named it passes the batch through untouched.
#[derive(Debug)]
pub(crate) struct CompatKeys<E> {
    pub inner: E,
    pub compat: Vec<crate::config::Compat>,
}

/// Langfuse's keys for what userspan stamps (`langfuse.user.id`, `langfuse.session.id`,
/// `langfuse.trace.tags`, `langfuse.trace.metadata.<key>` for each top-level key of `metadata`:
/// strings as they are, other values as JSON text). Keys the span already has are left alone.
/// Source: <https://langfuse.com/integrations/native/opentelemetry> (property mapping).
fn add_langfuse_keys(span: &mut SpanData) {
    use crate::conventions::{
        LANGFUSE_SESSION_ID, LANGFUSE_TRACE_METADATA_PREFIX, LANGFUSE_TRACE_TAGS, LANGFUSE_USER_ID, METADATA,
        SESSION_ID, TAGS, USER_ID,
    };
    use opentelemetry::{KeyValue, Value};
    let has = |attrs: &[KeyValue], key: &str| attrs.iter().any(|kv| kv.key.as_str() == key);
    let mut extra = Vec::new();
    for kv in &span.attributes {
        let key = match kv.key.as_str() {
            USER_ID => LANGFUSE_USER_ID,
            SESSION_ID => LANGFUSE_SESSION_ID,
            TAGS => LANGFUSE_TRACE_TAGS,
            METADATA => {
                if let Ok(Json::Object(m)) = serde_json::from_str::<Json>(kv.value.as_str().as_ref()) {
                    for (k, v) in m {
                        let text = match v {
                            Json::String(s) => s,
                            other => other.to_string(),
                        };
                        extra.push(KeyValue::new(format!("{LANGFUSE_TRACE_METADATA_PREFIX}{k}"), Value::from(text)));
                    }
                }
                continue;
            }
            _ => continue,
        };
        extra.push(KeyValue::new(key, kv.value.clone()));
    }
    extra.retain(|kv| !has(&span.attributes, kv.key.as_str()));
    span.attributes.extend(extra);
}

impl<E: SpanExporter> SpanExporter for CompatKeys<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        if self.compat.contains(&crate::config::Compat::Langfuse) {
            batch.iter_mut().for_each(add_langfuse_keys);
        }
        self.inner.export(batch).await
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}
