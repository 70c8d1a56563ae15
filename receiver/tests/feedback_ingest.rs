//! Feedback ingest (`docs/design.md`, "Feedback ingest"): OTLP/HTTP `POST /v1/logs` (protobuf,
//! JSON, gzip, keys, partial success, busy writer), OTLP/gRPC `LogsService/Export`,
//! `POST /api/feedback` (all-or-nothing), idempotency on the id, attribution to the trace owner
//! (also for a trace arriving later), erasure and retention, and persistence across a restart.
//! Requests are built with opentelemetry-proto's types and sent to a real receiver.

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{json, Value};
use std::io::Write;
use userspan::conventions as conv;
use userspan_receiver::api::otlp::RpcStatus;
use userspan_receiver::server::{spawn, ServerConfig};

/// A `gen_ai.evaluation.result` record on span `span_n` of trace `trace` (0: no trace).
fn fb(trace: u64, span_n: u64, time_ns: u64, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: time_ns,
        event_name: conv::GEN_AI_EVALUATION_RESULT.into(),
        trace_id: if trace == 0 { vec![] } else { tid(trace) },
        span_id: if trace == 0 { vec![] } else { sid(span_n) },
        attributes: attrs,
        ..Default::default()
    }
}

fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    logs_with_resource(records, vec![s("service.name", "app")])
}

