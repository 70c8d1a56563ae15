//! Keys and access (`receiver/src/auth.rs`): ingest keys send OTLP and read nothing, read keys
//! read and send nothing, api keys both; a key reads its own projects only (403 on another's
//! `?project`); no or a wrong key is 401 with `WWW-Authenticate: Bearer`; `GET /api/projects`
//! in the open, read-key and ingest-key cases; and, with the real `userspan` binary, keys files
//! (errors naming the line and field, `USERSPAN_KEYS_FILE`, SIGHUP reload).

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tonic::Code;
use userspan_receiver::api::otlp::RpcStatus;
use userspan_receiver::server::{spawn, Running, ServerConfig};

/// Every `GET /api/*` endpoint, with a user `u-a` that exists in project `a`.
const READS: &[&str] = &[
    "/api/overview",
    "/api/users",
    "/api/users/u-a",
    "/api/users/u-a/sessions",
    "/api/users/u-a/traces",
    "/api/cohorts",
    "/api/stats",
    "/api/projects",
];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A receiver with these keys (kind, key, project).
fn keyed(keys: &[(&str, &str, &str)]) -> Running {
    let mut cfg = ServerConfig::ephemeral();
    let pairs = |kind: &str| -> Vec<(String, String)> {
        keys.iter().filter(|(k, _, _)| *k == kind).map(|(_, key, p)| (key.to_string(), p.to_string())).collect()
    };
    cfg.api_keys = pairs("api");
    cfg.keys.ingest = pairs("ingest");
    cfg.keys.read = pairs("read");
    spawn(cfg).expect("server starts")
}

/// One trace of `user`, the resource naming project `claimed` (which keys override).
fn one_trace(n: u64, user_id: &str, claimed: &str) -> ExportTraceServiceRequest {
    request_with_resource(
        vec![span(n, n, now_ns() - HOUR_NS, 5).attrs(user(user_id))],
        vec![s("service.name", "auth-test"), s("userspan.project", claimed)],
    )
}

/// `POST /v1/traces` (protobuf) with an optional `Authorization` value.
fn post_as(url: &str, req: &ExportTraceServiceRequest, auth: Option<&str>) -> reqwest::blocking::Response {
    let extra: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    post_raw(url, "application/x-protobuf", req.encode_to_vec(), &extra)
}

/// `TraceService/Export` with the generated client and an optional `authorization` entry.
fn grpc_as(srv: &Running, req: ExportTraceServiceRequest, auth: Option<&str>) -> Result<(), tonic::Status> {
    let url = srv.grpc_url().expect("gRPC served");
    rt().block_on(async {
        let mut client = TraceServiceClient::connect(url).await.expect("connects");
        let mut r = tonic::Request::new(req);
        if let Some(a) = auth {
            r.metadata_mut().insert("authorization", a.parse().unwrap());
        }
        client.export(r).await.map(|_| ())
    })
}

/// GET with an optional bearer key: (status, `WWW-Authenticate`, JSON body).
fn get_as(url: &str, path: &str, key: Option<&str>) -> (u16, Option<String>, Value) {
    let mut r = client().get(format!("{url}{path}"));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("GET {path} ({status}): not JSON: {text}"));
    (status, www, v)
}

fn read_ok(url: &str, path: &str, key: &str) -> Value {
    let (st, _, v) = get_as(url, path, Some(key));
    assert_eq!(st, 200, "GET {path} with {key}: {v}");
    v
}

/// The `google.rpc.Status` of a refused OTLP/HTTP protobuf request.
fn rpc_status(r: reqwest::blocking::Response) -> RpcStatus {
    RpcStatus::decode(r.bytes().unwrap()).expect("a google.rpc.Status body")
}

