//! Feedback metrics (`docs/design.md`, "Feedback" and "Users-list filters") through the HTTP
//! API of a real receiver: user-row columns and their rollups, `eval_pass_rate` with evaluator
//! records, the overview, cohorts, trace and session rows, `GET /api/users/{id}/feedback`
//! (summary, trends, distribution, top keys, paging, filters) and the users-list filters. The
//! expected numbers are worked out by hand from the workload below.

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use serde_json::{json, Value};
use userspan::conventions as conv;

fn fb(trace: u64, time_ns: u64, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: time_ns,
        event_name: conv::GEN_AI_EVALUATION_RESULT.into(),
        trace_id: if trace == 0 { vec![] } else { tid(trace) },
        span_id: if trace == 0 { vec![] } else { sid(1) },
        attributes: attrs,
        ..Default::default()
    }
}

/// `name`, optional value / label / comment, `source`, `id`.
fn attrs(
    name: &str,
    value: Option<f64>,
    label: Option<&str>,
    comment: Option<&str>,
    source: &str,
    id: &str,
) -> Vec<KeyValue> {
    let mut a = vec![s(conv::GEN_AI_EVALUATION_NAME, name), s(conv::FEEDBACK_SOURCE, source), s(conv::FEEDBACK_ID, id)];
    if let Some(v) = value {
        a.push(f(conv::GEN_AI_EVALUATION_SCORE_VALUE, v));
    }
    if let Some(l) = label {
        a.push(s(conv::GEN_AI_EVALUATION_SCORE_LABEL, l));
    }
    if let Some(c) = comment {
        a.push(s(conv::GEN_AI_EVALUATION_EXPLANATION, c));
    }
    a
}

const EU: &str = conv::FEEDBACK_SOURCE_END_USER;
const EV: &str = conv::FEEDBACK_SOURCE_EVALUATOR;
const AN: &str = conv::FEEDBACK_SOURCE_ANNOTATOR;

struct World {
    url: String,
    _srv: userspan_receiver::server::Running,
    /// `from` / `to` query (ms) of the period.
    period: String,
    from_ns: u64,
    times: Vec<(String, u64, bool)>,
}

