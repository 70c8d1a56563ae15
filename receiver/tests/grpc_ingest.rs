//! OTLP/gRPC ingest (`TraceService/Export`) with tonic clients, checked through the HTTP API:
//! the same numbers as OTLP/HTTP, API keys, the size cap, malformed frames (raw HTTP/2), gzip,
//! partial success and a busy writer's `UNAVAILABLE` + `RetryInfo`.

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use serde_json::Value;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use userspan_receiver::server::{spawn, Running, ServerConfig};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn grpc_url(srv: &Running) -> String {
    srv.grpc_url().expect("the test server serves gRPC")
}

/// One `Export` call with the opentelemetry-proto generated client.
fn export_with(
    url: &str,
    req: ExportTraceServiceRequest,
    key: Option<&str>,
    gzip: bool,
) -> Result<ExportTraceServiceResponse, Status> {
    rt().block_on(async {
        let mut client = TraceServiceClient::connect(url.to_string()).await.expect("connects");
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let mut r = tonic::Request::new(req);
        if let Some(k) = key {
            r.metadata_mut().insert("authorization", format!("Bearer {k}").parse().unwrap());
        }
        client.export(r).await.map(|r| r.into_inner())
    })
}

fn export(url: &str, req: ExportTraceServiceRequest) -> Result<ExportTraceServiceResponse, Status> {
    export_with(url, req, None, false)
}

/// GET with an optional bearer key.
fn get_as(url: &str, path: &str, key: Option<&str>) -> Value {
    let mut r = client().get(format!("{url}{path}"));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().unwrap()
}

/// A workload with three users, sessions, LLM usage and cost, errors and one anonymous trace.
fn workload() -> ExportTraceServiceRequest {
    let base = now_ns() - HOUR_NS;
    let mut spans = Vec::new();
    for u in 0..3u64 {
        for t in 0..(u + 2) {
            let trace = u * 100 + t;
            let start = base + trace * 1_000_000_000;
            let who = vec![s("user.id", &format!("grpc-user-{u}")), s("session.id", &format!("s-{u}-{}", t / 2))];
            spans.push(span(trace, trace * 10, start, 20).attrs(who.clone()));
            let mut chat =
                span(trace, trace * 10 + 1, start + 1_000_000, 10).parent(trace * 10).attrs(who).attrs(vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.request.model", "gpt-4o-mini"),
                    i("gen_ai.usage.input_tokens", (10 * u + t) as i64),
                    i("gen_ai.usage.output_tokens", 7),
                    f("gen_ai.usage.total_cost", 0.001 * (u + 1) as f64),
                ]);
            if t == 1 {
                chat = chat.error();
            }
            spans.push(chat);
        }
    }
    spans.push(span(999, 9990, base, 1));
    request(spans)
}

