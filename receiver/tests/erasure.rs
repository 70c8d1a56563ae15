//! Erasure (`docs/design.md`, "Erasure and retention"): `DELETE /api/users/{user_id}` and
//! `userspan forget` remove a user's spans, the traces left without another user's span and
//! the user's records, durably; the traces they shared with other users are recomputed; the
//! user is gone from every endpoint, from the rows of the database file and from its bytes.

mod common;

use common::*;
use serde_json::Value;
use userspan_receiver::server::{spawn, Running, ServerConfig};
use userspan_receiver::store::schema::DbPath;

const ALICE: &str = "erase-me-4b1d@example.com";
const BOB: &str = "keep-me-9c2e@example.com";

fn file_server(db: &std::path::Path) -> Running {
    spawn(ServerConfig { db: DbPath::File(db.to_path_buf()), ..ServerConfig::ephemeral() }).expect("server starts")
}

fn ident(id: &str) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    vec![s("user.id", id), s("user.id.type", "email"), s("user.email", id), s("user.metadata", r#"{"plan":"pro"}"#)]
}

fn llm(tokens: i64, cost: f64) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    vec![
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.request.model", "gpt-4o"),
        i("gen_ai.usage.input_tokens", tokens),
        i("gen_ai.usage.output_tokens", tokens / 2),
        f("gen_ai.usage.total_cost", cost),
    ]
}

/// Alice owns traces 1 and 2 (trace 1 also has an LLM span without a user) and trace 3, which
/// Bob joins later with an LLM call of his own; Bob owns trace 4.
fn workload(url: &str, t0: u64) {
    let with = |mut a: Vec<_>, b: Vec<_>| {
        a.extend(b);
        a
    };
    send(
        url,
        &request(vec![
            span(1, 1, t0, 100).attrs(with(ident(ALICE), vec![s("session.id", "sa-1")])),
            span(1, 2, t0 + 1_000, 50).parent(1).attrs(llm(100, 0.01)),
            span(2, 1, t0 + HOUR_NS, 100).attrs(with(ident(ALICE), vec![s("session.id", "sa-2")])).error(),
            span(3, 1, t0 + 2 * HOUR_NS, 100).attrs(with(ident(ALICE), vec![s("session.id", "shared")])),
            span(4, 1, t0 + 3 * HOUR_NS, 100).attrs(with(ident(BOB), vec![s("session.id", "sb-1")])),
            span(4, 2, t0 + 3 * HOUR_NS + 1_000, 50).parent(1).attrs(with(ident(BOB), llm(40, 0.004))),
        ]),
    );
    // A later request: Bob's span in Alice's trace 3 (recomputed when it arrives, as always).
    send(
        url,
        &request(vec![span(3, 2, t0 + 2 * HOUR_NS + 2_000, 50)
            .parent(1)
            .attrs(with(with(ident(BOB), vec![s("session.id", "shared")]), llm(60, 0.006)))]),
    );
}

fn delete(url: &str, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut r = client().delete(format!("{url}{path}"));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().expect("request sent");
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
}

fn row<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["users"].as_array().unwrap().iter().find(|r| r["user_id"] == id)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The bytes of the database file and of its WAL (when there is one).
fn db_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    let wal = db.with_extension("db-wal");
    if let Ok(w) = std::fs::read(&wal) {
        bytes.extend(w);
    }
    bytes
}

