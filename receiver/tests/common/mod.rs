//! Test helpers: OTLP request building, HTTP calls, a receiver per test.
#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value;
use userspan_receiver::server::{spawn, Running, ServerConfig};

pub const HOUR_NS: u64 = 3_600_000_000_000;
pub const DAY_NS: u64 = 24 * HOUR_NS;

pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

pub fn server() -> Running {
    spawn(ServerConfig::ephemeral()).expect("server starts")
}

pub fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}
pub fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }),
        ..Default::default()
    }
}
pub fn f(k: &str, v: f64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::DoubleValue(v)) }),
        ..Default::default()
    }
}
pub fn b(k: &str, v: bool) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::BoolValue(v)) }),
        ..Default::default()
    }
}

/// 16-byte trace id from a number.
pub fn tid(n: u64) -> Vec<u8> {
    let mut v = vec![0xAB; 8];
    v.extend_from_slice(&n.to_be_bytes());
    v
}
/// 8-byte span id from a number.
pub fn sid(n: u64) -> Vec<u8> {
    (n + 1).to_be_bytes().to_vec()
}

/// A span builder with sensible defaults.
pub fn span(trace: u64, span_n: u64, start_ns: u64, dur_ms: u64) -> Span {
    Span {
        trace_id: tid(trace),
        span_id: sid(span_n),
        name: format!("span-{span_n}"),
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + dur_ms * 1_000_000,
        ..Default::default()
    }
}

pub trait SpanExt {
    fn attrs(self, a: Vec<KeyValue>) -> Self;
    fn parent(self, p: u64) -> Self;
    fn error(self) -> Self;
    fn event(self, name: &str, a: Vec<KeyValue>) -> Self;
}
impl SpanExt for Span {
    fn attrs(mut self, a: Vec<KeyValue>) -> Self {
        self.attributes.extend(a);
        self
    }
    fn parent(mut self, p: u64) -> Self {
        self.parent_span_id = sid(p);
        self
    }
    fn error(mut self) -> Self {
        self.status = Some(Status { code: 2, message: "boom".into() });
        self
    }
    fn event(mut self, name: &str, a: Vec<KeyValue>) -> Self {
        self.events.push(Event { name: name.into(), attributes: a, ..Default::default() });
        self
    }
}

pub fn user(id: &str) -> Vec<KeyValue> {
    vec![s("user.id", id)]
}

pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    request_with_resource(spans, vec![s("service.name", "test-svc")])
}

pub fn request_with_resource(spans: Vec<Span>, resource: Vec<KeyValue>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap()
}

/// POSTs protobuf; returns (status, body bytes, headers).
pub fn post_raw(url: &str, ct: &str, body: Vec<u8>, extra: &[(&str, &str)]) -> reqwest::blocking::Response {
    let mut r = client().post(format!("{url}/v1/traces")).header("content-type", ct).body(body);
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    r.send().expect("request sent")
}

/// POSTs a protobuf request and asserts 200.
pub fn send(url: &str, req: &ExportTraceServiceRequest) {
    let r = post_raw(url, "application/x-protobuf", req.encode_to_vec(), &[]);
    let status = r.status();
    let body = r.text().unwrap_or_default();
    assert_eq!(status, 200, "export failed: {body}");
}

/// GETs JSON; returns (status, body).
pub fn get(url: &str, path: &str) -> (u16, Value) {
    let r = client().get(format!("{url}{path}")).send().expect("request sent");
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, v)
}

/// GETs JSON and asserts 200.
pub fn get_ok(url: &str, path: &str) -> Value {
    let (st, v) = get(url, path);
    assert_eq!(st, 200, "GET {path}: {v}");
    v
}

pub fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
}

/// App state whose writer never drains (queue of capacity 1, already full): every export finds
/// the receiver busy. The receiver on it is served by the test (HTTP router or gRPC service).
pub fn stalled_state() -> userspan_receiver::api::AppState {
    use std::sync::Arc;
    use userspan_receiver::store::writer::WriteJob;
    let (tx, rx) = tokio::sync::mpsc::channel::<WriteJob>(1);
    std::mem::forget(rx); // never drained, never closed
    let (reply, _) = tokio::sync::oneshot::channel();
    tx.try_send(WriteJob { rows: vec![], feedback: vec![], reply }).unwrap();
    userspan_receiver::api::AppState {
        writer: tx,
        index: Arc::new(Default::default()),
        keys: Arc::new(Default::default()),
        ingest: Arc::new(Default::default()),
        maintenance: Default::default(),
    }
}

/// Runs the `userspan` binary: `(exited 0, stdout, stderr)`.
pub fn userspan(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_userspan")).args(args).output().expect("userspan runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
