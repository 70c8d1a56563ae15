//! The OpenTelemetry SDK's standard variables, honoured by the core: `OTEL_SDK_DISABLED`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`,
//! `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`, `OTEL_TRACES_SAMPLER(_ARG)`; and their init options.
//! Each bad value is a configuration error naming the variable and what is allowed.
//! The environment and `init` are process-wide: the tests run one at a time.

mod sink;

use serde_json::json;
use sink::{serial, spans, Pki, Sink};
use std::time::Duration;
use userspan::{Attributes, Compression, Config, Error, ExporterKind, KeyStyle, OptionValue, SamplerKind};

fn memory() -> Config {
    Config { exporter: Some(ExporterKind::Memory), ..Default::default() }
}

fn config_error(c: Config) -> String {
    match c.resolve() {
        Err(e @ Error::Config(_)) => e.to_string(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    sink::clear_env();
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let out = f();
    sink::clear_env();
    out
}

#[test]
fn otel_sdk_disabled_runs_captures_and_records_nothing() {
    let _s = serial();
    with_env(&[("OTEL_SDK_DISABLED", "TRUE")], || {
        userspan::init(memory()).unwrap();
        let before = userspan::stats();
        let out = userspan::capture("disabled", Attributes::new().user_id("u-1"), || "the result");
        assert_eq!(out, "the result");
        let err: Result<(), &str> = userspan::try_capture("disabled-err", Attributes::new(), || Err("boom"));
        assert_eq!(err, Err("boom"));
        assert!(userspan::flush(Duration::from_secs(5)));
        assert!(userspan::finished_spans().is_empty());
        assert_eq!(userspan::stats(), before, "nothing started, exported or dropped");
        userspan::shutdown(Duration::from_secs(1));
    });
    // `false` (any case) and the option.
    with_env(&[("OTEL_SDK_DISABLED", "false")], || {
        assert!(!memory().resolve().unwrap().disabled);
        assert!(Config { disabled: Some(true), ..memory() }.resolve().unwrap().disabled);
    });
    with_env(&[("OTEL_SDK_DISABLED", "yes")], || {
        let e = config_error(memory());
        assert!(e.contains("OTEL_SDK_DISABLED") && e.contains("\"true\", \"false\""), "{e}");
    });
    // Code wins: disabled=false in code over the variable.
    with_env(&[("OTEL_SDK_DISABLED", "true")], || {
        userspan::init(Config { disabled: Some(false), ..memory() }).unwrap();
        userspan::capture("enabled-by-code", Attributes::new(), || ());
        assert_eq!(userspan::finished_spans().len(), 1);
        userspan::shutdown(Duration::from_secs(1));
    });
}

#[test]
fn otel_resource_attributes_are_percent_decoded_and_service_name_wins() {
    let _s = serial();
    let vars = [(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment.name=prod, team=llm%20ops%2Cml ,service.name=from-attrs",
    )];
    with_env(&vars, || {
        userspan::init(memory()).unwrap();
        userspan::capture("r", Attributes::new(), || ());
        let span = &userspan::finished_spans()[0];
        assert_eq!(span.resource["deployment.environment.name"], json!("prod"));
        assert_eq!(span.resource["team"], json!("llm ops,ml"));
        assert_eq!(span.resource["service.name"], json!("from-attrs"), "service.name from the attributes");
        assert_eq!(span.resource["telemetry.sdk.language"], json!("rust"), "the SDK's own keys stay");
        userspan::shutdown(Duration::from_secs(1));

        // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (the spec's rule),
        // and code's resource_attributes win per key.
        std::env::set_var("OTEL_SERVICE_NAME", "from-service-name");
        userspan::init(Config { resource_attributes: Some(vec![("team".into(), "code".into())]), ..memory() }).unwrap();
        userspan::capture("r", Attributes::new(), || ());
        let span = &userspan::finished_spans()[0];
        assert_eq!(span.resource["service.name"], json!("from-service-name"));
        assert_eq!(span.resource["team"], json!("code"));
        assert_eq!(span.resource["deployment.environment.name"], json!("prod"));
        userspan::shutdown(Duration::from_secs(1));
    });
    for bad in ["novalue", "=x", "k=%FF"] {
        with_env(&[("OTEL_RESOURCE_ATTRIBUTES", bad)], || {
            let e = config_error(memory());
            assert!(e.contains("OTEL_RESOURCE_ATTRIBUTES"), "{bad}: {e}");
        });
    }
}

#[test]
fn otel_traces_exporter_chooses_the_exporter_and_userspan_exporter_is_an_alias() {
    let _s = serial();
    for (value, kind) in
        [("otlp", ExporterKind::Otlp), ("console", ExporterKind::Console), ("none", ExporterKind::None)]
    {
        with_env(&[("OTEL_TRACES_EXPORTER", value)], || {
            assert_eq!(Config::default().resolve().unwrap().exporter, kind, "{value}");
        });
    }
    with_env(&[("OTEL_TRACES_EXPORTER", "none")], || {
        userspan::init(Config::default()).unwrap();
        let before = userspan::stats();
        userspan::capture("not-exported", Attributes::new().user_id("u"), || ());
        assert!(userspan::flush(Duration::from_secs(5)));
        let after = userspan::stats();
        assert_eq!(after.spans_started - before.spans_started, 1, "stamped and counted");
        assert_eq!(after.spans_exported, before.spans_exported);
        userspan::shutdown(Duration::from_secs(1));
    });
    with_env(&[("OTEL_TRACES_EXPORTER", "console"), ("USERSPAN_EXPORTER", "memory")], || {
        assert_eq!(Config::default().resolve().unwrap().exporter, ExporterKind::Memory, "USERSPAN_EXPORTER wins");
    });
    with_env(&[("OTEL_TRACES_EXPORTER", "zipkin")], || {
        let e = config_error(Config::default());
        assert!(e.contains("OTEL_TRACES_EXPORTER") && e.contains("\"otlp\"") && e.contains("\"zipkin\""), "{e}");
    });
}

#[test]
fn otlp_compression_and_timeout_variables() {
    let _s = serial();
    with_env(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")], || {
        assert_eq!(Config::default().resolve().unwrap().compression, Compression::Gzip);
        std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none");
        assert_eq!(Config::default().resolve().unwrap().compression, Compression::None, "traces-specific wins");
        assert_eq!(
            Config { compression: Some(Compression::Gzip), ..Default::default() }.resolve().unwrap().compression,
            Compression::Gzip,
            "code wins"
        );
    });
    with_env(&[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")], || {
        let e = config_error(Config::default());
        assert!(e.contains("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") && e.contains("\"gzip\", \"none\""), "{e}");
    });

    with_env(&[("OTEL_BSP_EXPORT_TIMEOUT", "30000"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")], || {
        assert_eq!(Config::default().resolve().unwrap().export_timeout, Duration::from_millis(2500));
        std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1500");
        assert_eq!(Config::default().resolve().unwrap().export_timeout, Duration::from_millis(1500));
        let code = Config { export_timeout: Some(Duration::from_millis(700)), ..Default::default() };
        assert_eq!(code.resolve().unwrap().export_timeout, Duration::from_millis(700));
    });
    with_env(&[("OTEL_BSP_EXPORT_TIMEOUT", "30000")], || {
        assert_eq!(Config::default().resolve().unwrap().export_timeout, Duration::from_secs(30));
    });
    for bad in ["soon", "0", "-5"] {
        with_env(&[("OTEL_EXPORTER_OTLP_TIMEOUT", bad)], || {
            let e = config_error(Config::default());
            assert!(e.contains("OTEL_EXPORTER_OTLP_TIMEOUT") && e.contains("milliseconds"), "{bad}: {e}");
        });
    }
}

#[test]
fn compression_from_the_variable_reaches_the_wire() {
    let _s = serial();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    let ca = pki.path("ca.pem");
    with_env(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"), ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca)], || {
        userspan::init(Config {
            endpoint: Some(sink.url.clone()),
            scheduled_delay: Some(Duration::from_millis(20)),
            ..Default::default()
        })
        .unwrap();
        userspan::capture("gz-env", Attributes::new().user_id("u"), || ());
        assert!(userspan::flush(Duration::from_secs(10)));
        userspan::shutdown(Duration::from_secs(5));
    });
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("content-encoding"), Some("gzip"));
    assert_eq!(spans(&requests[0].decode())[0].1.name, "gz-env");
}

