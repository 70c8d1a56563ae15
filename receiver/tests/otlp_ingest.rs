//! OTLP/HTTP endpoint behaviour: encodings, gzip, caps, bad input, partial success, overload,
//! CORS, and the API's 400s for bad parameters.

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::Value;
use std::io::Write;
use userspan_receiver::api::otlp::RpcStatus;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn traces(url: &str) -> i64 {
    get_ok(url, "/api/overview")["traces"].as_i64().unwrap()
}

#[test]
fn json_request_gets_json_response_and_is_stored() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let body = serde_json::json!({
        "resourceSpans": [{
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "js" } }] },
            "scopeSpans": [{
                "scope": { "name": "t" },
                "spans": [{
                    "traceId": "5b8efff798038103d269b633813fc60c",
                    "spanId": "eee19b7ec3c1b174",
                    "name": "chat",
                    "kind": 1,
                    "startTimeUnixNano": now.to_string(),
                    "endTimeUnixNano": (now + 250_000_000).to_string(),
                    "attributes": [
                        { "key": "user.id", "value": { "stringValue": "json-user" } },
                        { "key": "gen_ai.usage.input_tokens", "value": { "intValue": "12" } },
                        { "key": "gen_ai.usage.output_tokens", "value": { "intValue": 3 } },
                        { "key": "gen_ai.usage.total_cost", "value": { "doubleValue": 0.5 } }
                    ],
                    "status": { "code": 2, "message": "x" }
                }]
            }]
        }]
    });
    let r = post_raw(&srv.url(), "application/json; charset=utf-8", body.to_string().into_bytes(), &[]);
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let v: Value = r.json().unwrap();
    assert_eq!(v, serde_json::json!({}));
    let d = get_ok(&srv.url(), "/api/users/json-user");
    assert_eq!(d["traces"], 1);
    assert_eq!(d["input_tokens"], 12);
    assert_eq!(d["output_tokens"], 3);
    assert_eq!(d["cost_usd"].as_f64().unwrap(), 0.5);
    assert_eq!(d["errored_traces"], 1);
    assert_eq!(d["avg_latency_ms"].as_f64().unwrap(), 250.0);
}

#[test]
fn protobuf_response_is_protobuf() {
    let srv = server();
    let r = post_raw(&srv.url(), "application/x-protobuf", request(vec![span(1, 1, now_ns(), 1)]).encode_to_vec(), &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let resp = ExportTraceServiceResponse::decode(r.bytes().unwrap()).unwrap();
    assert_eq!(resp.partial_success, None);
}

#[test]
fn gzip_protobuf_and_json() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let body = gzip(&request(vec![span(1, 1, now, 1).attrs(user("gz"))]).encode_to_vec());
    let r = post_raw(&srv.url(), "application/x-protobuf", body, &[("content-encoding", "gzip")]);
    assert_eq!(r.status(), 200);
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"00000000000000000000000000000abc","spanId":"0000000000000abc","name":"j","startTimeUnixNano":"{now}","endTimeUnixNano":"{now}","attributes":[{{"key":"user.id","value":{{"stringValue":"gz"}}}}]}}]}}]}}]}}"#
    );
    let r = post_raw(&srv.url(), "application/json", gzip(json.as_bytes()), &[("content-encoding", "gzip")]);
    assert_eq!(r.status(), 200);
    assert_eq!(get_ok(&srv.url(), "/api/users/gz")["traces"], 2);
}

#[test]
fn truncated_protobuf_is_400_with_rpc_status() {
    let srv = server();
    let full = request(vec![span(1, 1, now_ns(), 1).attrs(user("u"))]).encode_to_vec();
    let r = post_raw(&srv.url(), "application/x-protobuf", full[..full.len() - 7].to_vec(), &[]);
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let st = RpcStatus::decode(r.bytes().unwrap()).unwrap();
    assert_eq!(st.code, 3);
    assert!(st.message.contains("protobuf"), "{}", st.message);
    assert_eq!(traces(&srv.url()), 0);
}

#[test]
fn wrong_json_shapes_are_400() {
    let srv = server();
    for body in [
        "not json",
        "[]",
        r#"{"resourceSpans": 5}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0000000000000001"}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":42}]}]}]}"#,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#,
    ] {
        let r = post_raw(&srv.url(), "application/json", body.as_bytes().to_vec(), &[]);
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["code"], 3, "{body}");
        assert!(v["message"].as_str().unwrap().contains("JSON"), "{v}");
    }
}

#[test]
fn ids_of_wrong_length_are_rejected_in_partial_success() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let mut short_trace = span(1, 1, now, 1).attrs(user("ok"));
    short_trace.trace_id.truncate(15);
    let mut long_span = span(2, 2, now, 1);
    long_span.span_id.push(1);
    let mut zero = span(3, 3, now, 1);
    zero.trace_id = vec![0; 16];
    let good = span(4, 4, now, 1).attrs(user("ok"));
    let r = post_raw(
        &srv.url(),
        "application/x-protobuf",
        request(vec![short_trace, long_span, zero, good]).encode_to_vec(),
        &[],
    );
    assert_eq!(r.status(), 200);
    let resp = ExportTraceServiceResponse::decode(r.bytes().unwrap()).unwrap();
    let p = resp.partial_success.expect("partial success");
    assert_eq!(p.rejected_spans, 3);
    assert!(p.error_message.contains("16 bytes"), "{}", p.error_message);
    assert_eq!(traces(&srv.url()), 1);
    // JSON mirrors it.
    let body =
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd","spanId":"0000000000000001","name":"x"}]}]}]}"#;
    let r = post_raw(&srv.url(), "application/json", body.as_bytes().to_vec(), &[]);
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "1");
}