fn user_ids(v: &Value) -> Vec<String> {
    v["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().to_string()).collect()
}

fn project_names(v: &Value) -> Vec<(String, bool)> {
    v["projects"]
        .as_array()
        .unwrap_or_else(|| panic!("no projects list: {v}"))
        .iter()
        .map(|p| (p["project"].as_str().unwrap().to_string(), p["default"].as_bool().unwrap()))
        .collect()
}

#[test]
fn an_ingest_key_sends_over_http_and_grpc_and_reads_nothing() {
    let srv = keyed(&[("ingest", "ing-a", "a"), ("read", "read-a", "a")]);
    let url = srv.url();
    // The key decides the project, whatever the resource claims.
    let r = post_as(&url, &one_trace(1, "u-a", "elsewhere"), Some("Bearer ing-a"));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    grpc_as(&srv, one_trace(2, "u-grpc", "elsewhere"), Some("Bearer ing-a")).expect("gRPC export with an ingest key");
    let users = read_ok(&url, "/api/users", "read-a");
    let mut ids = user_ids(&users);
    ids.sort();
    assert_eq!(ids, ["u-a", "u-grpc"]);

    for path in READS {
        let (st, www, v) = get_as(&url, path, Some("ing-a"));
        assert_eq!(st, 403, "GET {path} with an ingest key: {v}");
        assert_eq!(www, None, "403 is not a challenge");
        let msg = v["error"].as_str().unwrap_or_else(|| panic!("GET {path}: no error message: {v}"));
        assert!(msg.contains("ingest key") && msg.contains("read or api key"), "{path}: {msg}");
        // The same path with the read key works (the 403 is the key's, not the path's).
        read_ok(&url, path, "read-a");
    }
}

#[test]
fn a_read_key_reads_its_project_only_and_sends_nothing() {
    let srv = keyed(&[("api", "w-a", "a"), ("api", "w-b", "b"), ("read", "r-a", "a")]);
    let url = srv.url();
    for (n, key, u) in [(1, "w-a", "u-a"), (2, "w-b", "u-b")] {
        let r = post_as(&url, &one_trace(n, u, "a"), Some(&format!("Bearer {key}")));
        assert_eq!(r.status(), 200);
    }
    assert_eq!(user_ids(&read_ok(&url, "/api/users", "r-a")), ["u-a"]);
    assert_eq!(user_ids(&read_ok(&url, "/api/users?project=a", "r-a")), ["u-a"]);
    assert_eq!(user_ids(&read_ok(&url, "/api/users", "w-b")), ["u-b"], "an api key reads its project too");
    assert_eq!(read_ok(&url, "/api/stats", "r-a")["project"], "a");
    assert_eq!(get_as(&url, "/api/users/u-b", Some("r-a")).0, 404, "b's user is not in a");
    assert_eq!(project_names(&read_ok(&url, "/api/projects", "r-a")), [("a".to_string(), true)]);

    // Asking for b explicitly: 403 on every endpoint that takes ?project.
    for path in READS.iter().filter(|p| **p != "/api/projects") {
        let path = format!("{path}?project=b");
        let (st, _, v) = get_as(&url, &path, Some("r-a"));
        assert_eq!(st, 403, "GET {path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("not \"b\""), "{v}");
    }

    // A read key may not send: 403 + google.rpc.Status PERMISSION_DENIED (7); gRPC the same.
    let r = post_as(&url, &one_trace(3, "u-sneaky", "a"), Some("Bearer r-a"));
    assert_eq!(r.status(), 403);
    let st = rpc_status(r);
    assert_eq!(st.code, Code::PermissionDenied as i32);
    assert!(st.message.contains("read key"), "{}", st.message);
    let e = grpc_as(&srv, one_trace(4, "u-sneaky", "a"), Some("Bearer r-a")).expect_err("refused");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert_eq!(read_ok(&url, "/api/users/u-a", "r-a")["traces"], 1);
    assert_eq!(get_as(&url, "/api/users/u-sneaky", Some("r-a")).0, 404, "nothing was stored");
}

#[test]
fn a_key_given_for_several_projects_reads_all_of_them_and_writes_its_first() {
    let srv = keyed(&[("api", "multi", "a"), ("api", "multi", "b"), ("api", "w-b", "b")]);
    let url = srv.url();
    assert_eq!(post_as(&url, &one_trace(1, "u-a", "b"), Some("Bearer multi")).status(), 200);
    assert_eq!(post_as(&url, &one_trace(2, "u-b", "a"), Some("Bearer w-b")).status(), 200);
    assert_eq!(
        project_names(&read_ok(&url, "/api/projects", "multi")),
        [("a".to_string(), true), ("b".to_string(), false)]
    );
    assert_eq!(user_ids(&read_ok(&url, "/api/users", "multi")), ["u-a"], "home project first, and writes go there");
    assert_eq!(user_ids(&read_ok(&url, "/api/users?project=b", "multi")), ["u-b"]);
    assert_eq!(get_as(&url, "/api/users?project=c", Some("multi")).0, 403);
    assert_eq!(get_as(&url, "/api/users?project=a", Some("w-b")).0, 403);
}

