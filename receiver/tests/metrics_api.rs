//! Ingest a known workload over OTLP/HTTP and check every API number against values computed
//! by hand.

mod common;
use common::*;
use serde_json::Value;

fn t(base: u64, day: u64, hour: u64, min: u64) -> u64 {
    base + day * DAY_NS + hour * HOUR_NS + min * 60_000_000_000
}

fn workload(base: u64) -> Vec<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest> {
    let alice = |sess: &str| {
        vec![
            s("user.id", "alice@x.com"),
            s("user.id.type", "email"),
            s("user.email", "alice@x.com"),
            s("user.metadata", r#"{"plan":"pro","region":"eu"}"#),
            s("session.id", sess),
        ]
    };
    // alice, session s1: trace 1 (ok) and 2 (errored chat); session s2: trace 3 (tool + passing eval).
    let t1 = t(base, 0, 10, 0);
    let t2 = t(base, 0, 11, 0);
    let t3 = t(base, 1, 9, 0);
    let r1 = vec![
        span(1, 10, t1, 1000).attrs(alice("s1")),
        span(1, 11, t1 + 100_000_000, 800).parent(10).attrs(alice("s1")).attrs(vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 100),
            i("gen_ai.usage.output_tokens", 50),
            f("gen_ai.usage.total_cost", 0.002),
        ]),
        span(2, 20, t2, 500).attrs(alice("s1")),
        span(2, 21, t2 + 1_000_000, 400).parent(20).error().attrs(alice("s1")).attrs(vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.response.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 10),
            i("gen_ai.usage.output_tokens", 5),
            f("gen_ai.usage.input_cost", 0.0001),
            f("gen_ai.usage.output_cost", 0.0002),
        ]),
        span(3, 30, t3, 200).attrs(alice("s2")).event(
            "gen_ai.evaluation.result",
            vec![s("gen_ai.evaluation.name", "helpful"), s("gen_ai.evaluation.score.label", "pass")],
        ),
        span(3, 31, t3 + 1_000_000, 50)
            .parent(30)
            .attrs(alice("s2"))
            .attrs(vec![s("gen_ai.operation.name", "execute_tool"), s("gen_ai.tool.name", "search")]),
    ];
    // bob: other SDKs' keys. Trace 4 without a session, a guardrail and a failing eval; trace 5
    // via enduser.id with a langfuse session, errored.
    let t4 = t(base, 1, 12, 0);
    let t5 = t(base, 1, 13, 0);
    let r2 = vec![
        span(4, 40, t4, 300)
            .attrs(vec![s("langfuse.user.id", "bob")])
            .event("gen_ai.evaluation.result", vec![s("gen_ai.evaluation.score.label", "fail")]),
        span(4, 41, t4 + 1_000_000, 100).parent(40).attrs(vec![
            s("user.id", "bob"),
            i("gen_ai.usage.prompt_tokens", 7),
            s("llm.model_name", "claude"),
            s("gen_ai.system", "anthropic"),
        ]),
        span(4, 42, t4 + 2_000_000, 10).parent(40).attrs(vec![s("openinference.span.kind", "GUARDRAIL")]),
        span(5, 50, t5, 100).error().attrs(vec![s("enduser.id", "bob"), s("langfuse.session.id", "lf-1")]),
        // no user at all
        span(6, 60, t5 + 5 * 60_000_000_000, 100).attrs(vec![s("session.id", "anon")]),
    ];
    vec![request(r1), request(r2)]
}

fn setup() -> (userspan_receiver::server::Running, u64) {
    let srv = server();
    let base = (now_ns() - 3 * DAY_NS) / DAY_NS * DAY_NS;
    for r in workload(base) {
        send(&srv.url(), &r);
    }
    (srv, base)
}

fn user_row<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["users"].as_array().unwrap().iter().find(|u| u["user_id"] == id).unwrap_or_else(|| panic!("no row {id}: {v}"))
}

