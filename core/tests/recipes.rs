//! The back-end recipes of `docs/recipes.md`, each configured as the recipe says and sent to a
//! local TLS sink that checks what that back end checks: the path, the authentication headers,
//! protobuf or JSON, gzip when asked, and the identity keys it reads. Sources are cited in the
//! recipes file.

mod sink;

use serde_json::{json, Map};
use sink::{serial, spans, string, strings, Pki, Request, Sink};
use std::time::Duration;
use userspan::{Attributes, Compat, Compression, Config, Protocol};

/// One capture with every identity key userspan stamps, then flush and shut down.
fn send(config: Config) {
    userspan::init(Config { scheduled_delay: Some(Duration::from_millis(20)), ..config }).unwrap();
    let mut metadata = Map::new();
    metadata.insert("plan".into(), json!("pro"));
    metadata.insert("seats".into(), json!(12));
    let before = userspan::stats();
    userspan::capture(
        "support-agent-turn",
        Attributes::new().user_id("user-42").session_id("conv-7").tag("vip").tag("beta").metadata(metadata),
        || (),
    );
    assert!(userspan::flush(Duration::from_secs(10)));
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 1);
    userspan::shutdown(Duration::from_secs(5));
}

/// The one request, with the OpenInference / OTel identity keys every back end here reads.
fn the_request(sink: &Sink, path: &str) -> (Request, Vec<opentelemetry_proto::tonic::common::v1::KeyValue>) {
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    let r = requests.into_iter().next().unwrap();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, path);
    let req = r.decode();
    let (resource, span) = spans(&req).into_iter().next().unwrap();
    assert_eq!(span.name, "support-agent-turn");
    let a = &span.attributes;
    assert_eq!(string(a, "user.id").as_deref(), Some("user-42"));
    assert_eq!(string(a, "session.id").as_deref(), Some("conv-7"));
    assert_eq!(strings(a, "tag.tags"), Some(vec!["vip".to_string(), "beta".to_string()]));
    let metadata: serde_json::Value = serde_json::from_str(&string(a, "metadata").unwrap()).unwrap();
    assert_eq!(metadata, json!({"plan": "pro", "seats": 12}));
    let mut all = span.attributes.clone();
    all.extend(resource.into_iter().map(|mut kv| {
        kv.key = format!("resource:{}", kv.key);
        kv
    }));
    (r, all)
}

fn env(vars: &[(&str, &str)]) {
    sink::clear_env();
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
}

#[test]
fn langfuse_basic_auth_on_the_otel_path_with_its_own_keys() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    // The recipe: base URL .../api/public/otel, Basic auth of "public:secret", protobuf, and
    // compat=["langfuse"] for Langfuse's own tag and metadata keys.
    let auth = "cGstbGYtMTIzNDpzay1sZi01Njc4"; // base64("pk-lf-1234:sk-lf-5678")
    env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("{}/api/public/otel", sink.url)),
        ("OTEL_EXPORTER_OTLP_HEADERS", &format!("Authorization=Basic%20{auth},x-langfuse-ingestion-version=4")),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.path("ca.pem")),
    ]);
    send(Config { compat: Some(vec![Compat::Langfuse]), ..Default::default() });
    sink::clear_env();
    let (r, a) = the_request(&sink, "/api/public/otel/v1/traces");
    assert_eq!(r.header("authorization"), Some(format!("Basic {auth}").as_str()));
    assert_eq!(r.header("x-langfuse-ingestion-version"), Some("4"));
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(string(&a, "langfuse.user.id").as_deref(), Some("user-42"));
    assert_eq!(string(&a, "langfuse.session.id").as_deref(), Some("conv-7"));
    assert_eq!(strings(&a, "langfuse.trace.tags"), Some(vec!["vip".to_string(), "beta".to_string()]));
    assert_eq!(string(&a, "langfuse.trace.metadata.plan").as_deref(), Some("pro"));
    assert_eq!(string(&a, "langfuse.trace.metadata.seats").as_deref(), Some("12"));
}

