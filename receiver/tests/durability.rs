//! Kill -9 during ingest, restart on the same database: nothing that got a 200 is missing.
//! Also: a clean restart keeps every number.

mod common;
use common::*;
use prost::Message;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn start(db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_userspan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("userspan starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}

fn batch(n: u64, base: u64) -> Vec<u8> {
    // 100 spans in 25 traces of user batch-n.
    let spans = (0..100u64)
        .map(|k| {
            let sp = span(n * 1000 + k / 4, k, base + k * 1000, 3).attrs(user(&format!("batch-{n}")));
            if k % 4 == 0 {
                sp
            } else {
                sp.parent(k - k % 4)
            }
        })
        .collect();
    request(spans).encode_to_vec()
}

#[test]
fn kill_9_during_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let (mut child, url) = start(&db);
    let base = now_ns() - HOUR_NS;
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..3u64)
        .map(|w| {
            let (acked, stop, url) = (acked.clone(), stop.clone(), url.clone());
            std::thread::spawn(move || {
                let c = client();
                for n in (w..3000).step_by(3) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = c
                        .post(format!("{url}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .body(batch(n, base))
                        .send();
                    match r {
                        Ok(r) if r.status() == 200 => acked.lock().unwrap().push(n),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    // Kill once a good number of batches are acknowledged, while senders are still sending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while acked.lock().unwrap().len() < 60 {
        assert!(senders.iter().any(|s| !s.is_finished()), "senders stopped before 60 acknowledgements");
        assert!(std::time::Instant::now() < deadline, "too slow");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    let (mut child, url) = start(&db);
    let v = get_ok(&url, &format!("/api/users?limit=1000&from={}", (base - DAY_NS) / 1_000_000));
    let users: std::collections::HashMap<String, i64> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user_id"].as_str().unwrap().to_string(), u["traces"].as_i64().unwrap()))
        .collect();
    for n in &acked {
        assert_eq!(users.get(&format!("batch-{n}")), Some(&25), "acknowledged batch {n} is missing or partial");
    }
    // Whatever was stored without an answer is whole (one transaction per request group).
    for (u, t) in &users {
        assert_eq!(*t, 25, "{u} is partial");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn clean_restart_keeps_every_number() {
    use userspan_receiver::server::{spawn, ServerConfig};
    use userspan_receiver::store::schema::DbPath;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restart.db");
    let cfg = ServerConfig { db: DbPath::File(db.clone()), ..ServerConfig::ephemeral() };
    let base = now_ns() - 2 * DAY_NS;
    let q = format!("/api/users?from={}&to={}", (base - DAY_NS) / 1_000_000, (base + DAY_NS) / 1_000_000);
    let srv = spawn(cfg.clone()).unwrap();
    for n in 0..5 {
        send(
            &srv.url(),
            &request(vec![
                span(n, 1, base + n * HOUR_NS, 100).attrs(vec![
                    s("user.id", "r@x.io"),
                    s("user.id.type", "email"),
                    s("session.id", "s"),
                    s("user.email", "r@x.io"),
                ]),
                span(n, 2, base + n * HOUR_NS + 5, 50).parent(1).attrs(vec![
                    s("user.id", "r@x.io"),
                    s("gen_ai.request.model", "m"),
                    i("gen_ai.usage.input_tokens", 3),
                    f("gen_ai.usage.total_cost", 0.25),
                ]),
            ]),
        );
    }
    // One request with 40 new traces (80 spans): stored by the multi-row INSERTs.
    let many: Vec<_> = (0..40u64)
        .flat_map(|n| {
            let t = 100 + n;
            let root = span(t, 1000 + 2 * n, base + n * 60_000_000_000, 200 + n)
                .attrs(vec![s("user.id", "m@x.io"), s("session.id", &format!("ms-{}", n % 7))]);
            let root = if n % 5 == 0 { root.error() } else { root };
            let chat = span(t, 1001 + 2 * n, base + n * 60_000_000_000 + 7, 20).parent(1000 + 2 * n).attrs(vec![
                s("user.id", "m@x.io"),
                s("gen_ai.request.model", if n % 2 == 0 { "m1" } else { "m2" }),
                s("gen_ai.provider.name", "p"),
                i("gen_ai.usage.input_tokens", n as i64),
                i("gen_ai.usage.output_tokens", 2 * n as i64),
                f("gen_ai.usage.total_cost", 0.001 * n as f64),
            ]);
            [root, chat]
        })
        .collect();
    send(&srv.url(), &request(many));
    let before = get_ok(&srv.url(), &q);
    let detail_before = get_ok(&srv.url(), "/api/users/r@x.io");
    let many_before =
        (get_ok(&srv.url(), "/api/users/m@x.io"), get_ok(&srv.url(), "/api/users/m@x.io/traces?limit=1000"));
    assert_eq!(many_before.1["total"], 40);
    srv.stop();
    let srv = spawn(cfg).unwrap();
    assert_eq!(get_ok(&srv.url(), &q), before);
    let detail_after = get_ok(&srv.url(), "/api/users/r@x.io");
    assert_eq!(detail_after, detail_before);
    let many_after =
        (get_ok(&srv.url(), "/api/users/m@x.io"), get_ok(&srv.url(), "/api/users/m@x.io/traces?limit=1000"));
    assert_eq!(many_after, many_before);
    assert_eq!(detail_after["models"][0]["traces"], 5);
    // Spans added after the restart fold into the stored rollups.
    send(&srv.url(), &request(vec![span(0, 3, base + 10, 10).parent(1).error()]));
    let d = get_ok(&srv.url(), "/api/users/r@x.io");
    assert_eq!(d["errored_traces"], 1);
    assert_eq!(d["traces"], 5);
}