#[test]
fn overview_numbers() {
    let (srv, _) = setup();
    let ov = get_ok(&srv.url(), "/api/overview");
    assert_eq!(ov["traces"], 6);
    assert_eq!(ov["traces_with_user"], 5);
    assert!(approx(ov["traces_with_user_share"].as_f64().unwrap(), 5.0 / 6.0));
    assert_eq!(ov["sessions"], 5); // s1, s2, trace 4's own, lf-1, anon
    assert_eq!(ov["sessions_with_user"], 4);
    assert!(approx(ov["sessions_with_user_share"].as_f64().unwrap(), 0.8));
    assert_eq!(ov["unique_users"], 2);
    assert_eq!(ov["new_users"], 2);
    assert!(approx(ov["traces_per_user"].as_f64().unwrap(), 2.5));
    assert_eq!(ov["bucket"], "day");
    let hist = ov["histogram"].as_array().unwrap();
    assert!(hist.len() == 30 || hist.len() == 31, "{}", hist.len());
    let total: i64 = hist.iter().map(|b| b["traces"].as_i64().unwrap()).sum();
    let errored: i64 = hist.iter().map(|b| b["errored_traces"].as_i64().unwrap()).sum();
    assert_eq!((total, errored), (6, 2));
    let sessions: Vec<i64> = hist.iter().map(|b| b["sessions"].as_i64().unwrap()).filter(|n| *n > 0).collect();
    assert_eq!(sessions, vec![1, 4]); // day 0: s1; day 1: s2, trace 4, lf-1, anon
}

#[test]
fn user_rows_and_rollups() {
    let (srv, base) = setup();
    let v = get_ok(&srv.url(), "/api/users");
    assert_eq!(v["total"], 2);
    assert_eq!(v["overview"]["unique_users"], 2);
    let a = user_row(&v, "alice@x.com");
    assert_eq!(a["user_id_type"], "email");
    assert_eq!(a["user_email"], "alice@x.com");
    assert_eq!(a["traces"], 3);
    assert_eq!(a["sessions"], 2);
    assert_eq!(a["errored_sessions"], 1);
    assert!(approx(a["error_rate"].as_f64().unwrap(), 0.5));
    assert_eq!(a["errored_traces"], 1);
    assert_eq!(a["llm_calls"], 2);
    assert_eq!(a["input_tokens"], 110);
    assert_eq!(a["output_tokens"], 55);
    assert_eq!(a["total_tokens"], 165);
    assert!(approx(a["cost_usd"].as_f64().unwrap(), 0.0023));
    assert!(approx(a["cost_avg_usd"].as_f64().unwrap(), 0.0023 / 3.0));
    assert!(approx(a["cost_median_usd"].as_f64().unwrap(), 0.0003));
    assert!(approx(a["avg_latency_ms"].as_f64().unwrap(), (1000.0 + 500.0 + 200.0) / 3.0));
    assert_eq!(a["active_days"], 2);
    assert!(approx(a["eval_pass_rate"].as_f64().unwrap(), 1.0));
    assert_eq!(a["guardrail_triggers"], 0);
    assert_eq!(a["metadata"]["plan"], "pro");
    assert_eq!(a["first_seen"], userspan_receiver::timefmt::fmt_time(t(base, 0, 10, 0) as i64));
    assert_eq!(a["last_seen"], userspan_receiver::timefmt::fmt_time(t(base, 1, 9, 0) as i64));
    assert_eq!(a["activated_at"], a["first_seen"]);
    assert_eq!(a["trend"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).sum::<i64>(), 3);

    let bob = user_row(&v, "bob");
    assert_eq!(bob["user_id_type"], "custom");
    assert_eq!(bob["user_email"], Value::Null);
    assert_eq!(bob["traces"], 2);
    assert_eq!(bob["sessions"], 2);
    assert_eq!(bob["errored_sessions"], 1);
    assert_eq!(bob["llm_calls"], 1);
    assert_eq!(bob["input_tokens"], 7);
    assert!(approx(bob["eval_pass_rate"].as_f64().unwrap(), 0.0));
    assert_eq!(bob["guardrail_triggers"], 1);
    assert_eq!(bob["cost_usd"].as_f64().unwrap(), 0.0);
    assert_eq!(bob["metadata"], serde_json::json!({}));

    let r = &v["rollups"];
    assert!(approx(r["traces"]["sum"].as_f64().unwrap(), 5.0));
    assert!(approx(r["traces"]["avg"].as_f64().unwrap(), 2.5));
    assert!(approx(r["traces"]["median"].as_f64().unwrap(), 2.5));
    assert!(approx(r["cost_usd"]["sum"].as_f64().unwrap(), 0.0023));
    assert!(approx(r["eval_pass_rate"]["avg"].as_f64().unwrap(), 0.5));

    // sort, order, search, pagination
    let v = get_ok(&srv.url(), "/api/users?sort=traces&order=asc");
    assert_eq!(v["users"][0]["user_id"], "bob");
    let v = get_ok(&srv.url(), "/api/users?sort=cost_usd&order=desc&limit=1");
    assert_eq!(v["users"].as_array().unwrap().len(), 1);
    assert_eq!(v["users"][0]["user_id"], "alice@x.com");
    assert_eq!(v["total"], 2);
    let v = get_ok(&srv.url(), "/api/users?sort=cost_usd&order=desc&limit=1&offset=1");
    assert_eq!(v["users"][0]["user_id"], "bob");
    let v = get_ok(&srv.url(), "/api/users?q=X.COM");
    assert_eq!(v["total"], 1);
    assert_eq!(v["users"][0]["user_id"], "alice@x.com");
    assert!(approx(v["rollups"]["traces"]["sum"].as_f64().unwrap(), 3.0));
    let v = get_ok(&srv.url(), "/api/users?sort=eval_pass_rate&order=asc");
    assert_eq!(v["users"][0]["user_id"], "bob");
}

