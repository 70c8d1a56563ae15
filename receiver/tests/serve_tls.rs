//! `userspan serve --tls-cert FILE --tls-key FILE`: with a CA made here by rcgen, the official
//! Rust OTLP/HTTP exporter (opentelemetry-otlp, through the userspan SDK) and a tonic OTLP/gRPC
//! client send over TLS and the data lands; the API answers over https; plain HTTP and plain gRPC
//! against the TLS ports are refused and store nothing; stopping lets an in-flight request finish;
//! bad files refuse start naming the file and the problem (`spawn` and the real binary).

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use userspan_receiver::server::{spawn, Running, ServerConfig};
use userspan_receiver::store::schema::DbPath;
use userspan_receiver::tls::TlsFiles;

/// A CA, a server certificate it signed for `127.0.0.1` / `localhost`, and bad files, as PEM in a
/// temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    /// Writes `ca.pem`, `server.pem`, `server.key`, `chain.pem` (server certificate then CA),
    /// `other.key` (the key of another certificate the CA signed), `garbage.pem` (a CERTIFICATE
    /// block that is not X.509), `not-pem.txt`, `expired.pem` (an expired server certificate,
    /// then the CA) with `expired.key`, and `self-ca.pem` / `self-ca.key` (a self-signed CA
    /// certificate for 127.0.0.1, as `openssl req -x509` makes by default).
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "userspan receiver test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, expired: bool| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            if expired {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            (params.signed_by(&key, &issuer).unwrap(), key)
        };
        let (server, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()], false);
        let (_, other_key) = leaf(vec!["elsewhere.example".into()], false);
        let (expired, expired_key) = leaf(vec!["127.0.0.1".into()], true);
        let self_ca_key = KeyPair::generate().unwrap();
        let mut self_ca = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        self_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let self_ca = self_ca.self_signed(&self_ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", &ca.pem());
        write("server.pem", &server.pem());
        write("server.key", &server_key.serialize_pem());
        write("chain.pem", &format!("{}{}", server.pem(), ca.pem()));
        write("other.key", &other_key.serialize_pem());
        write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        write("not-pem.txt", "hello, this is not PEM\n");
        write("expired.pem", &format!("{}{}", expired.pem(), ca.pem()));
        write("expired.key", &expired_key.serialize_pem());
        write("self-ca.pem", &self_ca.pem());
        write("self-ca.key", &self_ca_key.serialize_pem());
        Pki { ca_pem: ca.pem(), dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn files(&self, cert: &str, key: &str) -> TlsFiles {
        TlsFiles { cert: self.path(cert), key: self.path(key) }
    }

    /// A blocking client that trusts only the test CA.
    fn client(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap()])
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }
}

fn tls_server(pki: &Pki, db: DbPath) -> Running {
    spawn(ServerConfig { db, tls: Some(pki.files("server.pem", "server.key")), ..ServerConfig::ephemeral() })
        .expect("a TLS server starts")
}

fn get_json(client: &reqwest::blocking::Client, url: &str) -> Value {
    let r = client.get(url).send().unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().unwrap()
}

