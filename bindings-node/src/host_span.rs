//! Finished OpenTelemetry JS spans handed to the core's pipeline (`userspan::export_host_spans`).
//!
//! The TypeScript processor (`src/ts/host.ts`) translates each `ReadableSpan` (sdk-trace-base 1.x
//! and 2.x) to the compact plain shape [`JsHostSpan`] and passes an array per tick; this module only
//! translates that shape into the core's `HostSpan` (field names of the OTLP `Span` message).

use napi_derive::napi;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use serde_json::Value as Json;
use userspan::{HostEvent, HostLink, HostScope, HostSpan};

/// An event of a [`JsHostSpan`].
#[napi(object)]
pub struct JsHostEvent {
    /// Event name.
    pub name: String,
    /// Time as OTel JS `HrTime`: `[seconds, nanoseconds]` since the Unix epoch.
    pub time: Vec<f64>,
    /// Attributes (`Attributes` of OTel JS: string, number, boolean or homogeneous arrays of them).
    pub attributes: Option<Json>,
    /// Attributes dropped by the SDK.
    pub dropped_attributes_count: Option<u32>,
}

/// A link of a [`JsHostSpan`].
#[napi(object)]
pub struct JsHostLink {
    /// 32 hex chars.
    pub trace_id: String,
    /// 16 hex chars.
    pub span_id: String,
    /// W3C trace flags.
    pub trace_flags: Option<u32>,
    /// `tracestate` header form.
    pub trace_state: Option<String>,
    /// Link attributes.
    pub attributes: Option<Json>,
    /// Attributes dropped by the SDK.
    pub dropped_attributes_count: Option<u32>,
}

/// A finished OTel JS span in the compact shape `src/ts/host.ts` builds from a `ReadableSpan`.
#[napi(object)]
pub struct JsHostSpan {
    /// 32 hex chars (W3C trace context).
    pub trace_id: String,
    /// 16 hex chars.
    pub span_id: String,
    /// The parent's span id (16 hex chars); absent for a root span.
    pub parent_span_id: Option<String>,
    /// Whether the parent context was propagated from another process.
    pub parent_is_remote: Option<bool>,
    /// W3C trace flags (bit 0x01: sampled).
    pub trace_flags: u32,
    /// `tracestate` header form.
    pub trace_state: Option<String>,
    /// Span name.
    pub name: String,
    /// OTel JS `SpanKind`: 0 internal, 1 server, 2 client, 3 producer, 4 consumer.
    pub kind: u32,
    /// `HrTime` `[s, ns]` since the Unix epoch.
    pub start_time: Vec<f64>,
    /// `HrTime` `[s, ns]` since the Unix epoch.
    pub end_time: Vec<f64>,
    /// Span attributes (scope stamps included).
    pub attributes: Option<Json>,
    /// Attributes dropped by the SDK.
    pub dropped_attributes_count: Option<u32>,
    /// Events, oldest first.
    pub events: Option<Vec<JsHostEvent>>,
    /// Events dropped by the SDK.
    pub dropped_events_count: Option<u32>,
    /// Links.
    pub links: Option<Vec<JsHostLink>>,
    /// Links dropped by the SDK.
    pub dropped_links_count: Option<u32>,
    /// OTel JS `SpanStatusCode`: 0 unset, 1 ok, 2 error.
    pub status_code: Option<u32>,
    /// The status message (error description).
    pub status_message: Option<String>,
    /// Instrumentation scope name (2.x `instrumentationScope`, 1.x `instrumentationLibrary`).
    pub scope_name: Option<String>,
    /// Scope version.
    pub scope_version: Option<String>,
    /// Scope schema URL.
    pub scope_schema_url: Option<String>,
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        *o = (d(b[2 * i])? * 16 + d(b[2 * i + 1])?) as u8;
    }
    Some(out)
}

/// `HrTime` `[s, ns]` as ns since the Unix epoch (0 when malformed).
fn hr_time(t: &[f64]) -> u64 {
    match t {
        [s, ns] if s.is_finite() && ns.is_finite() && *s >= 0.0 && *ns >= 0.0 => {
            (*s as u64).saturating_mul(1_000_000_000).saturating_add(*ns as u64)
        }
        _ => 0,
    }
}

fn scalar(v: &Json) -> Option<Value> {
    Some(match v {
        Json::String(s) => Value::String(s.clone().into()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::I64(i),
            None => Value::F64(n.as_f64()?),
        },
        _ => return None,
    })
}

