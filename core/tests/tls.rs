//! OTLP/HTTP over TLS to a sink started here, with a CA made here: export succeeds when the CA is
//! trusted (option or variable), fails without it (counted in `stats()`, the app unaffected), an
//! mTLS sink requires the client certificate, gzip is sent when asked, and bad files are
//! configuration errors at `init` naming the option or variable and the path.

mod sink;

use sink::{serial, spans, string, strings, Pki, Sink};
use std::time::Duration;
use userspan::{Attributes, Compression, Config, Error, Protocol};

fn config(url: &str) -> Config {
    Config {
        endpoint: Some(url.to_string()),
        service_name: Some("tls-bot".into()),
        scheduled_delay: Some(Duration::from_millis(20)),
        export_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    }
}

fn one_capture(name: &'static str) -> u64 {
    userspan::capture(name, Attributes::new().user_id("ada@example.com").session_id("conv-7").tag("vip"), || 42u64)
}

#[test]
fn export_over_tls_succeeds_when_the_ca_is_trusted() {
    let _s = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    userspan::init(Config { certificate: Some(pki.path("ca.pem")), ..config(&sink.url) }).unwrap();
    let before = userspan::stats();
    assert_eq!(one_capture("tls-turn"), 42);
    assert!(userspan::flush(Duration::from_secs(10)));
    let after = userspan::stats();
    assert_eq!(after.spans_exported - before.spans_exported, 1, "{after:?}");
    assert_eq!(after.export_errors, before.export_errors);
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/traces");
    assert_eq!(requests[0].header("content-encoding"), None, "no compression unless asked");
    let req = requests[0].decode();
    let all = spans(&req);
    assert_eq!(all.len(), 1);
    let (resource, span) = &all[0];
    assert_eq!(span.name, "tls-turn");
    assert_eq!(string(resource, "service.name").as_deref(), Some("tls-bot"));
    assert_eq!(string(&span.attributes, "user.id").as_deref(), Some("ada@example.com"));
    assert_eq!(string(&span.attributes, "session.id").as_deref(), Some("conv-7"));
    assert_eq!(strings(&span.attributes, "tag.tags"), Some(vec!["vip".to_string()]));
    userspan::shutdown(Duration::from_secs(5));
}

#[test]
fn the_traces_certificate_variable_wins_over_the_generic_one() {
    let _s = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    // The generic variable names a CA that did not sign the sink's certificate: only the
    // traces-specific one, which did, can make the export succeed.
    std::env::set_var("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("other-ca.pem"));
    std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", pki.path("ca.pem"));
    userspan::init(config(&sink.url)).unwrap();
    let before = userspan::stats();
    one_capture("env-ca");
    assert!(userspan::flush(Duration::from_secs(10)));
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 1);
    assert_eq!(sink.requests().len(), 1);
    userspan::shutdown(Duration::from_secs(5));
    sink::clear_env();
}

#[test]
fn an_untrusted_server_certificate_is_a_counted_export_error_and_the_app_goes_on() {
    let _s = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    for certificate in [None, Some(pki.path("other-ca.pem"))] {
        // Default roots (the platform's and Mozilla's) do not include the test CA; nor does the
        // other CA's bundle.
        userspan::init(Config { certificate, ..config(&sink.url) }).unwrap();
        let before = userspan::stats();
        let started = std::time::Instant::now();
        let sum: u64 = (0..10).map(|_| one_capture("untrusted")).sum();
        assert_eq!(sum, 420, "captures run and return their results");
        assert!(started.elapsed() < Duration::from_secs(1), "capture never waits on export");
        let _ = userspan::flush(Duration::from_secs(20));
        let after = userspan::stats();
        assert!(after.export_errors > before.export_errors, "counted: {after:?}");
        assert_eq!(after.spans_dropped - before.spans_dropped, 10, "{after:?}");
        assert_eq!(after.spans_exported, before.spans_exported);
        userspan::shutdown(Duration::from_secs(5));
    }
    assert!(sink.requests().is_empty(), "no request got past the handshake");
}