#[test]
fn no_key_or_a_wrong_key_is_401_on_reads_and_writes() {
    let srv = keyed(&[("api", "right", "a")]);
    let url = srv.url();
    for auth in
        [None, Some("Bearer wrong"), Some("Bearer righ"), Some("Bearer right2"), Some("Basic right"), Some("Bearer ")]
    {
        let key = auth.and_then(|a| a.strip_prefix("Bearer "));
        for path in READS {
            let mut r = client().get(format!("{url}{path}"));
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            let r = r.send().unwrap();
            assert_eq!(r.status(), 401, "GET {path} with {auth:?}");
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
            let v: Value = r.json().unwrap();
            assert!(v["error"].as_str().unwrap().contains("Authorization: Bearer"), "{v}");
        }
        let r = post_as(&url, &one_trace(1, "u", "a"), auth);
        assert_eq!(r.status(), 401, "POST with {auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert_eq!(rpc_status(r).code, Code::Unauthenticated as i32);
        if key != Some("") {
            let e = grpc_as(&srv, one_trace(1, "u", "a"), auth).expect_err("refused");
            assert_eq!(e.code(), Code::Unauthenticated, "gRPC with {auth:?}");
        }
    }
    assert_eq!(read_ok(&url, "/api/overview", "right")["traces"], 0, "nothing refused was stored");
    // The dashboard's page and /healthz need no key (the page signs in against /api/*).
    assert_eq!(client().get(format!("{url}/")).send().unwrap().status(), 200);
    assert_eq!(get(&url, "/healthz").0, 200);
}

#[test]
fn projects_without_keys_are_every_project_with_data_and_default() {
    let srv = server();
    let url = srv.url();
    assert_eq!(project_names(&get_ok(&url, "/api/projects")), [("default".to_string(), true)]);
    send(&url, &one_trace(1, "u1", "shop"));
    send(&url, &one_trace(2, "u2", "admin"));
    assert_eq!(
        project_names(&get_ok(&url, "/api/projects")),
        [("admin".to_string(), false), ("default".to_string(), true), ("shop".to_string(), false)]
    );
    assert_eq!(get(&url, "/api/projects?x=1").0, 400, "no parameters");
}

// ---- the real binary: keys files, USERSPAN_KEYS_FILE, SIGHUP ----

/// A `userspan serve` process; its stdout and stderr lines arrive on channels. Killed on drop.
struct Serve {
    child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
    url: String,
}

fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line of `rx` containing `needle` (the lines before it are skipped).
fn line_with(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) if l.contains(needle) => return l,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    }
}

fn serve_cmd(args: &[&str], env_file: Option<&std::path::Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_userspan"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--grpc-listen", "off", "--db", ":memory:"]).args(args);
    cmd.env_remove("USERSPAN_KEYS_FILE");
    if let Some(f) = env_file {
        cmd.env("USERSPAN_KEYS_FILE", f);
    }
    cmd
}