/// `v` without the default period's bounds (`from`, `to`: "now" of each call).
fn without_period(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("from");
                m.remove("to");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn grpc_and_http_exports_of_one_request_give_the_same_numbers() {
    let (via_grpc, via_http) = (server(), server());
    let req = workload();
    let resp = export(&grpc_url(&via_grpc), req.clone()).expect("gRPC export");
    assert_eq!(resp.partial_success, None, "full success leaves partial_success unset");
    send(&via_http.url(), &req);
    // The answer came after the COMMIT: the spans are readable at once.
    for path in ["/api/users?limit=100", "/api/overview", "/api/users/grpc-user-2", "/api/users/grpc-user-2/traces"] {
        let (g, h) = (get_ok(&via_grpc.url(), path), get_ok(&via_http.url(), path));
        assert_eq!(without_period(g), without_period(h), "{path}");
    }
    let users = get_ok(&via_grpc.url(), "/api/users?limit=100");
    assert_eq!(users["total"], 3);
    let u2 = users["users"].as_array().unwrap().iter().find(|r| r["user_id"] == "grpc-user-2").unwrap();
    assert_eq!(u2["traces"], 4);
    assert_eq!(u2["input_tokens"], 20 + 21 + 22 + 23);
    assert_eq!(u2["output_tokens"], 28);
    assert!(approx(u2["cost_usd"].as_f64().unwrap(), 0.012), "{u2}");
    assert_eq!(get_ok(&via_grpc.url(), "/api/overview")["traces"], 2 + 3 + 4 + 1);
}

#[test]
fn gzip_requests_are_accepted() {
    let srv = server();
    let base = now_ns() - HOUR_NS;
    let spans = (0..50).map(|k| span(k, k, base + k * 1000, 2).attrs(user("zipped"))).collect();
    export_with(&grpc_url(&srv), request(spans), None, true).expect("gzip export");
    assert_eq!(get_ok(&srv.url(), "/api/users/zipped")["traces"], 50);
}

#[test]
fn invalid_spans_are_reported_in_partial_success() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let mut short_trace = span(1, 1, now, 1).attrs(user("ok"));
    short_trace.trace_id.truncate(15);
    let mut long_span = span(2, 2, now, 1);
    long_span.span_id.push(1);
    let good = span(4, 4, now, 1).attrs(user("ok"));
    let resp = export(&grpc_url(&srv), request(vec![short_trace, long_span, good])).expect("export");
    let p = resp.partial_success.expect("partial success");
    assert_eq!(p.rejected_spans, 2);
    assert!(p.error_message.contains("16 bytes"), "{}", p.error_message);
    assert_eq!(get_ok(&srv.url(), "/api/overview")["traces"], 1);
}

#[test]
fn api_keys_decide_the_project_and_unknown_keys_are_unauthenticated() {
    let mut cfg = ServerConfig::ephemeral();
    cfg.api_keys = vec![("key-a".into(), "proj-a".into()), ("key-b".into(), "proj-b".into())];
    let srv = spawn(cfg).unwrap();
    let url = grpc_url(&srv);
    let now = now_ns() - HOUR_NS;
    // The resource claims proj-a; the key is proj-b's: the key wins, as on HTTP.
    let req = request_with_resource(
        vec![span(1, 1, now, 1).attrs(user("keyed"))],
        vec![s("service.name", "svc"), s("userspan.project", "proj-a")],
    );
    for key in [None, Some("wrong"), Some("")] {
        let e = export_with(&url, req.clone(), key, false).expect_err("refused");
        assert_eq!(e.code(), Code::Unauthenticated, "{key:?}: {e:?}");
        assert!(e.message().contains("API key"), "{}", e.message());
        assert!(e.get_details_retry_info().is_none());
    }
    export_with(&url, req, Some("key-b"), false).expect("accepted with proj-b's key");
    assert_eq!(get_as(&srv.url(), "/api/overview", Some("key-b"))["traces"], 1);
    assert_eq!(get_as(&srv.url(), "/api/overview", Some("key-a"))["traces"], 0);
}

#[test]
fn requests_over_the_cap_are_resource_exhausted_and_the_server_stays_up() {
    let srv = server();
    let url = grpc_url(&srv);
    let now = now_ns() - HOUR_NS;
    // Over 64 MiB uncompressed: tonic refuses the length prefix; the answer is the
    // non-retryable RESOURCE_EXHAUSTED (no RetryInfo), not tonic's (retryable) OUT_OF_RANGE.
    let huge = request(vec![span(1, 1, now, 1).attrs(vec![s("blob", &"x".repeat(65 * 1024 * 1024))])]);
    let e = export(&url, huge.clone()).expect_err("too large");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("after decompression"), "{}", e.message());
    assert!(e.get_details_retry_info().is_none());
    // Small on the wire with gzip, over the cap once inflated.
    let e = export_with(&url, huge, None, true).expect_err("too large after decompression");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.get_details_retry_info().is_none());
    export(&url, request(vec![span(2, 2, now, 1).attrs(user("after"))])).expect("still serving");
    assert_eq!(get_ok(&srv.url(), "/api/users/after")["traces"], 1);
}