/// Root captures made under the current pipeline, and how many reached the memory exporter.
fn sampled_of(n: usize) -> usize {
    for i in 0..n {
        userspan::capture("sampled?", Attributes::new().user_id(format!("u-{i}")), || ());
    }
    userspan::finished_spans().len()
}

#[test]
fn otel_traces_sampler_and_its_argument() {
    let _s = serial();
    let cases: [(&[(&str, &str)], usize); 7] = [
        (&[], 50),
        (&[("OTEL_TRACES_SAMPLER", "always_on")], 50),
        (&[("OTEL_TRACES_SAMPLER", "always_off")], 0),
        (&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")], 0),
        (&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0")], 0),
        (&[("OTEL_TRACES_SAMPLER", "traceidratio")], 50), // the argument defaults to 1.0
        (&[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.0")], 50),
    ];
    for (vars, expected) in cases {
        with_env(vars, || {
            userspan::init(memory()).unwrap();
            let before = userspan::stats();
            assert_eq!(sampled_of(50), expected, "{vars:?}");
            assert_eq!(userspan::stats().spans_started - before.spans_started, expected as u64, "counted as sampled");
            userspan::shutdown(Duration::from_secs(1));
        });
    }
    // A ratio in between keeps some and drops some (1000 random trace ids at 0.5).
    with_env(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.5")], || {
        userspan::init(memory()).unwrap();
        let kept = sampled_of(1000);
        assert!((350..650).contains(&kept), "{kept} of 1000 at ratio 0.5");
        userspan::shutdown(Duration::from_secs(1));
    });
    // parentbased: a child follows its sampled parent even when the root sampler says off.
    with_env(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")], || {
        let r = memory().resolve().unwrap();
        assert_eq!(r.sampler, SamplerKind::ParentBasedAlwaysOff);
    });
    // Code wins; the variable's argument fills in code's ratio sampler.
    with_env(&[("OTEL_TRACES_SAMPLER", "always_on"), ("OTEL_TRACES_SAMPLER_ARG", "0.25")], || {
        let r = Config { sampler: Some(SamplerKind::TraceIdRatio), ..memory() }.resolve().unwrap();
        assert_eq!((r.sampler, r.sampler_ratio), (SamplerKind::TraceIdRatio, 0.25));
        let r =
            Config { sampler: Some(SamplerKind::TraceIdRatio), sampler_arg: Some(0.75), ..memory() }.resolve().unwrap();
        assert_eq!(r.sampler_ratio, 0.75);
    });
    with_env(&[("OTEL_TRACES_SAMPLER", "sometimes")], || {
        let e = config_error(memory());
        assert!(e.contains("OTEL_TRACES_SAMPLER") && e.contains("\"parentbased_traceidratio\""), "{e}");
    });
    for bad in ["2", "-0.1", "half", "NaN"] {
        with_env(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", bad)], || {
            let e = config_error(memory());
            assert!(e.contains("OTEL_TRACES_SAMPLER_ARG") && e.contains("0.0 to 1.0"), "{bad}: {e}");
        });
    }
    // The argument of a sampler that takes none is ignored, as the spec says.
    with_env(&[("OTEL_TRACES_SAMPLER", "always_on"), ("OTEL_TRACES_SAMPLER_ARG", "half")], || {
        assert!(memory().resolve().is_ok());
    });
}

fn options(style: KeyStyle, entries: Vec<(&str, OptionValue)>) -> userspan::Result<Config> {
    Config::from_options(entries.into_iter().map(|(k, v)| (k.to_string(), v)), style)
}

#[test]
fn the_new_init_options_in_both_key_styles() {
    let _s = serial();
    sink::clear_env();
    let s = |v: &str| OptionValue::Str(v.into());
    let c = options(
        KeyStyle::Camel,
        vec![
            ("compression", s("gzip")),
            ("certificate", s("/ca.pem")),
            ("clientCertificate", s("/c.pem")),
            ("clientKey", s("/c.key")),
            ("sampler", s("parentbased_traceidratio")),
            ("samplerArg", OptionValue::Float(0.1)),
            ("resourceAttributes", OptionValue::Map(vec![("team".into(), s("x"))])),
            ("disabled", OptionValue::Bool(true)),
            ("compat", OptionValue::List(vec![s("langfuse")])),
        ],
    )
    .unwrap();
    assert_eq!(c.compression, Some(Compression::Gzip));
    assert_eq!(c.certificate.as_deref(), Some("/ca.pem"));
    assert_eq!(c.client_certificate.as_deref(), Some("/c.pem"));
    assert_eq!(c.client_key.as_deref(), Some("/c.key"));
    assert_eq!(c.sampler, Some(SamplerKind::ParentBasedTraceIdRatio));
    assert_eq!(c.sampler_arg, Some(0.1));
    assert_eq!(c.resource_attributes, Some(vec![("team".to_string(), "x".to_string())]));
    assert_eq!(c.disabled, Some(true));
    assert_eq!(c.compat, Some(vec![userspan::Compat::Langfuse]));
    let c = options(
        KeyStyle::Snake,
        vec![
            ("client_certificate", s("/c.pem")),
            ("sampler_arg", OptionValue::Int(1)),
            ("resource_attributes", OptionValue::Null),
        ],
    )
    .unwrap();
    assert_eq!((c.client_certificate.as_deref(), c.sampler_arg), (Some("/c.pem"), Some(1.0)));

    let e = options(KeyStyle::Snake, vec![("compression", s("br"))]).unwrap_err();
    assert_eq!(e.to_string(), "userspan: `compression` must be one of \"gzip\", \"none\", got \"br\"");
    let e = options(KeyStyle::Camel, vec![("sampler", s("ratio"))]).unwrap_err();
    assert_eq!(e.field(), Some("sampler"));
    let e = options(KeyStyle::Camel, vec![("samplerArg", OptionValue::Float(1.5))]).unwrap_err();
    assert_eq!(e.field(), Some("samplerArg"));
    let e = options(KeyStyle::Camel, vec![("samplerArg", s("0.5"))]).unwrap_err();
    assert_eq!(e.kind(), "type");
    let e = options(KeyStyle::Snake, vec![("disabled", s("true"))]).unwrap_err();
    assert_eq!(e.to_string(), "userspan: `disabled` must be a boolean, got a string");
    let e = options(
        KeyStyle::Snake,
        vec![("resource_attributes", OptionValue::Map(vec![("n".into(), OptionValue::Int(1))]))],
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("resource_attributes.n"));
    let e = options(KeyStyle::Snake, vec![("compat", OptionValue::List(vec![s("phoenix")]))]).unwrap_err();
    assert_eq!(e.field(), Some("compat"));
    let e = options(KeyStyle::Camel, vec![("client_key", s("/k"))]).unwrap_err();
    assert!(e.to_string().contains("clientKey"), "{e}");
}

#[test]
fn a_bad_userspan_compat_variable_is_a_configuration_error_naming_it() {
    let _s = serial();
    with_env(&[("USERSPAN_COMPAT", "langfuse,datadog")], || {
        let msg = config_error(memory());
        assert!(msg.contains(r#"USERSPAN_COMPAT="datadog" is not one of "langfuse""#), "{msg}");
    });
    with_env(&[("USERSPAN_COMPAT", "langfuse")], || {
        assert_eq!(memory().resolve().unwrap().compat, vec![userspan::Compat::Langfuse]);
    });
}