#[test]
fn without_compat_no_langfuse_keys_are_added() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    sink::clear_env();
    send(Config {
        endpoint: Some(format!("{}/api/public/otel", sink.url)),
        certificate: Some(pki.path("ca.pem")),
        ..Default::default()
    });
    let (_, a) = the_request(&sink, "/api/public/otel/v1/traces");
    assert!(a.iter().all(|kv| !kv.key.starts_with("langfuse.")), "{a:?}");
}

#[test]
fn latitude_bearer_key_and_project_header_over_json() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    sink::clear_env();
    // The recipe: the full traces URL, Authorization: Bearer, X-Latitude-Project, JSON or protobuf.
    send(Config {
        endpoint: Some(format!("{}/v1/traces", sink.url)),
        api_key: Some("lat-key".into()),
        headers: Some(vec![("X-Latitude-Project".into(), "support-bot".into())]),
        protocol: Some(Protocol::HttpJson),
        certificate: Some(pki.path("ca.pem")),
        ..Default::default()
    });
    let (r, _) = the_request(&sink, "/v1/traces");
    assert_eq!(r.header("authorization"), Some("Bearer lat-key"));
    assert_eq!(r.header("x-latitude-project"), Some("support-bot"));
    assert!(r.is_json());
}

#[test]
fn future_agi_key_pair_headers_and_project_resource_attributes() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    env(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &format!("{}/tracer/v1/traces", sink.url)),
        ("OTEL_EXPORTER_OTLP_HEADERS", "X-Api-Key=fi-api,X-Secret-Key=fi-secret"),
        ("OTEL_RESOURCE_ATTRIBUTES", "project_name=support-bot,project_type=observe"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &pki.path("ca.pem")),
    ]);
    send(Config::default());
    sink::clear_env();
    let (r, a) = the_request(&sink, "/tracer/v1/traces");
    assert_eq!(r.header("x-api-key"), Some("fi-api"));
    assert_eq!(r.header("x-secret-key"), Some("fi-secret"));
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(string(&a, "resource:project_name").as_deref(), Some("support-bot"));
    assert_eq!(string(&a, "resource:project_type").as_deref(), Some("observe"));
}

#[test]
fn phoenix_self_hosted_protobuf_gzip_and_project_name() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    sink::clear_env();
    send(Config {
        endpoint: Some(sink.url.clone()),
        compression: Some(Compression::Gzip),
        resource_attributes: Some(vec![("openinference.project.name".into(), "support-bot".into())]),
        certificate: Some(pki.path("ca.pem")),
        ..Default::default()
    });
    let (r, a) = the_request(&sink, "/v1/traces");
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"), "Phoenix takes protobuf only");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("authorization"), None, "no auth unless the server has it on");
    assert_eq!(string(&a, "resource:openinference.project.name").as_deref(), Some("support-bot"));
}

#[test]
fn phoenix_cloud_space_path_and_bearer_key() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("{}/s/acme-space", sink.url)),
        ("OTEL_RESOURCE_ATTRIBUTES", "openinference.project.name=support-bot"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.path("ca.pem")),
        ("USERSPAN_API_KEY", "phx-key"),
    ]);
    send(Config::default());
    sink::clear_env();
    let (r, a) = the_request(&sink, "/s/acme-space/v1/traces");
    assert_eq!(r.header("authorization"), Some("Bearer phx-key"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(string(&a, "resource:openinference.project.name").as_deref(), Some("support-bot"));
}

#[test]
fn generic_collector_with_mtls_from_the_standard_variables_only() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, true);
    env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &sink.url),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.path("ca.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &pki.path("client.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &pki.path("client.key")),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_SERVICE_NAME", "support-bot"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod"),
    ]);
    send(Config::default());
    sink::clear_env();
    let (r, a) = the_request(&sink, "/v1/traces");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(string(&a, "resource:service.name").as_deref(), Some("support-bot"));
    assert_eq!(string(&a, "resource:deployment.environment.name").as_deref(), Some("prod"));
}
