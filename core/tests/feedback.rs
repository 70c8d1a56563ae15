//! Feedback records (issue 20): validation at the call, the `gen_ai.evaluation.result` log record
//! in the memory exporter and over OTLP/HTTP to a local sink (decoded with opentelemetry-proto),
//! identity stamped as on spans (privacy hashing too), truncation and drops counted.

mod sink;

use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as PValue;
use opentelemetry_proto::tonic::common::v1::KeyValue as PKeyValue;
use prost::Message as _;
use serde_json::json;
use sink::{serial, Pki, Sink};
use std::time::Duration;
use userspan::conventions::{MAX_FEEDBACK_COMMENT_BYTES, MAX_FEEDBACK_NAME_CHARS};
use userspan::feedback::{clear_finished_feedback, parse_span_ref, span_ref_of};
use userspan::{
    finished_feedback, Attributes, Config, Error, ExporterKind, Feedback, FeedbackSource, KeyStyle, OptionValue,
    UserIdHashing,
};

const REF: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn memory() {
    userspan::init(Config {
        exporter: Some(ExporterKind::Memory),
        service_name: Some("support-bot".into()),
        ..Default::default()
    })
    .unwrap();
    clear_finished_feedback();
}

#[test]
fn memory_exporter_keeps_the_record_with_target_identity_and_resource() {
    let _g = serial();
    memory();
    let before = userspan::stats();
    userspan::with_scope(Attributes::new().user_id("user-42").session_id("conv-7"), || {
        Feedback::new("thumbs")
            .value(true)
            .label("up")
            .comment("spot on")
            .source(FeedbackSource::Annotator)
            .target_ref(REF)
            .send()
            .unwrap();
    });
    let all = finished_feedback();
    assert_eq!(all.len(), 1);
    let f = &all[0];
    assert_eq!(f.event_name, "gen_ai.evaluation.result");
    assert_eq!(f.trace_id.as_deref(), Some("0af7651916cd43dd8448eb211c80319c"));
    assert_eq!(f.span_id.as_deref(), Some("b7ad6b7169203331"));
    assert_eq!(f.attributes["gen_ai.evaluation.name"], json!("thumbs"));
    assert_eq!(f.attributes["gen_ai.evaluation.score.value"], json!(true));
    assert_eq!(f.attributes["gen_ai.evaluation.score.label"], json!("up"));
    assert_eq!(f.attributes["gen_ai.evaluation.explanation"], json!("spot on"));
    assert_eq!(f.attributes["userspan.feedback.source"], json!("annotator"));
    assert_eq!(f.attributes["user.id"], json!("user-42"));
    assert_eq!(f.attributes["session.id"], json!("conv-7"));
    let id = f.attributes["userspan.feedback.id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "UUID v4: {id}");
    assert_eq!(f.resource["service.name"], json!("support-bot"));
    assert_eq!(userspan::stats().feedback_sent - before.feedback_sent, 1);
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn current_span_is_the_default_target_and_outside_a_span_there_is_none() {
    let _g = serial();
    memory();
    let provider = opentelemetry::global::tracer_provider();
    let tracer = provider.tracer("test");
    let (trace, span, reference) = tracer.in_span("turn", |cx| {
        let sc = cx.span().span_context().clone();
        let reference = userspan::span_ref().unwrap();
        Feedback::new("rating").value(4).send().unwrap();
        (sc.trace_id().to_string(), sc.span_id().to_string(), reference)
    });
    assert_eq!(reference, format!("00-{trace}-{span}-01"));
    assert_eq!(span_ref_of(&parse_span_ref(&reference).unwrap()).as_deref(), Some(reference.as_str()));
    assert!(userspan::span_ref().is_none());
    userspan::with_scope(Attributes::new().user_id("user-7"), || {
        Feedback::new("rating").value(2.5).id("fb-1").send().unwrap();
    });
    let all = finished_feedback();
    assert_eq!(all[0].trace_id.as_deref(), Some(trace.as_str()));
    assert_eq!(all[0].span_id.as_deref(), Some(span.as_str()));
    assert_eq!(all[0].attributes["gen_ai.evaluation.score.value"], json!(4.0));
    assert_eq!(all[0].attributes["userspan.feedback.source"], json!("end_user"));
    assert_eq!(all[1].trace_id, None);
    assert_eq!(all[1].span_id, None);
    assert_eq!(all[1].attributes["user.id"], json!("user-7"));
    assert_eq!(all[1].attributes["userspan.feedback.id"], json!("fb-1"));
    userspan::shutdown(Duration::from_secs(1));
}

fn field(e: Error) -> (String, &'static str) {
    (e.field().unwrap_or_default().to_string(), e.kind())
}

#[test]
fn bad_input_is_an_error_naming_the_field_and_nothing_is_sent() {
    let _g = serial();
    memory();
    let long: String = "n".repeat(MAX_FEEDBACK_NAME_CHARS + 1);
    let cases: Vec<(Feedback, &str)> = vec![
        (Feedback::new("").value(1), "name"),
        (Feedback::new(long).value(1), "name"),
        (Feedback::new("thumbs"), "value"),
        (Feedback::new("thumbs").value(f64::NAN), "value"),
        (Feedback::new("thumbs").value(f64::INFINITY), "value"),
        (Feedback::new("thumbs").value(1).target_ref("00-zz-01"), "target"),
        (
            Feedback::new("thumbs").value(1).target_ref("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
            "target",
        ),
    ];
    for (f, want) in cases {
        let e = f.send().unwrap_err();
        assert_eq!(field(e.clone()), (want.to_string(), "value"), "{e}");
    }
    // name at the limit is fine (chars, not bytes)
    Feedback::new("é".repeat(MAX_FEEDBACK_NAME_CHARS)).label("ok").send().unwrap();
    assert_eq!(finished_feedback().len(), 1);

    let e = "robot".parse::<FeedbackSource>().unwrap_err();
    assert_eq!(field(e.clone()), ("source".to_string(), "value"));
    assert!(e.to_string().contains("\"end_user\", \"annotator\", \"evaluator\""), "{e}");
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn options_entry_point_names_fields_for_the_bindings() {
    let _g = serial();
    memory();
    let f = userspan::feedback_from_options(
        "thumbs",
        [
            ("value", OptionValue::Bool(false)),
            ("comment", OptionValue::Str("meh".into())),
            ("source", OptionValue::Str("evaluator".into())),
            ("target", OptionValue::Str(REF.into())),
        ],
        KeyStyle::Camel,
    )
    .unwrap();
    f.send().unwrap();
    let all = finished_feedback();
    assert_eq!(all[0].attributes["gen_ai.evaluation.score.value"], json!(false));
    assert_eq!(all[0].attributes["userspan.feedback.source"], json!("evaluator"));
    let err = |k: &str, v: OptionValue| userspan::feedback_from_options("x", [(k, v)], KeyStyle::Snake).unwrap_err();
    assert_eq!(field(err("source", OptionValue::Str("robot".into()))), ("source".into(), "value"));
    assert_eq!(field(err("value", OptionValue::Str("1".into()))), ("value".into(), "type"));
    assert_eq!(field(err("label", OptionValue::Int(1))), ("label".into(), "type"));
    assert_eq!(field(err("score", OptionValue::Int(1))), ("score".into(), "unknown_option"));
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn long_comment_is_cut_on_a_char_boundary_and_counted() {
    let _g = serial();
    memory();
    let before = userspan::stats();
    let comment = format!("a{}", "é".repeat(MAX_FEEDBACK_COMMENT_BYTES));
    Feedback::new("thumbs").value(1).comment(comment).no_target().send().unwrap();
    let sent = finished_feedback()[0].attributes["gen_ai.evaluation.explanation"].as_str().unwrap().to_string();
    assert_eq!(sent.len(), MAX_FEEDBACK_COMMENT_BYTES - 1, "4096 falls inside an é: cut before it");
    assert!(sent.starts_with("aé"));
    assert_eq!(userspan::stats().feedback_comments_truncated - before.feedback_comments_truncated, 1);
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn privacy_hashing_applies_to_the_record_user_id() {
    let _g = serial();
    userspan::init(Config {
        exporter: Some(ExporterKind::Memory),
        user_id_hashing: Some(UserIdHashing::Replace),
        hash_key: Some("secret".into()),
        ..Default::default()
    })
    .unwrap();
    clear_finished_feedback();
    userspan::with_scope(Attributes::new().user_id("user-42").user_email("ada@example.com"), || {
        Feedback::new("thumbs").value(1).send().unwrap();
        userspan::capture("turn", Attributes::new(), || ());
    });
    let f = &finished_feedback()[0];
    let span = &userspan::finished_spans()[0];
    assert_ne!(f.attributes["user.id"], json!("user-42"));
    assert_eq!(f.attributes["user.id"], span.attributes["user.id"], "same hash as the span's");
    assert!(!f.attributes.contains_key("user.email"));
    userspan::shutdown(Duration::from_secs(1));
}

#[test]
fn exporter_none_validates_and_sends_nothing() {
    let _g = serial();
    userspan::init(Config { exporter: Some(ExporterKind::None), ..Default::default() }).unwrap();
    let before = userspan::stats();
    assert!(Feedback::new("").value(1).send().is_err());
    Feedback::new("thumbs").value(1).send().unwrap();
    assert_eq!(userspan::stats().feedback_sent, before.feedback_sent);
    assert!(finished_feedback().is_empty());
    userspan::shutdown(Duration::from_secs(1));
    // after shutdown: still validated, nothing sent
    Feedback::new("thumbs").value(1).send().unwrap();
}

fn attr<'a>(kvs: &'a [PKeyValue], key: &str) -> Option<&'a PValue> {
    kvs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).and_then(|v| v.value.as_ref())
}

fn logs_requests(sink: &Sink) -> Vec<ExportLogsServiceRequest> {
    sink.requests()
        .iter()
        .filter(|r| r.path == "/v1/logs")
        .map(|r| {
            assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
            ExportLogsServiceRequest::decode(r.body.as_slice()).expect("valid OTLP logs protobuf")
        })
        .collect()
}

#[test]
fn otlp_http_sends_one_log_record_per_feedback_to_v1_logs() {
    let _g = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    userspan::init(Config {
        endpoint: Some(sink.url.clone()),
        certificate: Some(pki.path("ca.pem")),
        service_name: Some("support-bot".into()),
        api_key: Some("ingest-key".into()),
        scheduled_delay: Some(Duration::from_millis(20)),
        ..Default::default()
    })
    .unwrap();
    let before = userspan::stats();
    userspan::with_scope(Attributes::new().user_id("user-42"), || {
        Feedback::new("thumbs").value(1.0).label("up").comment("great").target_ref(REF).id("fb-9").send().unwrap();
    });
    assert!(userspan::flush(Duration::from_secs(10)));
    assert_eq!(userspan::stats().feedback_sent - before.feedback_sent, 1);
    userspan::shutdown(Duration::from_secs(5));

    let reqs = logs_requests(&sink);
    let raw = sink.requests().into_iter().find(|r| r.path == "/v1/logs").unwrap();
    assert_eq!(raw.header("authorization"), Some("Bearer ingest-key"));
    let rl = &reqs[0].resource_logs[0];
    let resource = &rl.resource.as_ref().unwrap().attributes;
    assert_eq!(attr(resource, "service.name"), Some(&PValue::StringValue("support-bot".into())));
    let records: Vec<_> =
        reqs.iter().flat_map(|r| &r.resource_logs).flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records).collect();
    assert_eq!(records.len(), 1);
    let r = records[0];
    assert_eq!(r.event_name, "gen_ai.evaluation.result");
    assert_eq!(hex(&r.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex(&r.span_id), "b7ad6b7169203331");
    assert_eq!(r.flags & 0xff, 1);
    assert_eq!(attr(&r.attributes, "gen_ai.evaluation.name"), Some(&PValue::StringValue("thumbs".into())));
    assert_eq!(attr(&r.attributes, "gen_ai.evaluation.score.value"), Some(&PValue::DoubleValue(1.0)));
    assert_eq!(attr(&r.attributes, "gen_ai.evaluation.score.label"), Some(&PValue::StringValue("up".into())));
    assert_eq!(attr(&r.attributes, "gen_ai.evaluation.explanation"), Some(&PValue::StringValue("great".into())));
    assert_eq!(attr(&r.attributes, "userspan.feedback.source"), Some(&PValue::StringValue("end_user".into())));
    assert_eq!(attr(&r.attributes, "userspan.feedback.id"), Some(&PValue::StringValue("fb-9".into())));
    assert_eq!(attr(&r.attributes, "user.id"), Some(&PValue::StringValue("user-42".into())));
    assert!(r.time_unix_nano > 0);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_full_queue_drops_and_counts_and_never_blocks() {
    let _g = serial();
    sink::clear_env();
    let pki = Pki::new();
    let sink = Sink::start(&pki, false);
    userspan::init(Config {
        endpoint: Some(sink.url.clone()),
        certificate: Some(pki.path("ca.pem")),
        max_queue_size: Some(1),
        max_export_batch_size: Some(1),
        scheduled_delay: Some(Duration::from_secs(60)),
        ..Default::default()
    })
    .unwrap();
    let before = userspan::stats();
    for _ in 0..200 {
        Feedback::new("thumbs").value(1).no_target().send().unwrap();
    }
    assert!(userspan::flush(Duration::from_secs(10)));
    userspan::shutdown(Duration::from_secs(5));
    let after = userspan::stats();
    let (sent, dropped) =
        (after.feedback_sent - before.feedback_sent, after.feedback_dropped - before.feedback_dropped);
    assert_eq!(sent + dropped, 200, "every record is either sent or counted as dropped");
    assert!(dropped > 0, "a queue of 1 cannot hold 200 records");
    assert!(sent >= 1);
    let received: usize = logs_requests(&sink)
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    assert_eq!(received as u64, sent);
}