#[test]
fn delete_removes_the_user_everywhere_and_recomputes_shared_traces() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("erase.db");
    let srv = file_server(&db);
    let url = srv.url();
    let t0 = now_ns() - 5 * HOUR_NS;
    workload(&url, t0);
    let period = format!("from={}&to={}", t0 / 1_000_000 - 1, now_ns() / 1_000_000 + 1);

    let before = get_ok(&url, &format!("/api/users?{period}"));
    assert_eq!(before["total"], 2);
    assert_eq!(row(&before, ALICE).unwrap()["traces"], 3);
    assert_eq!(row(&before, BOB).unwrap()["traces"], 1);
    assert!(contains(&db_bytes(&db), ALICE) || contains(&std::fs::read(db.with_extension("db-wal")).unwrap(), ALICE));

    let (st, v) = delete(&url, &format!("/api/users/{ALICE}"), None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["user_id"], ALICE);
    assert_eq!(v["type"], "email");
    assert_eq!(v["project"], "default");
    // Traces 1 and 2 (with trace 1's span without a user) and Alice's span of trace 3.
    assert_eq!(v["removed"], serde_json::json!({"spans": 4, "traces": 2, "sessions": 3}), "{v}");
    assert_eq!(v["recomputed_traces"], 1);

    // Gone from every endpoint.
    let after = get_ok(&url, &format!("/api/users?{period}"));
    assert_eq!(after["total"], 1);
    assert!(row(&after, ALICE).is_none());
    assert_eq!(get(&url, &format!("/api/users/{ALICE}")).0, 404);
    assert_eq!(get(&url, &format!("/api/users/{ALICE}/sessions")).0, 404);
    assert_eq!(get(&url, &format!("/api/users/{ALICE}/traces")).0, 404);
    assert_eq!(get_ok(&url, &format!("/api/users?q=erase-me&{period}"))["total"], 0);
    let ov = get_ok(&url, &format!("/api/overview?{period}"));
    assert_eq!(
        (ov["unique_users"].as_i64(), ov["traces"].as_i64(), ov["sessions"].as_i64()),
        (Some(1), Some(2), Some(2))
    );
    let co = get_ok(&url, &format!("/api/cohorts?key=plan&{period}"));
    assert_eq!(co["cohorts"][0]["users"], 1, "{co}");
    assert_eq!(co["cohorts"][0]["traces"], 2, "{co}");

    // Bob now owns trace 3, which counts only his span: his numbers are exactly his own spans.
    let b = row(&after, BOB).unwrap();
    assert_eq!(b["traces"], 2);
    assert_eq!(b["sessions"], 2);
    assert_eq!(b["input_tokens"], 100);
    assert_eq!(b["output_tokens"], 50);
    assert!(approx(b["cost_usd"].as_f64().unwrap(), 0.01), "{b}");
    assert_eq!(b["llm_calls"], 2);
    assert_eq!(b["spans"], 3);
    let traces = get_ok(&url, &format!("/api/users/{BOB}/traces"));
    let t3 = traces["traces"].as_array().unwrap().iter().find(|t| t["session_id"] == "shared").unwrap();
    assert_eq!(
        (t3["spans"].as_i64(), t3["input_tokens"].as_i64(), t3["status"].as_str()),
        (Some(1), Some(60), Some("ok"))
    );
    assert_eq!(t3["name"], "span-2", "the remaining span is the trace's name now: {t3}");

    // The file holds no byte of Alice's id, and still Bob's (the check can see an id).
    let bytes = db_bytes(&db);
    assert!(!contains(&bytes, ALICE), "the erased id is still readable in the database file");
    assert!(!contains(&bytes, "erase-me-4b1d"), "part of the erased id is still readable");
    assert!(contains(&bytes, BOB));

    // Idempotent: nothing left to remove, nothing changes.
    let (st, v) = delete(&url, &format!("/api/users/{ALICE}"), None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["removed"], serde_json::json!({"spans": 0, "traces": 0, "sessions": 0}));
    assert_eq!(v["type"], Value::Null);
    assert_eq!(get_ok(&url, &format!("/api/users?{period}")), after);
    srv.stop();

    // No row of the database holds the id.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM spans WHERE user_id = ?1 OR user_email = ?1 OR attributes LIKE '%' || ?1 || '%')
                      + (SELECT count(*) FROM users WHERE user_id = ?1 OR email = ?1)",
                [ALICE],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
        let (spans, traces): (i64, i64) = conn
            .query_row("SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM traces)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((spans, traces), (3, 2));
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
    assert!(!contains(&db_bytes(&db), ALICE));

    // A restart loads what the erasure left: the same numbers.
    let srv = file_server(&db);
    assert_eq!(get_ok(&srv.url(), &format!("/api/users?{period}")), after);
    assert_eq!(get(&srv.url(), &format!("/api/users/{ALICE}")).0, 404);
}