#[test]
fn periods_and_buckets() {
    let (srv, base) = setup();
    // Day 1 only, in unix ms: an hourly (24 h) period.
    let from = (t(base, 1, 0, 0) / 1_000_000).to_string();
    let to = (t(base, 2, 0, 0) / 1_000_000).to_string();
    let v = get_ok(&srv.url(), &format!("/api/users?from={from}&to={to}"));
    assert_eq!(v["overview"]["bucket"], "hour");
    assert_eq!(v["overview"]["histogram"].as_array().unwrap().len(), 24);
    assert_eq!(v["overview"]["traces"], 4);
    assert_eq!(v["overview"]["new_users"], 1); // bob; alice started on day 0
    let a = user_row(&v, "alice@x.com");
    assert_eq!(a["traces"], 1);
    assert_eq!(a["trend"].as_array().unwrap().len(), 24);
    assert_eq!(a["trend"][9], 1);
    assert_eq!(a["activated_at"], userspan_receiver::timefmt::fmt_time(t(base, 0, 10, 0) as i64));
    // RFC 3339 in, half-open interval: [10:00, 11:00) on day 0 holds trace 1 only.
    let from = userspan_receiver::timefmt::fmt_time(t(base, 0, 10, 0) as i64);
    let to = userspan_receiver::timefmt::fmt_time(t(base, 0, 11, 0) as i64);
    let v = get_ok(&srv.url(), &format!("/api/overview?from={from}&to={to}"));
    assert_eq!(v["traces"], 1);
    assert_eq!(v["histogram"].as_array().unwrap().len(), 1);
}