#[test]
fn gzip_bomb_is_413_after_decompression() {
    let srv = server();
    // 65 MiB of zeros compresses to ~65 KiB: small on the wire, over the cap once inflated.
    let zeros = vec![0u8; 65 * 1024 * 1024];
    let bomb = gzip(&zeros);
    assert!(bomb.len() < 1024 * 1024);
    let r = post_raw(&srv.url(), "application/x-protobuf", bomb, &[("content-encoding", "gzip")]);
    assert_eq!(r.status(), 413);
    let st = RpcStatus::decode(r.bytes().unwrap()).unwrap();
    assert!(st.message.contains("after decompression"));
    // A plain body over the cap too.
    let r = post_raw(&srv.url(), "application/x-protobuf", vec![0u8; 64 * 1024 * 1024 + 1], &[]);
    assert_eq!(r.status(), 413);
    // Invalid gzip is a 400.
    let r = post_raw(&srv.url(), "application/x-protobuf", b"not gzip".to_vec(), &[("content-encoding", "gzip")]);
    assert_eq!(r.status(), 400);
}

#[test]
fn unknown_content_type_or_encoding_is_415() {
    let srv = server();
    let body = request(vec![span(1, 1, now_ns(), 1)]).encode_to_vec();
    for ct in ["text/plain", "application/xml", ""] {
        let r = post_raw(&srv.url(), ct, body.clone(), &[]);
        assert_eq!(r.status(), 415, "{ct:?}");
    }
    let r = post_raw(&srv.url(), "application/x-protobuf", body, &[("content-encoding", "br")]);
    assert_eq!(r.status(), 415);
    assert_eq!(traces(&srv.url()), 0);
}

#[test]
fn ten_thousand_span_batch() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let spans: Vec<_> = (0..10_000u64)
        .map(|n| {
            let sp = span(n / 4, n, now + n, 5).attrs(user(&format!("user-{}", n % 100)));
            if n % 4 == 0 {
                sp
            } else {
                sp.parent(n - n % 4)
            }
        })
        .collect();
    send(&srv.url(), &request(spans));
    let v = get_ok(&srv.url(), "/api/users?limit=1000");
    assert_eq!(v["overview"]["traces"], 2500);
    assert_eq!(v["total"], 25); // a trace belongs to its earliest span's user: n % 4 == 0 → user n % 100 in 0,4,8..96
    assert_eq!(v["rollups"]["traces"]["sum"].as_f64().unwrap(), 2500.0);
}

#[test]
fn full_writer_queue_is_503_with_retry_after() {
    use userspan_receiver::api::router;
    let state = stalled_state();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, router(state)).await });
    let r = post_raw(&url, "application/x-protobuf", request(vec![span(1, 1, now_ns(), 1)]).encode_to_vec(), &[]);
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let st = RpcStatus::decode(r.bytes().unwrap()).unwrap();
    assert_eq!(st.code, 14);
}

#[test]
fn cors_preflight_on_traces() {
    let srv = server();
    let r = client()
        .request(reqwest::Method::OPTIONS, format!("{}/v1/traces", srv.url()))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization,content-encoding")
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let methods = h["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    for x in ["content-type", "authorization", "content-encoding"] {
        assert!(allowed.contains(x), "{allowed}");
    }
    // The actual POST carries the CORS header too.
    let r = post_raw(
        &srv.url(),
        "application/x-protobuf",
        request(vec![span(1, 1, now_ns(), 1)]).encode_to_vec(),
        &[("origin", "https://app.example")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

#[test]
fn bad_query_parameters_are_400_with_a_message() {
    let srv = server();
    send(&srv.url(), &request(vec![span(1, 1, now_ns() - HOUR_NS, 1).attrs(user("u"))]));
    for path in [
        "/api/overview?from=yesterday",
        "/api/overview?to=2025-13-45T00:00:00Z",
        "/api/overview?from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z",
        "/api/overview?from=0&to=0",
        "/api/overview?from=-99999999999999999999",
        "/api/overview?from=0",
        "/api/overview?bogus=1",
        "/api/users?sort=password",
        "/api/users?order=sideways",
        "/api/users?limit=0",
        "/api/users?limit=-5",
        "/api/users?limit=abc",
        "/api/users?limit=100000",
        "/api/users?offset=-1",
        "/api/users?offset=1e3",
        "/api/users?limit=1&limit=2",
        "/api/users/u?type=martian",
        "/api/users/u?from=1",
        "/api/users/u/sessions?errors_only=maybe",
        "/api/users/u/sessions?from=x",
        "/api/users/u/traces?errors_only=2",
        "/api/users/u/traces?limit=0",
        "/api/users/%FF%FE",
    ] {
        let (st, v) = get(&srv.url(), path);
        assert_eq!(st, 400, "{path}: {v}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {v}");
    }
    let (st, v) = get(&srv.url(), "/api/users/nobody");
    assert_eq!(st, 404);
    assert!(v["error"].is_string());
    let (st, v) = get(&srv.url(), "/api/nothing");
    assert_eq!(st, 404, "{v}");
    assert_eq!(get_ok(&srv.url(), "/healthz")["status"], "ok");
}