impl Serve {
    fn start(args: &[&str], env_file: Option<&std::path::Path>) -> Serve {
        let mut child =
            serve_cmd(args, env_file).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("userspan starts");
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        let banner = line_with(&out, "listening on ");
        let url = banner.split("listening on ").nth(1).unwrap().trim().to_string();
        // The banner names the dashboard's URL (a newcomer's next step).
        let dashboard = line_with(&out, "Users dashboard:");
        assert!(dashboard.trim_end().ends_with(&format!("{url}/")), "{dashboard}");
        // The keys line is the last one before the receiver waits for signals.
        line_with(&out, "keys:");
        Serve { child, out, err, url }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig}");
    }

    fn status(&self, key: &str) -> u16 {
        get_as(&self.url, "/api/overview", Some(key)).0
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `userspan serve` refusing to start: its stderr.
fn refused(args: &[&str]) -> String {
    let out = serve_cmd(args, None).output().expect("userspan runs");
    assert!(!out.status.success(), "started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_keys_file_refuses_to_start_naming_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("keys.txt");
    let path = f.to_str().unwrap();
    let cases = [
        (
            "# ok\napi k1 shop\nadmin k2 shop\n",
            "line 3: field 1 (kind) must be one of ingest, read, api, got \"admin\"",
        ),
        ("\n\ningest k-secret\n", "line 3: field 3 (project) is missing"),
        ("read\n", "line 1: field 2 (key) is missing"),
        ("api k1 a b\n", "line 1: field 4"),
        ("api k1 a\nread k1 b  # same key, other kind\n", "line 2: this key is already given with kind `api` at"),
    ];
    for (text, want) in cases {
        std::fs::write(&f, text).unwrap();
        let err = refused(&["--keys-file", path]);
        assert!(err.contains(path) && err.contains(want), "{text:?}: {err}");
        assert!(!err.contains("k-secret"), "keys never printed: {err}");
    }
    // A flag key and a file key that clash are refused too.
    std::fs::write(&f, "api k1 a\n").unwrap();
    let err = refused(&["--keys-file", path, "--ingest-key", "k1=a"]);
    assert!(err.contains("line 1: this key is already given with kind `ingest` at --ingest-key"), "{err}");
    let err = refused(&["--keys-file", dir.path().join("missing.txt").to_str().unwrap()]);
    assert!(err.contains("cannot read keys file"), "{err}");
    let err = refused(&["--ingest-key", "noproject"]);
    assert!(err.contains("--ingest-key takes KEY=PROJECT"), "{err}");
}

#[test]
fn keys_file_from_the_environment_and_the_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (env_file, flag_file) = (dir.path().join("env.txt"), dir.path().join("flag.txt"));
    std::fs::write(&env_file, "api from-env p\n").unwrap();
    std::fs::write(&flag_file, "read from-flag p\n").unwrap();

    let srv = Serve::start(&[], Some(&env_file));
    assert_eq!(srv.status("from-env"), 200);
    assert_eq!(srv.status("from-flag"), 401);
    assert_eq!(get_as(&srv.url, "/api/overview", None).0, 401);
    drop(srv);

    let srv = Serve::start(&["--keys-file", flag_file.to_str().unwrap()], Some(&env_file));
    assert_eq!(srv.status("from-flag"), 200);
    assert_eq!(srv.status("from-env"), 401, "--keys-file wins over USERSPAN_KEYS_FILE");
}

#[test]
fn sighup_rereads_the_keys_file_and_a_bad_file_keeps_the_old_keys() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("keys.txt");
    std::fs::write(&f, "api old-key p\n").unwrap();
    let srv = Serve::start(&["--keys-file", f.to_str().unwrap(), "--ingest-key", "flag-ingest=p"], None);
    assert_eq!(srv.status("old-key"), 200);
    assert_eq!(srv.status("new-key"), 401);

    std::fs::write(&f, "# rotated\nread new-key p\n").unwrap();
    srv.signal("-HUP");
    let l = line_with(&srv.out, "keys reloaded");
    assert!(l.contains("1 ingest, 1 read, 0 api"), "{l}");
    assert_eq!(srv.status("new-key"), 200);
    assert_eq!(srv.status("old-key"), 401);
    assert_eq!(srv.status("flag-ingest"), 403, "flag keys stay across reloads");

    std::fs::write(&f, "read new-key p\nbogus line here\n").unwrap();
    srv.signal("-HUP");
    let l = line_with(&srv.err, "SIGHUP");
    assert!(l.contains("keeping the previous keys") && l.contains("line 2: field 1 (kind)"), "{l}");
    assert_eq!(srv.status("new-key"), 200);

    // Emptying the file never opens the receiver: every key is then refused.
    std::fs::write(&f, "# nobody\n").unwrap();
    srv.signal("-HUP");
    line_with(&srv.out, "keys reloaded");
    assert_eq!(srv.status("new-key"), 401);
    assert_eq!(get_as(&srv.url, "/api/overview", None).0, 401);

    srv.signal("-TERM");
    line_with(&srv.out, "shutting down");
}

/// The userspan SDK's own OTLP/HTTP exporter (opentelemetry-otlp) with `api_key`: an ingest key
/// is accepted, a read key is refused (an export error, nothing stored).
#[test]
fn the_sdk_exporter_sends_with_an_ingest_key_and_is_refused_with_a_read_key() {
    let srv = keyed(&[("ingest", "sdk-ingest", "app"), ("read", "sdk-read", "app")]);
    let url = srv.url();
    let sdk_export = |key: &str, user_id: &str| {
        userspan::init(userspan::Config {
            endpoint: Some(url.clone()),
            api_key: Some(key.to_string()),
            service_name: Some("auth-sdk".into()),
            scheduled_delay: Some(Duration::from_millis(20)),
            export_timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        })
        .unwrap();
        let before = userspan::stats();
        userspan::capture("chat-turn", userspan::Attributes::new().user_id(user_id), || ());
        userspan::flush(Duration::from_secs(30));
        let after = userspan::stats();
        userspan::shutdown(Duration::from_secs(5));
        (after.spans_exported - before.spans_exported, after.export_errors - before.export_errors)
    };
    assert_eq!(sdk_export("sdk-ingest", "ada@example.com"), (1, 0));
    let (_, errors) = sdk_export("sdk-read", "mallory@example.com");
    assert!(errors > 0, "a read key's export is refused");
    assert_eq!(user_ids(&read_ok(&url, "/api/users", "sdk-read")), ["ada@example.com"]);
}
