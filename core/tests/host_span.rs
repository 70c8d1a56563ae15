//! Host spans (a Python or JS OpenTelemetry SDK's finished spans) handed to the core leave through
//! init's pipeline: the same request, resource and counters as capture spans.

mod sink;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::KeyValue;
use sink::{serial, spans, string, Pki, Sink};
use std::time::Duration;
use userspan::{Attributes, Config, ExporterKind, HostEvent, HostLink, HostScope, HostSpan};

fn host_span(name: &str, flags: u8) -> HostSpan {
    HostSpan {
        trace_id: [7; 16],
        span_id: [9; 8],
        parent_span_id: Some([3; 8]),
        parent_is_remote: true,
        trace_flags: flags,
        trace_state: Some("vendor=abc".into()),
        name: name.into(),
        kind: SpanKind::Client,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_250_000_000,
        attributes: vec![
            KeyValue::new("user.id", "user-42"),
            KeyValue::new("gen_ai.usage.input_tokens", 120_i64),
            KeyValue::new("llm.model_name", "gpt-4o-mini"),
        ],
        dropped_attributes_count: 2,
        events: vec![HostEvent {
            name: "exception".into(),
            time_unix_nano: 1_700_000_000_200_000_000,
            attributes: vec![KeyValue::new("exception.type", "RateLimitError")],
            dropped_attributes_count: 0,
        }],
        dropped_events_count: 1,
        links: vec![HostLink {
            trace_id: [1; 16],
            span_id: [2; 8],
            trace_flags: 1,
            trace_state: None,
            attributes: vec![KeyValue::new("link.kind", "retry")],
            dropped_attributes_count: 0,
        }],
        dropped_links_count: 0,
        status: Status::error("rate limited"),
        scope: HostScope {
            name: "openinference.instrumentation.openai".into(),
            version: Some("0.1.30".into()),
            schema_url: None,
            attributes: vec![],
        },
    }
}

#[test]
fn before_init_and_after_shutdown_nothing_is_handed_on() {
    let _g = serial();
    userspan::shutdown(Duration::from_secs(1));
    assert!(!userspan::host_export_active());
    let before = userspan::stats();
    assert_eq!(userspan::export_host_spans([host_span("early", 1)]), 0);
    assert_eq!(userspan::stats().spans_started - before.spans_started, 1);

    userspan::init(Config { exporter: Some(ExporterKind::None), ..Default::default() }).unwrap();
    assert!(!userspan::host_export_active(), "exporter none: host spans go nowhere");
    assert_eq!(userspan::export_host_spans([host_span("none", 1)]), 0);

    userspan::init(Config { exporter: Some(ExporterKind::Memory), ..Default::default() }).unwrap();
    assert!(userspan::host_export_active());
    userspan::shutdown(Duration::from_secs(1));
    assert!(!userspan::host_export_active());
    assert_eq!(userspan::export_host_spans([host_span("late", 1)]), 0);
}

#[test]
fn memory_exporter_sees_the_host_span_as_recorded_with_the_pipeline_resource() {
    let _g = serial();
    userspan::init(Config {
        exporter: Some(ExporterKind::Memory),
        service_name: Some("support-bot".into()),
        ..Default::default()
    })
    .unwrap();
    userspan::clear_finished_spans();
    let handed = userspan::export_host_spans([host_span("ChatCompletion", 1), host_span("unsampled", 0)]);
    assert_eq!(handed, 1, "the unsampled span is skipped");
    let spans = userspan::finished_spans();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(s.name, "ChatCompletion");
    assert_eq!(s.trace_id, "07".repeat(16));
    assert_eq!(s.span_id, "09".repeat(8));
    assert_eq!(s.parent_span_id.as_deref(), Some("0303030303030303"));
    assert_eq!(s.kind, "client");
    assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 250_000_000);
    assert_eq!(s.attributes["user.id"], "user-42");
    assert_eq!(s.attributes["gen_ai.usage.input_tokens"], 120);
    assert_eq!(s.status.code, "ERROR");
    assert_eq!(s.events[0].name, "exception");
    assert_eq!(s.resource["service.name"], "support-bot");
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn otlp_export_carries_host_and_capture_spans_in_one_pipeline() {
    let _g = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    userspan::init(Config {
        endpoint: Some(sink.url.clone()),
        certificate: Some(pki.path("ca.pem")),
        service_name: Some("support-bot".into()),
        scheduled_delay: Some(Duration::from_millis(20)),
        ..Default::default()
    })
    .unwrap();
    let before = userspan::stats();
    userspan::capture("turn", Attributes::new().user_id("user-42"), || ());
    assert_eq!(userspan::export_host_spans([host_span("ChatCompletion", 1)]), 1);
    assert!(userspan::flush(Duration::from_secs(10)));
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 2);
    userspan::shutdown(Duration::from_secs(5));

    let all: Vec<_> = sink.requests().iter().flat_map(|r| spans(&r.decode())).collect();
    assert_eq!(all.len(), 2);
    for (resource, _) in &all {
        assert_eq!(string(resource, "service.name").as_deref(), Some("support-bot"));
    }
    let (_, host) = all.iter().find(|(_, s)| s.name == "ChatCompletion").unwrap();
    assert_eq!(host.trace_id, vec![7; 16]);
    assert_eq!(host.parent_span_id, vec![3; 8]);
    assert_eq!(host.trace_state, "vendor=abc");
    assert_eq!(host.dropped_attributes_count, 2);
    assert_eq!(host.dropped_events_count, 1);
    assert_eq!(host.links.len(), 1);
    assert_eq!(host.links[0].span_id, vec![2; 8]);
    assert_eq!(host.status.as_ref().unwrap().message, "rate limited");
    assert_eq!(string(&host.attributes, "llm.model_name").as_deref(), Some("gpt-4o-mini"));
    // Span flags carry "parent is remote" (OTLP spec: bits 8 and 9).
    assert_eq!(host.flags & 0x300, 0x300);
}