fn logs_with_resource(records: Vec<LogRecord>, resource: Vec<KeyValue>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn post_logs(url: &str, ct: &str, body: Vec<u8>, extra: &[(&str, &str)]) -> reqwest::blocking::Response {
    let mut r = client().post(format!("{url}/v1/logs")).header("content-type", ct).body(body);
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    r.send().expect("request sent")
}

/// POSTs protobuf logs, asserts 200, returns the decoded response.
fn send_logs(url: &str, req: &ExportLogsServiceRequest) -> ExportLogsServiceResponse {
    let r = post_logs(url, "application/x-protobuf", req.encode_to_vec(), &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    ExportLogsServiceResponse::decode(r.bytes().unwrap()).unwrap()
}

fn post_feedback(url: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    let mut r = client().post(format!("{url}/api/feedback")).header("content-type", "application/json");
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.body(body.to_string()).send().unwrap();
    let st = r.status().as_u16();
    (st, r.json().unwrap_or(Value::Null))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn thumbs(v: bool, comment: Option<&str>, id: &str) -> Vec<KeyValue> {
    let mut a = vec![
        s(conv::GEN_AI_EVALUATION_NAME, "thumbs"),
        b(conv::GEN_AI_EVALUATION_SCORE_VALUE, v),
        s(conv::GEN_AI_EVALUATION_SCORE_LABEL, if v { "up" } else { "down" }),
        s(conv::FEEDBACK_SOURCE, conv::FEEDBACK_SOURCE_END_USER),
        s(conv::FEEDBACK_ID, id),
    ];
    if let Some(c) = comment {
        a.push(s(conv::GEN_AI_EVALUATION_EXPLANATION, c));
    }
    a
}

fn records_of(url: &str, user: &str, extra: &str) -> Value {
    get_ok(url, &format!("/api/users/{user}/feedback?source=all{extra}"))
}

#[test]
fn protobuf_logs_store_feedback_drop_other_records_and_reject_bad_ones() {
    let srv = server();
    let url = srv.url();
    let t0 = now_ns() - 2 * HOUR_NS;
    send(&url, &request(vec![span(1, 1, t0, 100).attrs(user("alice"))]));
    let other = LogRecord { time_unix_nano: t0, body: None, severity_text: "INFO".into(), ..Default::default() };
    let old_style = LogRecord {
        time_unix_nano: t0 + 3,
        trace_id: tid(1),
        span_id: sid(1),
        attributes: vec![
            s("event.name", conv::GEN_AI_EVALUATION_RESULT),
            s(conv::GEN_AI_EVALUATION_NAME, "relevance"),
            f(conv::GEN_AI_EVALUATION_SCORE_VALUE, 0.9),
        ],
        ..Default::default()
    };
    let no_score = fb(1, 1, t0 + 4, vec![s(conv::GEN_AI_EVALUATION_NAME, "x")]);
    let nan =
        fb(1, 1, t0 + 5, vec![s(conv::GEN_AI_EVALUATION_NAME, "x"), f(conv::GEN_AI_EVALUATION_SCORE_VALUE, f64::NAN)]);
    let bad_source = fb(
        1,
        1,
        t0 + 6,
        vec![
            s(conv::GEN_AI_EVALUATION_NAME, "x"),
            i(conv::GEN_AI_EVALUATION_SCORE_VALUE, 3),
            s(conv::FEEDBACK_SOURCE, "robot"),
        ],
    );
    let bad_trace = LogRecord { trace_id: vec![1, 2, 3], ..fb(0, 0, t0 + 7, thumbs(true, None, "short-trace")) };
    let resp = send_logs(
        &url,
        &logs(vec![
            fb(1, 1, t0 + 1, thumbs(true, Some("great answer"), "fb-1")),
            other,
            old_style,
            no_score,
            nan,
            bad_source,
            bad_trace,
        ]),
    );
    let ps = resp.partial_success.expect("partial success");
    assert_eq!(ps.rejected_log_records, 4);
    assert!(ps.error_message.starts_with(conv::GEN_AI_EVALUATION_SCORE_VALUE), "{}", ps.error_message);

    let stats = get_ok(&url, "/api/stats");
    assert_eq!(stats["ingest"]["log_records"], 7);
    assert_eq!(stats["ingest"]["feedback_records"], 2);
    assert_eq!(stats["ingest"]["rejected_feedback_records"], 4);
    assert_eq!(stats["ingest"]["dropped_log_records"], 1);

    let v = records_of(&url, "alice", "");
    assert_eq!(v["total"], 2);
    let recs = v["records"].as_array().unwrap();
    // Latest first: the old-style evaluator record (t0 + 3), then the thumbs (t0 + 1).
    assert_eq!(recs[0]["name"], "relevance");
    assert_eq!(recs[0]["source"], "evaluator", "OTLP records without a source are an evaluator's");
    assert_eq!(recs[0]["value"], 0.9);
    assert_eq!(recs[1]["id"], "fb-1");
    assert_eq!(recs[1]["value"], 1.0, "a bool is 1 / 0");
    assert_eq!(recs[1]["label"], "up");
    assert_eq!(recs[1]["comment"], "great answer");
    assert_eq!(recs[1]["trace_id"], hex::encode(tid(1)));
    assert_eq!(recs[1]["span_id"], hex::encode(sid(1)));
    assert_eq!(recs[1]["session_id"], hex::encode(tid(1)), "a trace without a session is its own");
}

#[test]
fn json_and_gzip_logs_and_content_type_errors() {
    let srv = server();
    let url = srv.url();
    let t = now_ns() - HOUR_NS;
    let body = json!({
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "user.id", "value": {"stringValue": "jay"}}]},
            "scopeLogs": [{"logRecords": [{
                "timeUnixNano": t.to_string(),
                "eventName": "gen_ai.evaluation.result",
                "attributes": [
                    {"key": "gen_ai.evaluation.name", "value": {"stringValue": "stars"}},
                    {"key": "gen_ai.evaluation.score.value", "value": {"intValue": "4"}},
                    {"key": "userspan.feedback.source", "value": {"stringValue": "end_user"}}
                ]
            }, {
                "timeUnixNano": t.to_string(),
                "eventName": "gen_ai.evaluation.result",
                "attributes": [{"key": "gen_ai.evaluation.name", "value": {"stringValue": "stars"}}]
            }]}]
        }]
    });
    let r = post_logs(&url, "application/json", gzip(body.to_string().as_bytes()), &[("content-encoding", "gzip")]);
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["partialSuccess"]["rejectedLogRecords"], "1");
    // Its own user (resource `user.id`): no trace.
    let v = records_of(&url, "jay", "");
    assert_eq!(v["total"], 1);
    assert_eq!(v["records"][0]["value"], 4.0);
    assert_eq!(v["records"][0]["trace_id"], Value::Null);
    assert_eq!(v["user_id_type"], "custom");

    assert_eq!(post_logs(&url, "text/plain", b"x".to_vec(), &[]).status(), 415);
    let r = post_logs(&url, "application/x-protobuf", vec![0xff, 0xff, 0xff], &[]);
    assert_eq!(r.status(), 400);
    assert_eq!(RpcStatus::decode(r.bytes().unwrap()).unwrap().code, 3);
    let r = post_logs(&url, "application/json", b"[1]".to_vec(), &[]);
    assert_eq!(r.status(), 400);
    let r = post_logs(&url, "application/x-protobuf", b"x".to_vec(), &[("content-encoding", "gzip")]);
    assert_eq!(r.status(), 400, "bad gzip");
    // Millions of empty log records in a small body: refused before decoding.
    let mut many = Vec::new();
    let empty_record = [0x12u8, 0x00]; // ScopeLogs.log_records, empty
    let mut scope = Vec::new();
    for _ in 0..4_000_000 {
        scope.extend_from_slice(&empty_record);
    }
    let mut rl = vec![0x12];
    prost::encoding::encode_varint(scope.len() as u64, &mut rl);
    rl.extend_from_slice(&scope);
    many.push(0x0a);
    prost::encoding::encode_varint(rl.len() as u64, &mut many);
    many.extend_from_slice(&rl);
    let r = post_logs(&url, "application/x-protobuf", many, &[]);
    assert_eq!(r.status(), 413);
    assert!(r.text().unwrap().contains("decode budget"));
    assert_eq!(get_ok(&url, "/api/stats")["ingest"]["log_records"], 2);
}