#[test]
fn type_picks_like_the_detail_and_keys_are_required() {
    let mut cfg = ServerConfig::ephemeral();
    cfg.api_keys = vec![("k1".into(), "p1".into())];
    let srv = spawn(cfg).unwrap();
    let url = srv.url();
    let t0 = now_ns() - 3 * HOUR_NS;
    let typed = |t: &str| vec![s("user.id", "42"), s("user.id.type", t)];
    let body = prost::Message::encode_to_vec(&request(vec![
        span(1, 1, t0, 10).attrs(typed("phone")),
        span(2, 1, t0 + HOUR_NS, 10).attrs(typed("custom")),
        span(3, 1, t0 + 2 * HOUR_NS, 10).attrs(user("other")),
    ]));
    assert_eq!(post_raw(&url, "application/x-protobuf", body, &[("authorization", "Bearer k1")]).status(), 200);

    assert_eq!(delete(&url, "/api/users/42", None).0, 401);
    assert_eq!(delete(&url, "/api/users/42", Some("nope")).0, 401);
    let (st, v) = delete(&url, "/api/users/42?type=nickname", Some("k1"));
    assert_eq!(st, 400);
    assert!(v["error"].as_str().unwrap().contains("type"), "{v}");
    assert_eq!(delete(&url, "/api/users/42?limit=1", Some("k1")).0, 400);

    // Without a type: the most recently active type (custom), as GET /api/users/42 shows.
    let (st, v) = delete(&url, "/api/users/42", Some("k1"));
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["type"].as_str(), v["project"].as_str()), (Some("custom"), Some("p1")));
    assert_eq!(v["removed"]["traces"], 1);
    let get_k = |path: &str| {
        let r = client().get(format!("{url}{path}")).bearer_auth("k1").send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (st, d) = get_k("/api/users/42");
    assert_eq!(st, 200);
    assert_eq!(d["user_id_type"], "phone");
    let (st, v) = delete(&url, "/api/users/42?type=phone", Some("k1"));
    assert_eq!(st, 200);
    assert_eq!(v["removed"]["spans"], 1);
    assert_eq!(get_k("/api/users/42").0, 404);
    let (_, list) = get_k("/api/users");
    assert_eq!(list["total"], 1);
    assert_eq!(list["users"][0]["user_id"], "other");
}

#[test]
fn forget_cli_erases_from_a_file_and_refuses_while_served() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("forget.db");
    let db_s = db.to_str().unwrap();
    let srv = file_server(&db);
    let t0 = now_ns() - 5 * HOUR_NS;
    workload(&srv.url(), t0);
    let before_bob = get_ok(&srv.url(), &format!("/api/users/{BOB}"));

    // The server holds the file: refused, nothing changed.
    let (ok, _, err) = userspan(&["forget", ALICE, "--db", db_s]);
    assert!(!ok);
    assert!(err.contains("in use by another process"), "{err}");
    assert_eq!(get_ok(&srv.url(), &format!("/api/users/{ALICE}"))["traces"], 3);
    srv.stop();

    let (ok, _, err) = userspan(&["forget", ALICE, "--db", db_s, "--type", "nickname"]);
    assert!(!ok);
    assert!(err.contains("nickname"), "{err}");
    let (ok, _, err) = userspan(&["forget", ALICE, "--db", "/nonexistent/x.db"]);
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");

    let (ok, out, err) = userspan(&["forget", ALICE, "--db", db_s, "--type", "email"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(v["removed"], serde_json::json!({"spans": 4, "traces": 2, "sessions": 3}), "{v}");
    assert_eq!(v["recomputed_traces"], 1);
    assert!(!contains(&db_bytes(&db), ALICE), "the erased id is still readable in the database file");
    let (ok, out, _) = userspan(&["forget", ALICE, "--db", db_s]);
    assert!(ok);
    assert!(out.contains(r#""spans":0"#), "{out}");

    // The server, restarted, sees what the CLI left.
    let srv = file_server(&db);
    assert_eq!(get(&srv.url(), &format!("/api/users/{ALICE}")).0, 404);
    let bob = get_ok(&srv.url(), &format!("/api/users/{BOB}"));
    assert_eq!(bob["traces"], 2);
    assert_eq!(bob["input_tokens"], 100);
    assert_eq!(before_bob["traces"], 1);
}