/// alice (email, plan pro): traces 1, 2 (session s1), 3 (s2), 4 (a passing span event).
/// bob (plan free): traces 5, 6.
fn world() -> World {
    let srv = server();
    let url = srv.url();
    let t0 = (now_ns() / HOUR_NS - 12) * HOUR_NS + 60_000_000_000; // 12 h ago, one minute past the hour
    let alice = |n: u64, start: u64, sess: &str| {
        span(n, 1, start, 100).attrs(vec![
            s("user.id", "alice@x.com"),
            s("user.id.type", "email"),
            s("session.id", sess),
            s("user.metadata", r#"{"plan":"pro"}"#),
        ])
    };
    let bob = |n: u64, start: u64| {
        span(n, 1, start, 100).attrs(vec![s("user.id", "bob"), s("user.metadata", r#"{"plan":"free"}"#)])
    };
    send(
        &url,
        &request(vec![
            alice(1, t0, "s1"),
            alice(2, t0 + HOUR_NS, "s1"),
            alice(3, t0 + 2 * HOUR_NS, "s2"),
            alice(4, t0 + 3 * HOUR_NS, "s3")
                .event(conv::GEN_AI_EVALUATION_RESULT, vec![s(conv::GEN_AI_EVALUATION_SCORE_LABEL, "pass")]),
            bob(5, t0 + HOUR_NS),
            bob(6, t0 + 2 * HOUR_NS),
        ]),
    );
    let from_ns = t0 - HOUR_NS;
    let h = |k: u64| t0 + k * HOUR_NS + 5_000_000_000;
    let mut own = attrs("helpful", None, Some("yes"), Some("saved me time"), EU, "fb-own");
    own.push(s("user.id", "alice@x.com"));
    own.push(s("user.id.type", "email"));
    let records = vec![
        fb(1, h(0), attrs("thumbs", Some(1.0), Some("up"), Some("great answer"), EU, "fb-1")),
        fb(1, h(1), attrs("stars", Some(4.0), None, None, EU, "fb-2")),
        fb(2, h(2), attrs("thumbs", Some(0.0), Some("down"), None, EU, "fb-3")),
        fb(0, h(2), own),
        fb(5, h(3), attrs("thumbs", Some(1.0), None, None, EU, "fb-5")),
        fb(3, h(4), attrs("relevance", None, Some("pass"), None, EV, "ev-1")),
        fb(3, h(4), attrs("relevance", Some(0.2), None, None, EV, "ev-2")),
        fb(1, h(5), attrs("review", None, Some("ok"), None, AN, "an-1")),
        // Before the period: not counted in it, but trace 2 still has feedback (coverage).
        fb(2, from_ns - 2 * HOUR_NS, attrs("thumbs", Some(1.0), None, None, EU, "fb-old")),
    ];
    let times = vec![
        ("fb-1".to_string(), h(0), true),
        ("fb-2".to_string(), h(1), false),
        ("fb-3".to_string(), h(2), false),
        ("fb-own".to_string(), h(2), true),
    ];
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
            ..Default::default()
        }],
    };
    let r = client()
        .post(format!("{url}/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let to_ns = now_ns() + HOUR_NS;
    let period = format!("from={}&to={}", from_ns / 1_000_000, to_ns / 1_000_000);
    World { url, _srv: srv, period, from_ns, times }
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!(approx(got, want), "{got} != {want}");
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["users"].as_array().unwrap().iter().find(|u| u["user_id"] == id).unwrap_or_else(|| panic!("{id} in {list}"))
}

#[test]
fn user_rows_overview_and_cohorts_count_feedback() {
    let w = world();
    let list = get_ok(&w.url, &format!("/api/users?{}", w.period));
    let a = row(&list, "alice@x.com");
    assert_eq!(a["feedback_count"], 4, "fb-1, fb-2, fb-3, fb-own");
    close(&a["avg_feedback_score"], (1.0 + 4.0 + 0.0) / 3.0);
    close(&a["feedback_coverage"], 2.0 / 4.0);
    assert_eq!(a["comments"], 2);
    // Span event on trace 4 (pass), evaluator records on trace 3 (pass, 0.2 fails).
    close(&a["eval_pass_rate"], 2.0 / 3.0);
    let b = row(&list, "bob");
    assert_eq!(b["feedback_count"], 1);
    close(&b["avg_feedback_score"], 1.0);
    close(&b["feedback_coverage"], 0.5);
    assert_eq!(b["comments"], 0);
    assert_eq!(b["eval_pass_rate"], Value::Null);
    let r = &list["rollups"];
    close(&r["feedback_count"]["sum"], 5.0);
    close(&r["avg_feedback_score"]["avg"], (5.0 / 3.0 + 1.0) / 2.0);
    close(&r["comments"]["median"], 1.0);
    close(&list["overview"]["traces_with_feedback"], 3.0);
    close(&list["overview"]["traces_with_feedback_share"], 0.5);

    let c = get_ok(&w.url, &format!("/api/cohorts?key=plan&{}", w.period));
    let cohorts = c["cohorts"].as_array().unwrap();
    let pro = cohorts.iter().find(|c| c["value"] == "pro").unwrap();
    let free = cohorts.iter().find(|c| c["value"] == "free").unwrap();
    assert_eq!((pro["feedback_count"].clone(), free["feedback_count"].clone()), (json!(4), json!(1)));
    close(&pro["avg_feedback_score"], 5.0 / 3.0);
    close(&pro["feedback_coverage"], 0.5);
    close(&free["feedback_coverage"], 0.5);

    let sorted = get_ok(&w.url, &format!("/api/users?{}&sort=avg_feedback_score&order=desc", w.period));
    assert_eq!(sorted["users"][0]["user_id"], "alice@x.com");
}

#[test]
fn trace_and_session_rows_carry_evaluations_and_feedback() {
    let w = world();
    let t = get_ok(&w.url, "/api/users/alice@x.com/traces");
    let by =
        |n: u64| t["traces"].as_array().unwrap().iter().find(|x| x["trace_id"] == hex::encode(tid(n))).unwrap().clone();
    let t1 = by(1);
    assert_eq!(t1["evaluations"], json!({"passed": 0, "failed": 0}));
    assert_eq!(t1["feedback"]["records"], 2);
    close(&t1["feedback"]["avg_score"], 2.5);
    assert_eq!(t1["feedback"]["comments"], 1);
    let ids: Vec<&str> = t1["feedback_records"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["an-1", "fb-2", "fb-1"], "every source, latest first");
    assert_eq!(by(3)["evaluations"], json!({"passed": 1, "failed": 1}));
    assert_eq!(by(4)["evaluations"], json!({"passed": 1, "failed": 0}));
    assert_eq!(by(4)["feedback"], json!({"records": 0, "avg_score": null, "comments": 0}));

    let s = get_ok(&w.url, "/api/users/alice@x.com/sessions");
    let s1 = s["sessions"].as_array().unwrap().iter().find(|x| x["session_id"] == "s1").unwrap();
    // Traces 1 and 2, any time: fb-1, fb-2, fb-3, fb-old.
    assert_eq!(s1["feedback"]["records"], 4);
    close(&s1["feedback"]["avg_score"], (1.0 + 4.0 + 0.0 + 1.0) / 4.0);
    assert_eq!(s1["evaluations"], json!({"passed": 0, "failed": 0}));
}

#[test]
fn the_user_feedback_endpoint_summarises_the_period() {
    let w = world();
    let v = get_ok(&w.url, &format!("/api/users/alice@x.com/feedback?{}", w.period));
    assert_eq!((v["user_id"].clone(), v["user_id_type"].clone()), (json!("alice@x.com"), json!("email")));
    assert_eq!((v["bucket"].clone(), v["source"].clone()), (json!("hour"), json!("end_user")));
    let sm = &v["summary"];
    assert_eq!((sm["records"].clone(), sm["scored"].clone(), sm["comments"].clone()), (json!(4), json!(3), json!(2)));
    close(&sm["avg_score"], 5.0 / 3.0);
    assert_eq!((sm["traces"].clone(), sm["traces_with_feedback"].clone()), (json!(4), json!(2)));
    close(&sm["coverage"], 0.5);
    let labels = json!([{"label": "down", "count": 1}, {"label": "up", "count": 1}, {"label": "yes", "count": 1}]);
    assert_eq!(sm["labels"], labels);
    // Values 1, 4, 0: not all in [0, 1], floor span 4 < 20: one bin per integer 0..4.
    let bins: Vec<(f64, f64, i64)> = v["distribution"]["bins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["from"].as_f64().unwrap(), b["to"].as_f64().unwrap(), b["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(bins, vec![(0.0, 1.0, 1), (1.0, 2.0, 1), (2.0, 3.0, 0), (3.0, 4.0, 0), (4.0, 5.0, 1)]);
    assert_eq!(v["distribution"]["labels"], labels);
    assert_eq!(
        v["top_keys"],
        json!([
            {"name": "thumbs", "records": 2, "avg_score": 0.5, "comments": 1},
            {"name": "helpful", "records": 1, "avg_score": null, "comments": 1},
            {"name": "stars", "records": 1, "avg_score": 4.0, "comments": 0}
        ])
    );
    // Trends: hourly from the period start floored to the hour.
    let first = w.from_ns / HOUR_NS * HOUR_NS;
    let trends = v["trends"].as_array().unwrap();
    let mut want: std::collections::BTreeMap<usize, (i64, i64)> = Default::default();
    for (_, t, c) in &w.times {
        let e = want.entry(((t - first) / HOUR_NS) as usize).or_default();
        e.0 += 1;
        e.1 += i64::from(*c);
    }
    for (i, b) in trends.iter().enumerate() {
        let (n, c) = want.get(&i).copied().unwrap_or_default();
        assert_eq!((b["records"].as_i64().unwrap(), b["comments"].as_i64().unwrap()), (n, c), "bucket {i}");
    }
    close(&trends[((w.times[1].1 - first) / HOUR_NS) as usize]["avg_score"], 4.0);
    assert_eq!(v["total"], 4);
    let ids: Vec<&str> = v["records"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["fb-3", "fb-own", "fb-2", "fb-1"], "latest first, ties by id");
    let rec = &v["records"][3];
    assert_eq!(rec["session_id"], "s1");
    assert_eq!(rec["time"].as_str().unwrap().len(), 24, "RFC 3339 with milliseconds");

    let page = get_ok(&w.url, &format!("/api/users/alice@x.com/feedback?{}&limit=2&offset=1", w.period));
    let ids: Vec<&str> = page["records"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!((ids, page["total"].clone(), page["limit"].clone()), (vec!["fb-own", "fb-2"], json!(4), json!(2)));
    let count = |q: &str| get_ok(&w.url, &format!("/api/users/alice@x.com/feedback?{}&{q}", w.period))["total"].clone();
    assert_eq!(count("source=evaluator"), 2);
    assert_eq!(count("source=annotator"), 1);
    assert_eq!(count("source=all"), 7);
    assert_eq!(count("name=thumbs"), 2);
    assert_eq!(count(&format!("trace_id={}", hex::encode(tid(1)))), 2);
    // Ten bins when every value is in [0, 1].
    let ev = get_ok(&w.url, &format!("/api/users/alice@x.com/feedback?{}&source=evaluator", w.period));
    let bins = ev["distribution"]["bins"].as_array().unwrap();
    assert_eq!(bins.len(), 10);
    assert_eq!((bins[2]["from"].clone(), bins[2]["count"].clone()), (json!(0.2), json!(1)));

    for (q, field) in [
        ("source=robot", "source"),
        ("limit=0", "limit"),
        ("trace_id=xyz", "trace_id"),
        ("type=ssn", "type"),
        ("colour=red", "colour"),
    ] {
        let (st, e) = get(&w.url, &format!("/api/users/alice@x.com/feedback?{q}"));
        assert_eq!(st, 400, "{q}");
        assert!(e["error"].as_str().unwrap().contains(field), "{e}");
    }
    assert_eq!(get(&w.url, "/api/users/nobody/feedback").0, 404);
}

#[test]
fn users_list_filters() {
    let w = world();
    let users = |filters: &[&str], extra: &str| {
        let mut q = w.period.clone();
        for f in filters {
            q.push_str("&filter=");
            q.push_str(&f.replace('<', "%3C").replace('>', "%3E").replace('=', "%3D").replace('!', "%21"));
        }
        let v = get_ok(&w.url, &format!("/api/users?{q}{extra}"));
        let ids: Vec<String> =
            v["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().into()).collect();
        (ids, v)
    };
    assert_eq!(users(&["feedback_count>1"], "").0, vec!["alice@x.com"]);
    assert_eq!(users(&["eval_pass_rate<0.8"], "").0, vec!["alice@x.com"], "a null matches no range");
    assert_eq!(users(&["avg_feedback_score>=1.5"], "").0, vec!["alice@x.com"]);
    assert_eq!(users(&["metadata.plan=free"], "").0, vec!["bob"]);
    assert_eq!(users(&["metadata.plan!=pro"], "").0, vec!["bob"]);
    assert!(users(&["metadata.tier=gold"], "").0.is_empty(), "a missing key equals nothing");
    assert_eq!(users(&["metadata.tier!=gold"], "&sort=user_id&order=asc").0, vec!["alice@x.com", "bob"]);
    assert_eq!(users(&["user_id_type=email"], "").0, vec!["alice@x.com"]);
    assert_eq!(users(&["traces=2", "feedback_coverage!=0"], "").0, vec!["bob"]);
    assert_eq!(users(&["feedback_count>0"], "&q=BO").0, vec!["bob"]);
    let (_, v) = users(&["feedback_count>1"], "");
    assert_eq!(v["total"], 1);
    close(&v["rollups"]["traces"]["sum"], 4.0);
    close(&v["overview"]["traces"], 6.0);

    for (bad, want) in [
        ("latency<3", "filter \"latency<3\": unknown column \"latency\" (numeric columns: traces,"),
        ("traces", "filter \"traces\": no operator"),
        ("cost_usd>=abc", "filter \"cost_usd>=abc\": \"abc\" is not a finite number"),
        ("cost_usd<inf", "is not a finite number"),
        ("user_id_type=ssn", "user_id_type must be one of"),
        ("user_id_type>email", "takes = or != only"),
    ] {
        let q = bad.replace('<', "%3C").replace('>', "%3E").replace('=', "%3D");
        let (st, e) = get(&w.url, &format!("/api/users?filter={q}"));
        assert_eq!(st, 400, "{bad}");
        let msg = e["error"].as_str().unwrap();
        assert!(msg.contains(want), "{msg} should contain {want}");
    }
}
