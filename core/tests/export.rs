//! OTLP export to a local HTTP endpoint: what leaves the process is decoded with
//! `opentelemetry-proto` and checked; a receiver that is down, hangs or answers 503 never blocks or
//! fails the app.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use userspan::{Attributes, Config, Protocol};

static LOCK: Mutex<()> = Mutex::new(());
fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes, Instant)>>>,
    /// How many of the first requests to answer with 503 + Retry-After: 1.
    unavailable: Arc<AtomicUsize>,
    /// When set, requests hang until the flag clears.
    hang: Arc<std::sync::atomic::AtomicBool>,
}

/// An OTLP/HTTP endpoint on 127.0.0.1 with an ephemeral port, on its own runtime thread.
fn endpoint(state: Received) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/v1/traces",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let state = state.clone();
                    async move {
                        while state.hang.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        state.requests.lock().unwrap().push((headers.clone(), body, Instant::now()));
                        if state.unavailable.load(Ordering::SeqCst) > 0 {
                            state.unavailable.fetch_sub(1, Ordering::SeqCst);
                            return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], Vec::new())
                                .into_response();
                        }
                        let ok =
                            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::default();
                        if headers.get("content-type").is_some_and(|c| c.as_bytes().starts_with(b"application/json")) {
                            (StatusCode::OK, [("content-type", "application/json")], b"{}".to_vec()).into_response()
                        } else {
                            (StatusCode::OK, [("content-type", "application/x-protobuf")], ok.encode_to_vec())
                                .into_response()
                        }
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn string(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) => Some(s.clone()),
        _ => None,
    })
}

fn config(endpoint: String) -> Config {
    Config {
        endpoint: Some(endpoint),
        service_name: Some("support-bot".into()),
        project: Some("acme".into()),
        api_key: Some("sk-test".into()),
        scheduled_delay: Some(Duration::from_millis(50)),
        ..Default::default()
    }
}

#[test]
fn otlp_protobuf_carries_user_attributes_resource_and_api_key() {
    let _s = serial();
    let state = Received::default();
    userspan::init(config(endpoint(state.clone()))).unwrap();
    userspan::capture(
        "support-agent-turn",
        Attributes::new().user_id("ada@example.com").user_email("ada@example.com").session_id("conv-7").tag("vip"),
        || {},
    );
    assert!(userspan::flush(Duration::from_secs(10)));
    let requests = state.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (headers, body, _) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer sk-test");
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let req = ExportTraceServiceRequest::decode(body.as_ref()).expect("valid OTLP protobuf");
    let rs = &req.resource_spans[0];
    let resource = &rs.resource.as_ref().unwrap().attributes;
    assert_eq!(string(resource, "service.name").as_deref(), Some("support-bot"));
    assert_eq!(string(resource, "userspan.project").as_deref(), Some("acme"));
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(span.name, "support-agent-turn");
    assert_eq!(string(&span.attributes, "user.id").as_deref(), Some("ada@example.com"));
    assert_eq!(string(&span.attributes, "user.email").as_deref(), Some("ada@example.com"));
    assert_eq!(string(&span.attributes, "session.id").as_deref(), Some("conv-7"));
    let tags = span.attributes.iter().find(|kv| kv.key == "tag.tags").unwrap();
    match &tags.value.as_ref().unwrap().value {
        Some(any_value::Value::ArrayValue(a)) => {
            assert_eq!(a.values.len(), 1);
            assert_eq!(a.values[0].value, Some(any_value::Value::StringValue("vip".into())));
        }
        other => panic!("tag.tags is not an array: {other:?}"),
    }
    userspan::shutdown(Duration::from_secs(5));
    userspan::shutdown(Duration::from_secs(5)); // idempotent
}

#[test]
fn otlp_json_is_decodable_by_opentelemetry_proto() {
    let _s = serial();
    let state = Received::default();
    userspan::init(Config { protocol: Some(Protocol::HttpJson), ..config(endpoint(state.clone())) }).unwrap();
    userspan::capture("json-turn", Attributes::new().user_id("u-json").session_id("s"), || {});
    assert!(userspan::flush(Duration::from_secs(10)));
    let requests = state.requests.lock().unwrap().clone();
    let (headers, body, _) = &requests[0];
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let req: ExportTraceServiceRequest = serde_json::from_slice(body).expect("valid OTLP/JSON");
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "json-turn");
    assert_eq!(string(&span.attributes, "user.id").as_deref(), Some("u-json"));
    userspan::shutdown(Duration::from_secs(5));
}

#[test]
fn a_503_with_retry_after_is_retried_after_the_delay() {
    let _s = serial();
    let state = Received::default();
    state.unavailable.store(1, Ordering::SeqCst);
    userspan::init(config(endpoint(state.clone()))).unwrap();
    let before = userspan::stats();
    userspan::capture("retried", Attributes::new().user_id("u"), || {});
    assert!(userspan::flush(Duration::from_secs(20)));
    let requests = state.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one 503, then the retry");
    assert_eq!(requests[0].1, requests[1].1, "the same spans are sent again");
    assert!(requests[1].2 - requests[0].2 >= Duration::from_millis(900), "Retry-After: 1 was honoured");
    let after = userspan::stats();
    assert_eq!(after.spans_exported - before.spans_exported, 1);
    assert_eq!(after.export_errors, before.export_errors);
    userspan::shutdown(Duration::from_secs(5));
}

#[test]
fn a_receiver_that_is_down_never_fails_the_app_and_is_counted() {
    let _s = serial();
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    userspan::init(Config {
        export_timeout: Some(Duration::from_secs(2)),
        ..config(format!("http://127.0.0.1:{port}"))
    })
    .unwrap();
    let before = userspan::stats();
    let total: u64 = (0..200u64).map(|i| userspan::capture("down", Attributes::new().user_id("u"), || i)).sum();
    assert_eq!(total, (0..200).sum::<u64>());
    assert!(!userspan::flush(Duration::from_secs(30)) || userspan::stats().export_errors > before.export_errors);
    let after = userspan::stats();
    assert!(after.export_errors > before.export_errors, "failed export counted: {after:?}");
    assert_eq!(after.spans_dropped - before.spans_dropped, 200, "every span is accounted as dropped: {after:?}");
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn a_hanging_receiver_never_blocks_the_app_and_the_queue_is_bounded() {
    let _s = serial();
    let state = Received::default();
    state.hang.store(true, Ordering::SeqCst);
    userspan::init(Config {
        max_queue_size: Some(64),
        max_export_batch_size: Some(32),
        scheduled_delay: Some(Duration::from_millis(10)),
        ..config(endpoint(state.clone()))
    })
    .unwrap();
    let before = userspan::stats();
    // The app's thread does 5000 captures while every export hangs. If capture waited on export
    // this would never finish; the generous bound only turns such a hang into a failure.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..5000 {
            userspan::capture("busy", Attributes::new().user_id(format!("u-{}", i % 10)), || {});
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("the app thread finished while the receiver hung");
    let mid = userspan::stats();
    assert!(mid.spans_dropped - before.spans_dropped >= 5000 - 64 - 32, "bounded queue drops: {mid:?}");
    state.hang.store(false, Ordering::SeqCst);
    assert!(userspan::flush(Duration::from_secs(30)));
    let after = userspan::stats();
    let exported = after.spans_exported - before.spans_exported;
    let dropped = after.spans_dropped - before.spans_dropped;
    assert_eq!(exported + dropped, 5000, "every span is exported or counted as dropped: {after:?}");
    assert!(exported > 0);
    userspan::shutdown(Duration::from_secs(5));
}