#[test]
fn detail_sessions_traces() {
    let (srv, _) = setup();
    let d = get_ok(&srv.url(), "/api/users/alice@x.com");
    assert_eq!(d["traces"], 3);
    assert_eq!(d["sessions"], 2);
    assert_eq!(d["errored_sessions"], 1);
    assert_eq!(d["total_tokens"], 165);
    assert_eq!(d["active_days"], 2);
    assert_eq!(d["activity"].as_array().unwrap().len(), 30);
    assert_eq!(d["activity"].as_array().unwrap().iter().map(|x| x["traces"].as_i64().unwrap()).sum::<i64>(), 3);
    assert_eq!(d["models"].as_array().unwrap().len(), 1);
    assert_eq!(d["models"][0]["model"], "gpt-4o");
    assert_eq!(d["models"][0]["traces"], 2);
    assert_eq!(d["models"][0]["input_tokens"], 110);
    assert!(approx(d["models"][0]["cost_usd"].as_f64().unwrap(), 0.0023));
    assert_eq!(d["providers"], serde_json::json!([{ "name": "openai", "traces": 2 }]));
    assert_eq!(d["tools"], serde_json::json!([{ "name": "search", "traces": 1 }]));
    let d = get_ok(&srv.url(), "/api/users/alice@x.com?type=email");
    assert_eq!(d["user_id_type"], "email");
    let (st, _) = get(&srv.url(), "/api/users/alice@x.com?type=uuid");
    assert_eq!(st, 404);
    let bob = get_ok(&srv.url(), "/api/users/bob");
    assert_eq!(bob["models"][0]["model"], "claude");
    assert_eq!(bob["providers"][0]["name"], "anthropic");

    let s = get_ok(&srv.url(), "/api/users/alice@x.com/sessions");
    assert_eq!(s["total"], 2);
    assert_eq!(s["sessions"][0]["session_id"], "s2"); // most recent first
    let s1 = &s["sessions"][1];
    assert_eq!(s1["session_id"], "s1");
    assert_eq!(s1["traces"], 2);
    assert_eq!(s1["errored"], true);
    assert_eq!(s1["total_tokens"], 165);
    let s = get_ok(&srv.url(), "/api/users/alice@x.com/sessions?errors_only=true");
    assert_eq!(s["total"], 1);
    assert_eq!(s["sessions"][0]["session_id"], "s1");

    let tr = get_ok(&srv.url(), "/api/users/alice@x.com/traces");
    assert_eq!(tr["total"], 3);
    assert_eq!(tr["traces"][0]["trace_id"], hex_tid(3));
    assert_eq!(tr["traces"][0]["name"], "span-30");
    assert_eq!(tr["traces"][2]["duration_ms"].as_f64().unwrap(), 1000.0);
    let tr = get_ok(&srv.url(), "/api/users/alice@x.com/traces?session_id=s1");
    assert_eq!(tr["total"], 2);
    let tr = get_ok(&srv.url(), "/api/users/alice@x.com/traces?errors_only=1");
    assert_eq!(tr["total"], 1);
    assert_eq!(tr["traces"][0]["status"], "error");
    let tr = get_ok(&srv.url(), "/api/users/bob/traces?limit=1&offset=1");
    assert_eq!(tr["traces"].as_array().unwrap().len(), 1);
    assert_eq!(tr["traces"][0]["session_id"], hex_tid(4)); // no session: its own trace id
}

fn hex_tid(n: u64) -> String {
    tid(n).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn duplicate_delivery_is_idempotent() {
    let (srv, base) = setup();
    let q = format!("/api/users?from={}&to={}", (base - 10 * DAY_NS) / 1_000_000, (base + 3 * DAY_NS) / 1_000_000);
    let before = get_ok(&srv.url(), &q);
    for r in workload(base) {
        send(&srv.url(), &r);
    }
    let after = get_ok(&srv.url(), &q);
    assert_eq!(before["users"], after["users"]);
    assert_eq!(before["overview"], after["overview"]);
}

#[test]
fn trace_split_across_requests_belongs_to_earliest_user_span() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    // The child (later start, user "late") arrives first; the root (earlier, user "early") later.
    send(&srv.url(), &request(vec![span(9, 91, now + 1_000_000, 10).parent(90).attrs(user("late")).error()]));
    let v = get_ok(&srv.url(), "/api/users");
    assert_eq!(v["users"][0]["user_id"], "late");
    send(&srv.url(), &request(vec![span(9, 90, now, 100).attrs(user("early"))]));
    let v = get_ok(&srv.url(), "/api/users");
    assert_eq!(v["total"], 1, "{v}");
    let row = &v["users"][0];
    assert_eq!(row["user_id"], "early");
    assert_eq!(row["traces"], 1);
    assert_eq!(row["errored_traces"], 1);
    assert_eq!(row["avg_latency_ms"].as_f64().unwrap(), 100.0);
    let tr = get_ok(&srv.url(), "/api/users/early/traces");
    assert_eq!(tr["traces"][0]["name"], "span-90");
    assert_eq!(tr["traces"][0]["spans"], 2);
    // "late" still exists as an identity but owns no trace.
    let d = get_ok(&srv.url(), "/api/users/late");
    assert_eq!(d["traces"], 0);
    assert_eq!(d["activated_at"], Value::Null);
}