#[test]
fn grpc_logs_service_stores_feedback_with_partial_success() {
    let srv = server();
    let url = srv.url();
    let t0 = now_ns() - HOUR_NS;
    send(&url, &request(vec![span(7, 1, t0, 100).attrs(user("gina"))]));
    let req = logs(vec![
        fb(7, 1, t0 + 10, thumbs(false, Some("wrong"), "g-1")),
        fb(7, 1, t0 + 11, vec![s(conv::GEN_AI_EVALUATION_NAME, "")]),
    ]);
    let grpc = srv.grpc_url().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let resp = rt
        .block_on(async {
            let mut c = LogsServiceClient::connect(grpc).await.unwrap();
            c.export(req).await.map(|r| r.into_inner())
        })
        .expect("export succeeds");
    let ps = resp.partial_success.unwrap();
    assert_eq!(ps.rejected_log_records, 1);
    assert!(ps.error_message.starts_with(conv::GEN_AI_EVALUATION_NAME), "{}", ps.error_message);
    let v = records_of(&url, "gina", "");
    assert_eq!(v["total"], 1);
    assert_eq!(v["records"][0]["value"], 0.0);
    assert_eq!(v["records"][0]["comment"], "wrong");
}

#[test]
fn keys_decide_who_may_send_logs_and_feedback() {
    let mut cfg = ServerConfig::ephemeral();
    cfg.api_keys = vec![("api-k".into(), "shop".into())];
    cfg.keys.ingest = vec![("ing-k".into(), "shop".into())];
    cfg.keys.read = vec![("read-k".into(), "shop".into())];
    let srv = spawn(cfg).unwrap();
    let url = srv.url();
    let body = logs(vec![fb(0, 0, now_ns() - HOUR_NS, thumbs(true, None, "k-1"))]).encode_to_vec();
    let r = post_logs(&url, "application/x-protobuf", body.clone(), &[]);
    assert_eq!(r.status(), 401);
    let r = post_logs(&url, "application/x-protobuf", body.clone(), &[("authorization", "Bearer read-k")]);
    assert_eq!(r.status(), 403);
    let r = post_logs(&url, "application/x-protobuf", body, &[("authorization", "Bearer ing-k")]);
    assert_eq!(r.status(), 200);
    let rec = json!({"records": [{"name": "note", "label": "ok", "user_id": "u1", "source": "annotator"}]});
    assert_eq!(post_feedback(&url, &rec, None).0, 401);
    assert_eq!(post_feedback(&url, &rec, Some("read-k")), (200, json!({"stored": 1})), "a dashboard user may annotate");
    assert_eq!(post_feedback(&url, &rec, Some("ing-k")).0, 200);
    let r = client()
        .post(format!("{url}/api/feedback?project=other"))
        .header("content-type", "application/json")
        .bearer_auth("api-k")
        .body(rec.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let stats = client().get(format!("{url}/api/stats")).bearer_auth("read-k").send().unwrap().json::<Value>().unwrap();
    assert_eq!(stats["project"], "shop");
    assert_eq!(stats["ingest"]["feedback_records"], 3);
}

#[test]
fn api_feedback_batches_are_all_or_nothing() {
    let srv = server();
    let url = srv.url();
    let t = now_ns() - HOUR_NS;
    send(&url, &request(vec![span(3, 1, t, 100).attrs(user("ann"))]));
    let good = json!({"id": "a-1", "name": "thumbs", "value": true, "label": "up", "comment": "nice",
        "trace_id": hex::encode(tid(3)), "span_id": hex::encode(sid(1)), "time": (t / 1_000_000 + 5) as i64});
    let cases = [
        (json!({"name": "x", "value": "high"}), "records[1].value: must be a finite number or a bool"),
        (json!({"value": 1}), "records[1].name: "),
        (json!({"name": "x"}), "records[1].value: "),
        (
            json!({"name": "x", "value": 1, "source": "bot"}),
            "records[1].source: must be one of end_user, annotator, evaluator",
        ),
        (json!({"name": "x", "value": 1, "trace_id": "abc"}), "records[1].trace_id: "),
        (json!({"name": "x", "value": 1, "time": "yesterday"}), "records[1].time: "),
        (json!({"name": "x", "value": 1, "colour": "red"}), "records[1].colour: unknown field"),
        (json!({"name": "x", "value": 1, "user_id": "a", "user_id_type": "ssn"}), "records[1].user_id_type: "),
        (json!({"name": "x".repeat(257), "value": 1}), "records[1].name: "),
    ];
    for (bad, want) in cases {
        let (st, v) = post_feedback(&url, &json!({"records": [good.clone(), bad]}), None);
        assert_eq!(st, 400, "{v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.starts_with(want), "{msg} should start with {want}");
    }
    assert_eq!(post_feedback(&url, &json!({"records": "x"}), None).0, 400);
    assert_eq!(post_feedback(&url, &json!({"rows": []}), None).0, 400);
    let too_many: Vec<Value> = (0..1001).map(|_| json!({"name": "x", "value": 1})).collect();
    assert_eq!(post_feedback(&url, &json!({"records": too_many}), None).0, 400);
    let r =
        client().post(format!("{url}/api/feedback")).header("content-type", "text/plain").body("{}").send().unwrap();
    assert_eq!(r.status(), 415);
    // Nothing of the refused batches was stored.
    assert_eq!(get_ok(&url, "/api/stats")["ingest"]["feedback_records"], 0);
    assert_eq!(records_of(&url, "ann", "")["total"], 0);

    let other = json!({"name": "helpful", "label": "yes", "trace_id": hex::encode(tid(3))});
    assert_eq!(post_feedback(&url, &json!({"records": [good, other]}), None), (200, json!({"stored": 2})));
    let v = get_ok(&url, "/api/users/ann/feedback");
    assert_eq!(v["source"], "end_user", "records posted without a source are an end user's");
    assert_eq!(v["total"], 2);
    let r = &v["records"];
    let ids: Vec<&str> = r.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"a-1"));
    // The derived id is a SHA-256 (hex).
    assert!(ids.iter().any(|i| i.len() == 64 && i.bytes().all(|c| c.is_ascii_hexdigit())), "{ids:?}");
}

