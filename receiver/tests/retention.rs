//! Retention (`docs/design.md`, "Erasure and retention"): `serve --retention-days N` deletes the
//! traces that started more than N days ago, with their spans, and the users left without a
//! trace; every period query over the retained days answers exactly as before, also after a
//! restart. The pass is run deterministically through `Running::run_retention`.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use userspan_receiver::server::{spawn, Running, ServerConfig};
use userspan_receiver::store::schema::DbPath;

fn file_server(db: &std::path::Path, retention_days: Option<u32>) -> Running {
    spawn(ServerConfig { db: DbPath::File(db.to_path_buf()), retention_days, ..ServerConfig::ephemeral() })
        .expect("server starts")
}

fn who(id: &str, plan: &str, session: &str) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    vec![
        s("user.id", id),
        s("user.metadata", &format!(r#"{{"plan":"{plan}"}}"#)),
        s("session.id", session),
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.request.model", "gpt-4o"),
        i("gen_ai.usage.input_tokens", 10),
        i("gen_ai.usage.output_tokens", 5),
        f("gen_ai.usage.total_cost", 0.001),
    ]
}

/// What the retained days answer: overview, users (with activation dates), cohorts.
fn retained_view(url: &str, from_ms: u64, to_ms: u64) -> Vec<Value> {
    let p = format!("from={from_ms}&to={to_ms}");
    vec![
        get_ok(url, &format!("/api/overview?{p}")),
        get_ok(url, &format!("/api/users?{p}&limit=1000")),
        get_ok(url, &format!("/api/cohorts?key=plan&{p}")),
    ]
}

#[test]
fn old_traces_go_and_the_retained_days_answer_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let srv = file_server(&db, Some(30));
    let url = srv.url();
    let now = now_ns();
    let ago = |days: u64| now - days * DAY_NS;
    // carol: 40 days ago and yesterday (activated in the purged days); dave: only 35 days ago;
    // erin: 10 days ago (new in the retained days); bulk: 1200 old traces (several batches)
    // and one 2 days ago; a session of carol's spans the cutoff.
    let mut spans = vec![
        span(1, 1, ago(40), 100).attrs(who("carol", "pro", "c-long")),
        span(1, 2, ago(40) + 1_000, 10).parent(1),
        span(2, 1, ago(1), 100).attrs(who("carol", "pro", "c-long")),
        span(3, 1, ago(35), 100).attrs(who("dave", "free", "d-1")),
        span(4, 1, ago(10), 100).attrs(who("erin", "free", "e-1")),
        span(5, 1, ago(2), 100).attrs(who("bulk", "pro", "b-new")),
        span(6, 1, ago(31), 100),
    ];
    for n in 0..1200u64 {
        spans.push(span(100 + n, 1, ago(31) - n * 60_000_000_000, 10).attrs(who("bulk", "pro", &format!("b-{n}"))));
    }
    send(&url, &request(spans));
    // A period inside the retained days, and one reaching back before the cutoff.
    let (from, to) = (ago(20) / 1_000_000, now / 1_000_000 + 1);
    let before = retained_view(&url, from, to);
    let all = format!("from={}&to={to}", ago(60) / 1_000_000);
    assert_eq!(get_ok(&url, &format!("/api/users?{all}"))["total"], 4);
    let carol_before = get_ok(&url, "/api/users/carol");

    let purged = srv.run_retention().unwrap().expect("retention is on");
    assert_eq!((purged.traces, purged.spans, purged.users), (1203, 1204, 1), "{purged:?}");

    // The retained days: the same answer, "new users" and activation dates included.
    assert_eq!(retained_view(&url, from, to), before);
    assert_eq!(before[0]["new_users"], 1, "erin only: {}", before[0]);
    // Older periods lose what was deleted; dave is gone entirely.
    let v = get_ok(&url, &format!("/api/users?{all}"));
    assert_eq!(v["total"], 3);
    assert_eq!(get(&url, "/api/users/dave").0, 404);
    let carol = get_ok(&url, "/api/users/carol");
    assert_eq!(carol["traces"], 1);
    assert_eq!(carol["activated_at"], carol_before["activated_at"]);
    let ov = get_ok(&url, &format!("/api/overview?{all}"));
    assert_eq!(ov["traces"], 3, "{ov}");
    // Nothing more to do, and the newest data is untouched by a second pass.
    assert_eq!(srv.run_retention().unwrap().unwrap().traces, 0);
    srv.stop();

    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let cutoff = (now - 30 * DAY_NS) as i64;
        let (old, spans, traces): (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM spans WHERE start_ns < ?1), (SELECT count(*) FROM spans),
                        (SELECT count(*) FROM traces WHERE start_ns < ?1)",
                [cutoff],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((old, spans, traces), (0, 3, 0));
        let dave: i64 = conn.query_row("SELECT count(*) FROM users WHERE user_id = 'dave'", [], |r| r.get(0)).unwrap();
        assert_eq!(dave, 0);
    }

    // After a restart (retention off) the retained days still answer the same: the users'
    // activation survives in the database.
    let srv = file_server(&db, None);
    assert_eq!(retained_view(&srv.url(), from, to), before);
    assert_eq!(get_ok(&srv.url(), "/api/users/carol")["activated_at"], carol_before["activated_at"]);
    assert!(srv.run_retention().unwrap().is_none());
}

#[test]
fn retention_runs_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("start.db");
    let now = now_ns();
    {
        let srv = file_server(&db, None);
        send(
            &srv.url(),
            &request(vec![
                span(1, 1, now - 9 * DAY_NS, 10).attrs(user("old")),
                span(2, 1, now - HOUR_NS, 10).attrs(user("new")),
            ]),
        );
    }
    // The pass at start runs in the background; the explicit one waits for whatever is left,
    // so the outcome does not depend on which finishes first.
    let srv = file_server(&db, Some(7));
    srv.run_retention().unwrap();
    let v = get_ok(&srv.url(), &format!("/api/users?from={}", (now - 20 * DAY_NS) / 1_000_000));
    assert_eq!(v["total"], 1);
    assert_eq!(v["users"][0]["user_id"], "new");
}

#[test]
fn retention_days_must_be_at_least_one() {
    for bad in ["0", "-1", "x"] {
        let out = Command::new(env!("CARGO_BIN_EXE_userspan"))
            .args(["serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--retention-days", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--retention-days {bad} must be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--retention-days") || err.contains("-1"), "{bad}: {err}");
    }
}