#[test]
fn span_without_user_counts_only_in_overview() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    send(&srv.url(), &request(vec![span(1, 1, now, 10), span(2, 2, now, 10).attrs(user(""))]));
    let v = get_ok(&srv.url(), "/api/users");
    assert_eq!(v["total"], 0);
    assert_eq!(v["overview"]["traces"], 2);
    assert_eq!(v["overview"]["traces_with_user"], 0);
    assert_eq!(v["overview"]["traces_with_user_share"].as_f64().unwrap(), 0.0);
    assert_eq!(v["overview"]["traces_per_user"].as_f64().unwrap(), 0.0);
}

#[test]
fn path_ids_with_slash_percent_and_unicode() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    let ids = ["team/alice", "100%real", "zoë 🚀", "a%2Fb", "q?x=1#y"];
    let spans = ids.iter().enumerate().map(|(n, id)| span(n as u64 + 1, 1, now, 10).attrs(user(id))).collect();
    send(&srv.url(), &request(spans));
    for id in ids {
        let enc: String = id
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let d = get_ok(&srv.url(), &format!("/api/users/{enc}"));
        assert_eq!(d["user_id"], id);
        assert_eq!(d["traces"], 1);
        let tr = get_ok(&srv.url(), &format!("/api/users/{enc}/traces"));
        assert_eq!(tr["total"], 1, "{id}");
    }
    // "a%2Fb" decoded once is the literal "a%2Fb", not "a/b".
    let (st, _) = get(&srv.url(), "/api/users/a%2Fb");
    assert_eq!(st, 404, "a%2Fb must be decoded exactly once (to a/b, which does not exist)");
}

#[test]
fn api_keys_scope_projects() {
    let mut cfg = userspan_receiver::server::ServerConfig::ephemeral();
    cfg.api_keys = vec![("k1".into(), "p1".into()), ("k2".into(), "p2".into())];
    let srv = userspan_receiver::server::spawn(cfg).unwrap();
    let url = srv.url();
    let now = now_ns() - HOUR_NS;
    use prost::Message;
    let body = request_with_resource(vec![span(1, 1, now, 10).attrs(user("u1"))], vec![s("userspan.project", "p2")])
        .encode_to_vec();
    let r = post_raw(&url, "application/x-protobuf", body.clone(), &[]);
    assert_eq!(r.status(), 401);
    let r = post_raw(&url, "application/x-protobuf", body.clone(), &[("authorization", "Bearer nope")]);
    assert_eq!(r.status(), 401);
    // The key decides the project, whatever the resource says.
    let r = post_raw(&url, "application/x-protobuf", body, &[("authorization", "Bearer k1")]);
    assert_eq!(r.status(), 200);
    let c = client();
    let r = c.get(format!("{url}/api/users")).send().unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = c.get(format!("{url}/api/users")).bearer_auth("k1").send().unwrap().json().unwrap();
    assert_eq!(v["total"], 1);
    let r = c.get(format!("{url}/api/users?project=p1")).bearer_auth("k2").send().unwrap();
    assert_eq!(r.status(), 403, "k2 reads p2 only");
}