#[test]
fn the_id_makes_storage_idempotent_and_later_times_win() {
    let srv = server();
    let url = srv.url();
    let t0 = now_ns() - 3 * HOUR_NS;
    send(&url, &request(vec![span(5, 1, t0, 100).attrs(user("ida"))]));
    let rec = |t: u64, v: bool, c: &str| fb(5, 1, t, thumbs(v, Some(c), "same"));
    send_logs(&url, &logs(vec![rec(t0 + 100, true, "first")]));
    send_logs(&url, &logs(vec![rec(t0 + 100, true, "first")])); // exact re-send
    let v = records_of(&url, "ida", "");
    assert_eq!((v["total"].clone(), v["records"][0]["comment"].clone()), (json!(1), json!("first")));
    send_logs(&url, &logs(vec![rec(t0 + 200, false, "edited")]));
    send_logs(&url, &logs(vec![rec(t0 + 150, true, "stale")])); // earlier: ignored
    let v = records_of(&url, "ida", "");
    assert_eq!(v["total"], 1);
    assert_eq!(v["records"][0]["comment"], "edited");
    assert_eq!(v["records"][0]["value"], 0.0);
    // Stored or replaced: the first, its equal-time re-send and the edit; not the stale one.
    assert_eq!(get_ok(&url, "/api/stats")["ingest"]["feedback_records"], 3);
    // Without an id, an exact re-send is the same record (derived id); another time is another.
    let anon = |t: u64| {
        fb(5, 1, t, vec![s(conv::GEN_AI_EVALUATION_NAME, "auto"), f(conv::GEN_AI_EVALUATION_SCORE_VALUE, 0.2)])
    };
    send_logs(&url, &logs(vec![anon(t0 + 300), anon(t0 + 300), anon(t0 + 301)]));
    assert_eq!(records_of(&url, "ida", "&name=auto")["total"], 2);
}