/// An OTel JS attribute value; `null`/`undefined` and mixed or nested arrays are dropped, as the
/// OTel JS SDK would have dropped them (`isAttributeValue`).
fn value(v: &Json) -> Option<Value> {
    let Json::Array(items) = v else { return scalar(v) };
    let first = items.iter().find(|i| !i.is_null());
    Some(match first {
        None | Some(Json::String(_)) => Value::Array(Array::String(
            items.iter().map(|i| StringValue::from(i.as_str().unwrap_or_default().to_string())).collect(),
        )),
        Some(Json::Bool(_)) => {
            Value::Array(Array::Bool(items.iter().map(|i| i.as_bool().unwrap_or_default()).collect()))
        }
        Some(Json::Number(_)) if items.iter().all(|i| i.is_null() || i.is_i64()) => {
            Value::Array(Array::I64(items.iter().map(|i| i.as_i64().unwrap_or_default()).collect()))
        }
        Some(Json::Number(_)) => {
            Value::Array(Array::F64(items.iter().map(|i| i.as_f64().unwrap_or_default()).collect()))
        }
        _ => return None,
    })
}

fn attributes(a: Option<Json>) -> Vec<KeyValue> {
    match a {
        Some(Json::Object(map)) => map.into_iter().filter_map(|(k, v)| Some(KeyValue::new(k, value(&v)?))).collect(),
        _ => Vec::new(),
    }
}

fn kind(k: u32) -> SpanKind {
    match k {
        1 => SpanKind::Server,
        2 => SpanKind::Client,
        3 => SpanKind::Producer,
        4 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn host_span(s: JsHostSpan) -> Option<HostSpan> {
    Some(HostSpan {
        trace_id: hex(&s.trace_id)?,
        span_id: hex(&s.span_id)?,
        parent_span_id: s.parent_span_id.as_deref().and_then(hex).filter(|p| *p != [0; 8]),
        parent_is_remote: s.parent_is_remote.unwrap_or(false),
        trace_flags: s.trace_flags as u8,
        trace_state: s.trace_state,
        name: s.name,
        kind: kind(s.kind),
        start_time_unix_nano: hr_time(&s.start_time),
        end_time_unix_nano: hr_time(&s.end_time),
        attributes: attributes(s.attributes),
        dropped_attributes_count: s.dropped_attributes_count.unwrap_or(0),
        events: s
            .events
            .unwrap_or_default()
            .into_iter()
            .map(|e| HostEvent {
                name: e.name,
                time_unix_nano: hr_time(&e.time),
                attributes: attributes(e.attributes),
                dropped_attributes_count: e.dropped_attributes_count.unwrap_or(0),
            })
            .collect(),
        dropped_events_count: s.dropped_events_count.unwrap_or(0),
        links: s
            .links
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| {
                Some(HostLink {
                    trace_id: hex(&l.trace_id)?,
                    span_id: hex(&l.span_id)?,
                    trace_flags: l.trace_flags.unwrap_or(0) as u8,
                    trace_state: l.trace_state,
                    attributes: attributes(l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count.unwrap_or(0),
                })
            })
            .collect(),
        dropped_links_count: s.dropped_links_count.unwrap_or(0),
        status: match s.status_code {
            Some(1) => Status::Ok,
            Some(2) => Status::error(s.status_message.unwrap_or_default()),
            _ => Status::Unset,
        },
        scope: HostScope {
            name: s.scope_name.unwrap_or_default(),
            version: s.scope_version.filter(|v| !v.is_empty()),
            schema_url: s.scope_schema_url.filter(|v| !v.is_empty()),
            attributes: Vec::new(),
        },
    })
}

/// Hands finished OTel JS spans (the compact shape) to the pipeline `init` built; returns how many
/// were queued (0 before `init`, after `shutdown`, with exporter `"none"`; unsampled spans and
/// spans with malformed ids are skipped). Never throws for telemetry reasons.
#[napi]
pub fn export_host_spans(spans: Vec<JsHostSpan>) -> u32 {
    userspan::export_host_spans(spans.into_iter().filter_map(host_span)) as u32
}

/// `true` when `init`'s pipeline has an exporter that receives OTel JS spans.
#[napi]
pub fn host_export_active() -> bool {
    userspan::host_export_active()
}