#[test]
fn requests_over_the_decode_budget_are_resource_exhausted_before_decoding() {
    let srv = server();
    let addr = srv.grpc_addr.unwrap();
    // 6 MiB of empty attributes on one span (2 bytes each on the wire, a 64-byte `KeyValue` each
    // once decoded: over 256 MiB), well under the 64 MiB cap.
    let attrs = [0x4a, 0x00].repeat(3 << 20);
    let field = |n: u8, payload: &[u8]| {
        let mut v = vec![n];
        prost::encoding::encode_varint(payload.len() as u64, &mut v);
        v.extend_from_slice(payload);
        v
    };
    let body = field(0x0a, &field(0x12, &field(0x12, &attrs))); // resource_spans.scope_spans.spans
    for gzip in [false, true] {
        let frame = if gzip {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&body).unwrap();
            framed(true, &e.finish().unwrap())
        } else {
            framed(false, &body)
        };
        let (code, msg) = raw_call(addr, frame, gzip.then_some("gzip"));
        assert_eq!(code, Code::ResourceExhausted as i32, "gzip {gzip}: {msg}");
        assert!(msg.contains("256%20MiB") && msg.contains("decode%20budget"), "{msg}");
    }
    // The same spans with real attributes are fine.
    let mut sp = span(1, 1, now_ns() - HOUR_NS, 1).attrs(user("budget"));
    sp.attributes.extend((0..1000).map(|n| i(&format!("k{n}"), n)));
    export(&grpc_url(&srv), request(vec![sp])).expect("accepted");
    assert_eq!(get_ok(&srv.url(), "/api/users/budget")["traces"], 1);
}

/// A raw HTTP/2 gRPC call: `frame` is the whole request body (5-byte prefix and message, or
/// anything else); returns the `grpc-status` and `grpc-message` of the answer.
fn raw_call(addr: std::net::SocketAddr, frame: Vec<u8>, grpc_encoding: Option<&str>) -> (i32, String) {
    use tonic::codegen::http;
    rt().block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (h2, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut h2 = h2.ready().await.unwrap();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/opentelemetry.proto.collector.trace.v1.TraceService/Export"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(e) = grpc_encoding {
            req = req.header("grpc-encoding", e);
        }
        let (resp, mut body) = h2.send_request(req.body(()).unwrap(), false).unwrap();
        body.send_data(frame.into(), true).unwrap();
        let resp = resp.await.unwrap();
        let (head, mut recv) = resp.into_parts();
        assert_eq!(head.status, 200, "gRPC answers errors in grpc-status, over HTTP 200");
        while let Some(chunk) = recv.data().await {
            let _ = chunk;
        }
        let trailers = recv.trailers().await.unwrap_or_default().unwrap_or_default();
        let field = |k: &str| {
            head.headers.get(k).or_else(|| trailers.get(k)).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
        };
        (field("grpc-status").parse().expect("grpc-status"), field("grpc-message"))
    })
}

fn framed(compressed: bool, message: &[u8]) -> Vec<u8> {
    let mut v = vec![u8::from(compressed)];
    v.extend_from_slice(&(message.len() as u32).to_be_bytes());
    v.extend_from_slice(message);
    v
}

#[test]
fn malformed_frames_are_invalid_argument_and_the_server_stays_up() {
    let srv = server();
    let addr = srv.grpc_addr.unwrap();
    let invalid = Code::InvalidArgument as i32;
    // A well-framed message that is not an ExportTraceServiceRequest (a truncated varint).
    let (code, msg) = raw_call(addr, framed(false, &[0x0a, 0xff, 0xff, 0xff]), None);
    assert_eq!(code, invalid, "{msg}");
    assert!(msg.contains("protobuf"), "{msg}");
    // A length prefix promising more bytes than the stream carries.
    let mut truncated = framed(false, &[0x0a, 0x00]);
    truncated[4] = 100;
    assert_eq!(raw_call(addr, truncated, None).0, invalid);
    // Compressed flag and grpc-encoding gzip, but the bytes are not gzip.
    let (code, msg) = raw_call(addr, framed(true, b"certainly not gzip"), Some("gzip"));
    assert_eq!(code, invalid, "{msg}");
    // Compressed flag without any grpc-encoding.
    assert_eq!(raw_call(addr, framed(true, b"x"), None).0, invalid);
    // An encoding the receiver does not accept: UNIMPLEMENTED, as the gRPC compression spec says.
    assert_eq!(raw_call(addr, framed(true, b"x"), Some("snappy")).0, Code::Unimplemented as i32);
    // Garbage that is not even a frame header.
    assert_eq!(raw_call(addr, vec![7, 7], None).0, invalid);
    // Still serving, and none of it was stored.
    assert_eq!(get_ok(&srv.url(), "/api/overview")["traces"], 0);
    export(&grpc_url(&srv), request(vec![span(1, 1, now_ns() - HOUR_NS, 1).attrs(user("fine"))])).unwrap();
    assert_eq!(get_ok(&srv.url(), "/api/users/fine")["traces"], 1);
}

