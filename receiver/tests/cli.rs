//! The CLI: `userspan demo` (through the Rust SDK over real OTLP) and `userspan users`.

mod common;
use common::userspan;

#[test]
fn demo_then_users_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let (ok, out, err) = userspan(&["demo", "--quiet", "--db", db, "--listen", "127.0.0.1:0", "--users", "20"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("unique users 20"), "{out}");
    assert!(out.contains("SUM of 20 users"), "{out}");
    // Piped output: the receiver stopped, so no links to it; the way to browse is named instead.
    assert!(out.contains("the demo's receiver has stopped"), "{out}");
    assert!(out.contains(&format!("userspan serve --db {db}")), "{out}");
    assert!(!out.contains("/api/users"), "{out}");
    assert!(!err.contains("dropped"), "{err}");
    // Every planned trace arrived: the header line names the count and the overview agrees.
    let planned: u64 = out.split(" sessions, ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(out.contains(&format!("traces {planned} ")), "{out}");

    let (ok, table, err) = userspan(&["users", "--db", db, "--sort", "traces", "--order", "desc", "--limit", "5"]);
    assert!(ok, "{err}");
    assert!(table.contains("USER") && table.contains("TRACES") && table.contains("COST"), "{table}");
    assert!(table.contains("(15 more users"), "{table}");
    let (ok, table, _) = userspan(&["users", "--db", db, "--q", "@ACME.IO"]);
    assert!(ok);
    let rows = table.lines().filter(|l| l.contains("acme.io")).count();
    assert!(rows >= 1, "{table}");
    assert!(!table.contains("hooli.xyz"), "{table}");

    let (ok, _, err) = userspan(&["users", "--db", db, "--sort", "nonsense"]);
    assert!(!ok);
    assert!(err.contains("--sort must be one of"), "{err}");
    let (ok, _, err) = userspan(&["users", "--db", "/nonexistent/x.db"]);
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn serve_rejects_bad_api_key_syntax() {
    let (ok, _, err) = userspan(&["serve", "--api-key", "nokey"]);
    assert!(!ok);
    assert!(err.contains("KEY=PROJECT"), "{err}");
}