#[test]
fn projects_from_resource_without_keys() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    send(
        &srv.url(),
        &request_with_resource(vec![span(1, 1, now, 10).attrs(user("u1"))], vec![s("userspan.project", "shop")]),
    );
    send(&srv.url(), &request(vec![span(2, 1, now, 10).attrs(user("u2"))]));
    let v = get_ok(&srv.url(), "/api/users?project=shop");
    assert_eq!(v["total"], 1);
    assert_eq!(v["users"][0]["user_id"], "u1");
    let v = get_ok(&srv.url(), "/api/users");
    assert_eq!(v["total"], 1);
    assert_eq!(v["users"][0]["user_id"], "u2");
}

#[test]
fn same_id_different_types_are_different_users() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    send(
        &srv.url(),
        &request(vec![
            span(1, 1, now, 10).attrs(vec![s("user.id", "42"), s("user.id.type", "custom")]),
            span(2, 1, now + 1, 10).attrs(vec![s("user.id", "42"), s("user.id.type", "phone")]),
        ]),
    );
    let v = get_ok(&srv.url(), "/api/users");
    assert_eq!(v["total"], 2);
    assert_eq!(get_ok(&srv.url(), "/api/users/42?type=phone")["user_id_type"], "phone");
    assert_eq!(get_ok(&srv.url(), "/api/users/42?type=custom")["user_id_type"], "custom");
}

#[test]
fn repeated_spans_inside_one_request_or_concurrent_requests_count_once() {
    let srv = server();
    let now = now_ns() - HOUR_NS;
    // A short trace (3 spans, the first one sent twice, the second copy different) and a long
    // one (40 spans, every span sent twice), all new to the store, in one request.
    let mut spans = vec![
        span(1, 10, now, 100).attrs(user("rep")).attrs(vec![i("gen_ai.usage.input_tokens", 7)]),
        // A sibling root, so the nesting rule (a parent's usage repeats its children's) keeps both.
        span(1, 11, now + 1, 10).attrs(user("rep")).attrs(vec![i("gen_ai.usage.input_tokens", 5)]),
        span(1, 10, now, 100).attrs(user("rep")).attrs(vec![i("gen_ai.usage.input_tokens", 1000)]),
        span(1, 12, now + 2, 10).parent(10).error(),
    ];
    for k in 0..80u64 {
        let n = 100 + k % 40;
        let sp =
            span(2, n, now + HOUR_NS / 2 + n, 10).attrs(user("rep")).attrs(vec![i("gen_ai.usage.output_tokens", 1)]);
        // Siblings (no parent), so each one's usage counts under the nesting rule.
        spans.push(sp);
    }
    send(&srv.url(), &request(spans));
    let check = |url: &str| {
        let v = get_ok(url, "/api/users/rep/traces");
        let by_id =
            |n: u64| v["traces"].as_array().unwrap().iter().find(|t| t["trace_id"] == hex_tid(n)).unwrap().clone();
        assert_eq!(v["total"], 2, "{v}");
        assert_eq!(by_id(1)["spans"], 3);
        assert_eq!(by_id(1)["input_tokens"], 12, "the first copy of a repeated span is the one kept");
        assert_eq!(by_id(2)["spans"], 40);
        assert_eq!(by_id(2)["output_tokens"], 40);
    };
    check(&srv.url());
    // The same request from several clients at once (they may share a transaction): no change.
    let body = request(vec![
        span(1, 10, now, 100).attrs(user("rep")),
        span(3, 30, now + 5, 10).attrs(user("rep")).attrs(vec![i("gen_ai.usage.output_tokens", 3)]),
    ]);
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (url, body) = (srv.url(), body.clone());
            std::thread::spawn(move || send(&url, &body))
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let v = get_ok(&srv.url(), "/api/users/rep/traces");
    assert_eq!(v["total"], 3, "{v}");
    let t3 = v["traces"].as_array().unwrap().iter().find(|t| t["trace_id"] == hex_tid(3)).unwrap();
    assert_eq!((t3["spans"].as_i64(), t3["output_tokens"].as_i64()), (Some(1), Some(3)));
}