#[test]
fn a_full_writer_queue_is_unavailable_with_retry_info() {
    let state = stalled_state();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(userspan_receiver::api::grpc::serve(state, listener, std::future::pending()));
    let e = export(&url, request(vec![span(1, 1, now_ns(), 1)])).expect_err("busy");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    let retry = e.get_details_retry_info().expect("RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
}

#[test]
fn grpc_can_be_turned_off() {
    let mut cfg = ServerConfig::ephemeral();
    cfg.grpc = userspan_receiver::server::GrpcListen::Off;
    let srv = spawn(cfg).unwrap();
    assert_eq!(srv.grpc_addr, None);
    assert_eq!(srv.grpc_note, None);
    // A taken default address is not fatal; an explicit one is.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let mut cfg = ServerConfig::ephemeral();
    cfg.grpc = userspan_receiver::server::GrpcListen::IfFree(taken);
    let srv = spawn(cfg).expect("starts without gRPC");
    assert_eq!(srv.grpc_addr, None);
    assert!(srv.grpc_note.as_deref().unwrap_or("").contains("--grpc-listen"), "{:?}", srv.grpc_note);
    let mut cfg = ServerConfig::ephemeral();
    cfg.grpc = userspan_receiver::server::GrpcListen::On(taken);
    let err = spawn(cfg).err().expect("refuses to start");
    assert!(err.contains("OTLP/gRPC") && err.contains("--grpc-listen off"), "{err}");
}

#[test]
fn serve_prints_the_grpc_address_it_listens_on() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_userspan");
    let out = Command::new(bin).args(["serve", "--grpc-listen", "nowhere"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT or `off`"));
    let mut child = Command::new(bin)
        .args(["serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let http = lines.next().unwrap().unwrap().rsplit(' ').next().unwrap().to_string();
    let grpc = lines
        .map(|l| l.unwrap())
        .find_map(|l| l.strip_prefix("  OTLP/gRPC traces: ").map(|r| r.split(' ').next().unwrap().to_string()))
        .expect("a gRPC line");
    assert!(grpc.starts_with("http://127.0.0.1:") && !grpc.ends_with(":0"), "{grpc}");
    let r = export(&grpc, request(vec![span(1, 1, now_ns() - HOUR_NS, 1).attrs(user("cli"))]));
    let traces = get_ok(&http, "/api/users/cli")["traces"].clone();
    child.kill().unwrap();
    let _ = child.wait();
    r.expect("export to the printed address");
    assert_eq!(traces, 1);
}

#[test]
fn stopping_does_not_wait_for_idle_grpc_clients() {
    let srv = server();
    let url = grpc_url(&srv);
    // A client that keeps its HTTP/2 connection open (as an exporter or a Collector does).
    let client_rt = tokio::runtime::Runtime::new().unwrap();
    let mut client = client_rt.block_on(TraceServiceClient::connect(url)).unwrap();
    client_rt.block_on(client.export(request(vec![span(1, 1, now_ns() - HOUR_NS, 1)]))).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        srv.stop();
        let _ = done_tx.send(());
    });
    done_rx.recv_timeout(Duration::from_secs(20)).expect("stop() returned with a client still connected");
    drop(client);
}