fn post_proto(client: &reqwest::blocking::Client, url: &str, req: &ExportTraceServiceRequest) -> u16 {
    let r = client
        .post(format!("{url}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .unwrap();
    r.status().as_u16()
}

fn one_span(trace: u64, user_id: &str) -> ExportTraceServiceRequest {
    request(vec![span(trace, trace, now_ns() - HOUR_NS, 5).attrs(user(user_id))])
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// One `Export` call over gRPC with TLS, trusting `ca_pem`.
fn grpc_export_tls(url: &str, ca_pem: &str, req: ExportTraceServiceRequest) -> Result<(), String> {
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    rt().block_on(async {
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
        let channel = Channel::from_shared(url.to_string())
            .unwrap()
            .tls_config(tls)
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        TraceServiceClient::new(channel).export(req).await.map(|_| ()).map_err(|e| e.to_string())
    })
}

/// One `Export` call over plain (cleartext) gRPC.
fn grpc_export_plain(url: &str, req: ExportTraceServiceRequest) -> Result<(), String> {
    rt().block_on(async {
        let mut client = TraceServiceClient::connect(url.to_string()).await.map_err(|e| format!("connect: {e}"))?;
        client.export(req).await.map(|_| ()).map_err(|e| e.to_string())
    })
}

#[test]
fn the_official_otlp_exporters_send_over_tls_and_the_api_answers_over_https() {
    let pki = Pki::new();
    let srv = tls_server(&pki, DbPath::Memory);
    let url = srv.url();
    let grpc = srv.grpc_url().expect("gRPC is served");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert!(grpc.starts_with("https://127.0.0.1:"), "{grpc}");

    // opentelemetry-otlp's HTTP exporter (the userspan SDK's), trusting the test CA.
    userspan::init(userspan::Config {
        endpoint: Some(url.clone()),
        certificate: Some(pki.path("ca.pem").to_str().unwrap().to_string()),
        service_name: Some("tls-app".into()),
        scheduled_delay: Some(Duration::from_millis(20)),
        export_timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    })
    .unwrap();
    let before = userspan::stats();
    let answer = userspan::capture(
        "chat-turn",
        userspan::Attributes::new().user_id("ada@example.com").session_id("conv-1"),
        || 42,
    );
    assert_eq!(answer, 42);
    assert!(userspan::flush(Duration::from_secs(30)), "flushed");
    let after = userspan::stats();
    userspan::shutdown(Duration::from_secs(5));
    assert_eq!(after.spans_exported - before.spans_exported, 1, "{after:?}");
    assert_eq!(after.export_errors, before.export_errors, "{after:?}");

    // A protobuf POST with reqwest over https, and gRPC with tonic over TLS.
    let client = pki.client();
    assert_eq!(post_proto(&client, &url, &one_span(2, "bob@example.com")), 200);
    grpc_export_tls(&grpc, &pki.ca_pem, one_span(3, "grpc@example.com")).expect("gRPC export over TLS");

    let users = get_json(&client, &format!("{url}/api/users?sort=user_id&order=asc"));
    let ids: Vec<&str> = users["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ada@example.com", "bob@example.com", "grpc@example.com"], "{users}");
    let ada = get_json(&client, &format!("{url}/api/users/ada%40example.com"));
    assert_eq!(ada["traces"], 1, "{ada}");
    assert_eq!(ada["sessions"], 1, "{ada}");
    // The dashboard is served over https too.
    let page = client.get(format!("{url}/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("<html"), "the dashboard page");
    srv.stop();
}

#[test]
fn cleartext_and_untrusted_clients_are_refused_and_nothing_is_stored() {
    let pki = Pki::new();
    let srv = tls_server(&pki, DbPath::Memory);
    let (url, grpc) = (srv.url(), srv.grpc_url().unwrap());
    let plain_url = url.replacen("https://", "http://", 1);
    let plain_grpc = grpc.replacen("https://", "http://", 1);

    // Plain HTTP to the TLS port: no HTTP answer at all (the handshake fails), so no 200.
    let plain = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let r = plain
        .post(format!("{plain_url}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(one_span(1, "cleartext@example.com").encode_to_vec())
        .send();
    assert!(r.is_err(), "a cleartext request got an answer: {:?}", r.map(|r| r.status()));
    // Plain gRPC to the TLS gRPC port.
    let e = grpc_export_plain(&plain_grpc, one_span(2, "cleartext-grpc@example.com"))
        .expect_err("cleartext gRPC is refused");
    assert!(!e.is_empty());
    // TLS clients that do not trust the CA (the platform's and Mozilla's roots): refused too.
    let untrusted = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let r = untrusted
        .post(format!("{url}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(one_span(3, "untrusted@example.com").encode_to_vec())
        .send();
    assert!(r.is_err(), "an unverified server was trusted");
    let other_ca = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem();
    grpc_export_tls(&grpc, &other_ca, one_span(4, "untrusted-grpc@example.com"))
        .expect_err("a client trusting another CA refuses the server");

    // Still serving, and nothing of the above was stored.
    let client = pki.client();
    let overview = get_json(&client, &format!("{url}/api/overview"));
    assert_eq!(overview["traces"], 0, "{overview}");
    assert_eq!(overview["unique_users"], 0, "{overview}");
    assert_eq!(post_proto(&client, &url, &one_span(5, "fine@example.com")), 200);
    assert_eq!(get_json(&client, &format!("{url}/api/overview"))["traces"], 1);
    srv.stop();
}

/// A TLS connection (rustls, trusting the test CA) speaking HTTP/1.1 by hand, so the test knows
/// when the server has a request in hand: it answers `100 Continue` once the handler reads the
/// body of a request sent with `Expect: 100-continue`.
struct RawTls(rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>);

impl RawTls {
    fn connect(pki: &Pki, addr: std::net::SocketAddr) -> RawTls {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap()).unwrap();
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        RawTls(rustls::StreamOwned::new(conn, std::net::TcpStream::connect(addr).unwrap()))
    }

    fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
        self.0.flush().unwrap();
    }

    /// One response head (status line and headers).
    fn head(&mut self) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            self.0.read_exact(&mut byte).expect("a response head");
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }
}

#[test]
fn stopping_lets_an_in_flight_https_request_finish_and_flushes_the_writer() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tls.db");
    let srv = tls_server(&pki, DbPath::File(db.clone()));
    let url = srv.url();
    let addr = srv.addr;

    // Idle keep-alive connections (as exporters keep), HTTPS and gRPC over TLS, must not hold up
    // the stop.
    let idle = pki.client();
    assert_eq!(post_proto(&idle, &url, &one_span(1, "before@example.com")), 200);
    let grpc_rt = tokio::runtime::Runtime::new().unwrap();
    let mut idle_grpc = grpc_rt.block_on(async {
        use tonic::transport::{Certificate, Channel, ClientTlsConfig};
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem));
        let channel =
            Channel::from_shared(srv.grpc_url().unwrap()).unwrap().tls_config(tls).unwrap().connect().await.unwrap();
        TraceServiceClient::new(channel)
    });
    grpc_rt.block_on(idle_grpc.export(one_span(2, "before-grpc@example.com"))).expect("gRPC export over TLS");

    // A request the handler is reading when the stop begins: its head is sent with `Expect:
    // 100-continue`, the body only once the stop has begun.
    let body = request(
        (0..200).map(|n| span(10, 100 + n, now_ns() - HOUR_NS, 5).attrs(user("inflight@example.com"))).collect(),
    )
    .encode_to_vec();
    let mut raw = RawTls::connect(&pki, addr);
    raw.send(
        format!(
            "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\n\
             content-length: {}\r\nexpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let head = raw.head();
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");
    let (stopped_tx, stopped) = mpsc::channel();
    std::thread::spawn(move || {
        srv.stop();
        let _ = stopped_tx.send(());
    });
    // The stop has begun once the port no longer accepts connections.
    while std::net::TcpStream::connect(addr).is_ok() {
        std::thread::sleep(Duration::from_millis(10));
    }
    raw.send(&body);
    let head = raw.head();
    assert!(head.starts_with("HTTP/1.1 200"), "the in-flight request finished: {head}");
    stopped.recv_timeout(Duration::from_secs(60)).expect("stop() returned with an idle client connected");
    drop((idle, idle_grpc));

    // Everything acknowledged is in the database file.
    let again = spawn(ServerConfig { db: DbPath::File(db), ..ServerConfig::ephemeral() }).unwrap();
    assert_eq!(get_ok(&again.url(), "/api/users/inflight%40example.com")["traces"], 1);
    assert_eq!(get_ok(&again.url(), "/api/users/before%40example.com")["traces"], 1);
    assert_eq!(get_ok(&again.url(), "/api/users/before-grpc%40example.com")["traces"], 1);
    again.stop();
}

fn refused(pki: &Pki, cert: &str, key: &str) -> String {
    let cfg = ServerConfig { tls: Some(pki.files(cert, key)), ..ServerConfig::ephemeral() };
    match spawn(cfg) {
        Ok(_) => panic!("started with --tls-cert {cert} --tls-key {key}"),
        Err(e) => e,
    }
}

#[test]
fn bad_tls_files_refuse_start_naming_the_file_and_the_problem() {
    let pki = Pki::new();
    let p = |name: &str| pki.path(name).display().to_string();
    let cases: [(&str, &str, &str, &[&str]); 8] = [
        ("missing.pem", "server.key", "--tls-cert", &["cannot read"]),
        ("server.pem", "missing.key", "--tls-key", &["cannot read"]),
        ("not-pem.txt", "server.key", "--tls-cert", &["no PEM certificate"]),
        // A key where the certificate belongs.
        ("server.key", "server.key", "--tls-cert", &["no PEM certificate"]),
        ("garbage.pem", "server.key", "--tls-cert", &["not a valid X.509 certificate"]),
        ("server.pem", "not-pem.txt", "--tls-key", &["no unencrypted PEM private key"]),
        // A certificate where the key belongs.
        ("server.pem", "server.pem", "--tls-key", &["no unencrypted PEM private key"]),
        ("server.pem", "other.key", "--tls-key", &["does not match the certificate in --tls-cert"]),
    ];
    for (cert, key, flag, problems) in cases {
        let e = refused(&pki, cert, key);
        let file = if flag == "--tls-cert" { p(cert) } else { p(key) };
        assert!(e.starts_with(&format!("{flag} {file}")), "{cert} {key}: {e}");
        for problem in problems {
            assert!(e.contains(problem), "{cert} {key}: {e}");
        }
    }
    // The mismatch names both files.
    let e = refused(&pki, "server.pem", "other.key");
    assert!(e.contains(&p("server.pem")) && e.contains(&p("other.key")), "{e}");
    // A chain file (server certificate, then the CA) is fine.
    let srv =
        spawn(ServerConfig { tls: Some(pki.files("chain.pem", "server.key")), ..ServerConfig::ephemeral() }).unwrap();
    assert_eq!(get_json(&pki.client(), &format!("{}/healthz", srv.url()))["status"], "ok");
    srv.stop();
}

fn userspan_bin(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_userspan")).args(args).output().expect("userspan runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_binary_serves_tls_says_so_and_refuses_bad_files() {
    let pki = Pki::new();
    let (cert, key, other) = (p_str(&pki, "chain.pem"), p_str(&pki, "server.key"), p_str(&pki, "other.key"));
    // One flag without the other: a usage error naming both.
    for args in [["serve", "--tls-cert", cert.as_str()], ["serve", "--tls-key", key.as_str()]] {
        let (ok, err) = userspan_bin(&args);
        assert!(!ok);
        assert!(err.contains("--tls-cert") && err.contains("--tls-key"), "{err}");
    }
    // A key that is not the certificate's: refused before listening, naming both files.
    let (ok, err) = userspan_bin(&[
        "serve",
        "--db",
        ":memory:",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &other,
    ]);
    assert!(!ok);
    assert!(err.contains("does not match") && err.contains(&cert) && err.contains(&other), "{err}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_userspan"))
        .args(["serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
        .args(["--tls-cert", &cert, "--tls-key", &key])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The banner up to its gRPC line (the TLS line comes right after the first).
    let mut lines: Vec<String> = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let last = line.starts_with("  OTLP/gRPC traces: ");
        lines.push(line);
        if last {
            break;
        }
    }
    let http = lines[0].rsplit(' ').next().unwrap().to_string();
    let grpc = lines
        .iter()
        .find_map(|l| l.strip_prefix("  OTLP/gRPC traces: ").map(|r| r.split(' ').next().unwrap().to_string()))
        .expect("a gRPC line");
    assert!(
        lines[1].starts_with("  TLS:              on (HTTP and OTLP/gRPC)") && lines[1].contains(&cert),
        "{lines:?}"
    );
    assert!(http.starts_with("https://127.0.0.1:"), "{lines:?}");
    assert!(grpc.starts_with("https://127.0.0.1:"), "{lines:?}");
    let exported = grpc_export_tls(&grpc, &pki.ca_pem, one_span(1, "cli@example.com"));
    let client = pki.client();
    let traces = client
        .get(format!("{http}/api/users/cli%40example.com"))
        .send()
        .and_then(|r| r.json::<Value>())
        .map(|v| v["traces"].clone());
    child.kill().unwrap();
    let _ = child.wait();
    exported.expect("gRPC export to the printed address");
    assert_eq!(traces.unwrap(), 1);
}

fn p_str(pki: &Pki, name: &str) -> String {
    pki.path(name).to_str().unwrap().to_string()
}

#[test]
fn certificates_clients_refuse_start_with_a_note_saying_why() {
    let pki = Pki::new();
    let start = |cert: &str, key: &str| {
        spawn(ServerConfig { tls: Some(pki.files(cert, key)), ..ServerConfig::ephemeral() }).expect("starts")
    };
    // A self-signed CA certificate: served, but a rustls client trusting exactly it refuses it.
    let srv = start("self-ca.pem", "self-ca.key");
    let note = srv.tls_note.clone().expect("a note");
    assert!(note.contains(&p_str(&pki, "self-ca.pem")) && note.contains("CA:TRUE"), "{note}");
    let pem = std::fs::read(pki.path("self-ca.pem")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    assert!(client.get(format!("{}/healthz", srv.url())).send().is_err(), "rustls refuses a CA as server certificate");
    srv.stop();
    // An expired certificate.
    let srv = start("expired.pem", "expired.key");
    let note = srv.tls_note.clone().expect("a note");
    assert!(note.contains("expired"), "{note}");
    assert!(pki.client().get(format!("{}/healthz", srv.url())).send().is_err(), "clients refuse it");
    srv.stop();
    // Good certificates, with (checked) and without (not checked) their CA in the file: no note.
    for cert in ["chain.pem", "server.pem"] {
        let srv = start(cert, "server.key");
        assert_eq!(srv.tls_note, None, "{cert}");
        srv.stop();
    }
}