#[test]
fn an_mtls_sink_requires_the_client_certificate() {
    let _s = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, true);

    // Without a client certificate: the handshake is refused, counted.
    userspan::init(Config { certificate: Some(pki.path("ca.pem")), ..config(&sink.url) }).unwrap();
    let before = userspan::stats();
    assert_eq!(one_capture("no-client-cert"), 42);
    let _ = userspan::flush(Duration::from_secs(20));
    let after = userspan::stats();
    assert!(after.export_errors > before.export_errors, "{after:?}");
    assert_eq!(after.spans_exported, before.spans_exported);
    userspan::shutdown(Duration::from_secs(5));
    assert!(sink.requests().is_empty());

    // With it, as init options.
    userspan::init(Config {
        certificate: Some(pki.path("ca.pem")),
        client_certificate: Some(pki.path("client.pem")),
        client_key: Some(pki.path("client.key")),
        ..config(&sink.url)
    })
    .unwrap();
    let before = userspan::stats();
    one_capture("client-cert-option");
    assert!(userspan::flush(Duration::from_secs(10)));
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 1);
    userspan::shutdown(Duration::from_secs(5));

    // With it, as the standard variables (the traces-specific key beside the generic certificate).
    std::env::set_var("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.pem"));
    std::env::set_var("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki.path("client.pem"));
    std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", pki.path("client.key"));
    userspan::init(config(&sink.url)).unwrap();
    let before = userspan::stats();
    one_capture("client-cert-env");
    assert!(userspan::flush(Duration::from_secs(10)));
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 1);
    userspan::shutdown(Duration::from_secs(5));
    sink::clear_env();

    let names: Vec<String> = sink.requests().iter().map(|r| spans(&r.decode())[0].1.name.clone()).collect();
    assert_eq!(names, ["client-cert-option", "client-cert-env"]);
}

#[test]
fn gzip_over_tls_when_asked() {
    let _s = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
        userspan::init(Config {
            certificate: Some(pki.path("ca.pem")),
            compression: Some(Compression::Gzip),
            protocol: Some(protocol),
            ..config(&sink.url)
        })
        .unwrap();
        one_capture("gzipped");
        assert!(userspan::flush(Duration::from_secs(10)));
        userspan::shutdown(Duration::from_secs(5));
    }
    let requests = sink.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_eq!(&r.raw[..2], &[0x1f, 0x8b], "the body is a gzip stream");
        assert_eq!(spans(&r.decode())[0].1.name, "gzipped");
    }
    assert!(!requests[0].is_json() && requests[1].is_json());
}

fn config_error(c: Config) -> String {
    match userspan::init(c) {
        Err(e @ Error::Config(_)) => e.to_string(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn bad_tls_files_are_configuration_errors_naming_the_option_or_variable_and_the_path() {
    let _s = serial();
    sink::clear_env();
    let pki = Pki::new();
    let url = "https://127.0.0.1:1";
    let missing = pki.path("missing.pem");

    let e = config_error(Config { certificate: Some(missing.clone()), ..config(url) });
    assert!(e.contains("option certificate") && e.contains(&missing) && e.contains("cannot read"), "{e}");

    for (name, problem) in [("garbage.pem", "ca"), ("not-pem.txt", "ca")] {
        let path = pki.path(name);
        let e = config_error(Config { certificate: Some(path.clone()), ..config(url) });
        assert!(e.contains("option certificate") && e.contains(&path), "{problem}: {e}");
    }

    let e = config_error(Config {
        client_certificate: Some(pki.path("client.pem")),
        client_key: Some(pki.path("ca.pem")),
        ..config(url)
    });
    assert!(e.contains("client_key") && e.contains(&pki.path("ca.pem")), "{e}");

    let e = config_error(Config { client_certificate: Some(pki.path("client.pem")), ..config(url) });
    assert!(e.contains("client_certificate") && e.contains("no client key"), "{e}");

    std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &missing);
    let e = config_error(config(url));
    assert!(e.contains("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE") && e.contains(&missing), "{e}");
    sink::clear_env();

    std::env::set_var("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client.key"));
    let e = config_error(config(url));
    assert!(e.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY") && e.contains("no client certificate"), "{e}");
    sink::clear_env();

    // The files matter only to the OTLP exporter: the memory exporter does not read them.
    userspan::init(Config {
        certificate: Some(missing),
        exporter: Some(userspan::ExporterKind::Memory),
        ..config(url)
    })
    .unwrap();
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn with_no_system_ca_store_the_default_roots_are_mozillas() {
    let _s = serial();
    sink::clear_env();
    // A slim container: the platform verifier finds no system certificate at all (an empty
    // SSL_CERT_FILE and SSL_CERT_DIR replace the system locations). Without Mozilla's roots
    // beside the platform's the client could not be built and init would fail.
    let empty = tempfile::tempdir().unwrap();
    let file = empty.path().join("none.pem");
    std::fs::write(&file, "").unwrap();
    std::env::set_var("SSL_CERT_FILE", &file);
    std::env::set_var("SSL_CERT_DIR", empty.path());
    let result = userspan::init(config("https://127.0.0.1:1"));
    std::env::remove_var("SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_DIR");
    result.unwrap();
    userspan::shutdown(Duration::from_secs(1));
}