#[test]
fn feedback_before_its_trace_moves_to_the_trace_owner_when_it_arrives() {
    let srv = server();
    let url = srv.url();
    let t0 = now_ns() - 5 * HOUR_NS;
    // The record names bob, but its trace (not yet stored) will be carol's.
    let mut attrs = thumbs(true, None, "late-1");
    attrs.push(s("user.id", "bob"));
    send_logs(&url, &logs(vec![fb(9, 2, t0 + 1000, attrs)]));
    send(&url, &request(vec![span(50, 1, t0, 10).attrs(user("bob"))]));
    assert_eq!(records_of(&url, "bob", "")["total"], 1, "kept, and its own user's until the trace arrives");
    // The trace arrives: a later span first (dave), then an earlier one (carol) that owns it.
    send(&url, &request(vec![span(9, 2, t0 + 500, 10).attrs(user("dave"))]));
    assert_eq!(records_of(&url, "bob", "")["total"], 0);
    assert_eq!(records_of(&url, "dave", "")["total"], 1);
    send(&url, &request(vec![span(9, 1, t0 + 100, 1000).attrs(user("carol"))]));
    assert_eq!(records_of(&url, "dave", "")["total"], 0, "the owner is recomputed with the trace");
    let v = records_of(&url, "carol", "");
    assert_eq!(v["total"], 1);
    assert_eq!(v["records"][0]["session_id"], hex::encode(tid(9)));
}

#[test]
fn erasure_and_retention_delete_feedback_and_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fb.db");
    let mut cfg = ServerConfig::ephemeral();
    cfg.db = userspan_receiver::store::schema::DbPath::File(db.clone());
    cfg.retention_days = Some(7);
    let srv = spawn(cfg.clone()).unwrap();
    let url = srv.url();
    let t0 = now_ns() - 2 * HOUR_NS;
    send(&url, &request(vec![span(1, 1, t0, 10).attrs(user("eve")), span(2, 1, t0, 10).attrs(user("fay"))]));
    let mut own = thumbs(true, None, "eve-own");
    own.push(s("user.id", "eve"));
    send_logs(
        &url,
        &logs(vec![
            fb(1, 1, t0 + 5, thumbs(true, Some("secret-comment-of-eve"), "eve-1")),
            fb(0, 0, t0 + 6, own),
            fb(2, 1, t0 + 7, thumbs(false, None, "fay-1")),
            // Given long ago: retention deletes it.
            fb(2, 1, now_ns() - 30 * DAY_NS, thumbs(false, None, "fay-old")),
        ]),
    );
    let since = format!("&from={}", (now_ns() - 60 * DAY_NS) / 1_000_000);
    assert_eq!(records_of(&url, "fay", &since)["total"], 2);
    srv.run_retention().unwrap();
    assert_eq!(records_of(&url, "fay", &since)["total"], 1);
    let r = client().delete(format!("{url}/api/users/eve")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get(&url, "/api/users/eve/feedback").0, 404);
    srv.stop();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM feedback")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, vec!["fay-1".to_string()]);
    drop(conn);
    let bytes = std::fs::read(&db).unwrap();
    assert!(!bytes.windows(21).any(|w| w == b"secret-comment-of-eve"), "erased text must not stay in the file");
    // Restart: the index is rebuilt from the database.
    let srv = spawn(cfg).unwrap();
    let v = records_of(&srv.url(), "fay", "");
    assert_eq!(v["total"], 1);
    assert_eq!(v["records"][0]["id"], "fay-1");
}

#[test]
fn a_busy_writer_answers_503_on_logs_and_feedback() {
    use userspan_receiver::api::router;
    let state = stalled_state();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, router(state)).await });
    let body = logs(vec![fb(0, 0, now_ns(), thumbs(true, None, "b"))]).encode_to_vec();
    let r = post_logs(&url, "application/x-protobuf", body, &[]);
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(RpcStatus::decode(r.bytes().unwrap()).unwrap().code, 14);
    let (st, _) = post_feedback(&url, &json!({"records": [{"name": "x", "value": 1}]}), None);
    assert_eq!(st, 503);
}
