//! Configuration from the environment (one test function: the process environment is shared).

use std::time::Duration;
use userspan::{Config, ExporterKind, Protocol, UserIdHashing};

#[test]
fn environment_fills_what_code_leaves_unset_and_bad_values_are_named() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=llm%20ops,x-env=prod"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_SERVICE_NAME", "env-service"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("USERSPAN_API_KEY", "sk-env"),
        ("USERSPAN_PROJECT", "env-project"),
        ("USERSPAN_USER_ID_HASHING", "add"),
        ("USERSPAN_HASH_KEY", "env-secret"),
        ("USERSPAN_PROPAGATE_BAGGAGE", "user.id,session.id"),
    ];
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let r = Config::default().resolve().unwrap();
    assert_eq!(r.traces_endpoint, "http://collector:4318/v1/traces");
    assert_eq!(r.protocol, Protocol::HttpJson);
    assert_eq!(r.service_name.as_deref(), Some("env-service"));
    assert_eq!(r.project.as_deref(), Some("env-project"));
    assert!(r.headers.contains(&("x-team".into(), "llm ops".into())));
    assert!(r.headers.contains(&("Authorization".into(), "Bearer sk-env".into())));
    assert_eq!(r.max_queue_size, 100);
    assert_eq!(r.scheduled_delay, Duration::from_millis(250));
    assert_eq!(r.privacy.mode(), UserIdHashing::Add);
    assert_eq!(r.propagate_baggage, vec!["user.id", "session.id"]);
    assert_eq!(r.exporter, ExporterKind::Otlp);

    // Code wins over the environment.
    let code = Config {
        endpoint: Some("http://code:9999".into()),
        protocol: Some(Protocol::HttpProtobuf),
        project: Some("code-project".into()),
        user_id_hashing: Some(UserIdHashing::Off),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(code.traces_endpoint, "http://code:9999/v1/traces");
    assert_eq!(code.protocol, Protocol::HttpProtobuf);
    assert_eq!(code.project.as_deref(), Some("code-project"));
    assert_eq!(code.privacy.mode(), UserIdHashing::Off);

    // The per-signal endpoint is used as is.
    std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://ingest.example/custom/path");
    assert_eq!(Config::default().resolve().unwrap().traces_endpoint, "https://ingest.example/custom/path");
    std::env::remove_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");

    // Bad environment values are configuration errors naming the variable or option.
    std::env::set_var("OTEL_BSP_MAX_QUEUE_SIZE", "lots");
    let e = Config::default().resolve().unwrap_err();
    assert!(e.to_string().contains("OTEL_BSP_MAX_QUEUE_SIZE"), "{e}");
    std::env::set_var("OTEL_BSP_MAX_QUEUE_SIZE", "100");
    std::env::set_var("USERSPAN_EXPORTER", "kafka");
    let e = Config::default().resolve().unwrap_err();
    assert_eq!(e.field(), Some("exporter"), "{e}");
    std::env::remove_var("USERSPAN_EXPORTER");
    std::env::remove_var("USERSPAN_HASH_KEY");
    let e = Config::default().resolve().unwrap_err();
    assert!(e.to_string().contains("USERSPAN_HASH_KEY"), "{e}");
    let e = Config { endpoint: Some("collector:4318".into()), hash_key: Some("k".into()), ..Default::default() }
        .resolve()
        .unwrap_err();
    assert!(e.to_string().contains("http://"), "{e}");
    for (k, _) in vars {
        std::env::remove_var(k);
    }
}
