//! The workloads of the capture benchmark, shared by `benches/capture.rs` (criterion, wall time)
//! and `examples/capture_loop.rs` (a fixed number of calls, for instruction counts under
//! `valgrind --tool=callgrind`, which a busy machine does not disturb).

use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SpanData, SpanExporter};
use std::hint::black_box;
use userspan::conventions as conv;
use userspan::{Attributes, KeyStyle, OptionValue, Scope};

/// Accepts every batch and does nothing with it.
#[derive(Debug)]
pub struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn tags() -> opentelemetry::Value {
    opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("vip")].into())
}

fn static_span(raw: &SdkTracer) -> opentelemetry_sdk::trace::Span {
    raw.span_builder("support-agent-turn")
        .with_attributes([
            KeyValue::new(conv::USER_ID, "user-42"),
            KeyValue::new(conv::USER_EMAIL, "ada@example.com"),
            KeyValue::new(conv::SESSION_ID, "conv-7"),
            KeyValue::new(conv::TAGS, tags()),
        ])
        .start(raw)
}

/// `span` made current around the work (as `capture` does), then ended.
fn made_current(span: opentelemetry_sdk::trace::Span) {
    let cx = opentelemetry::Context::current_with_span(span);
    let guard = cx.clone().attach();
    black_box(1);
    drop(guard);
    cx.span().end();
}

pub fn raw_static(raw: &SdkTracer) {
    static_span(raw).end();
}

/// The least any capture does: [`raw_static`] (the same `&'static str` values, nothing copied)
/// with the span made current for the work inside, which `capture` must do so that spans started
/// in the closure nest under it.
pub fn raw_static_current(raw: &SdkTracer) {
    made_current(static_span(raw));
}

/// What an app holding a user record does by hand: owned strings cloned per call, the span made
/// current for the work inside (as `capture` does).
pub fn raw_owned_current(raw: &SdkTracer, (user, email, session): (&String, &String, &String)) {
    let span = raw
        .span_builder("support-agent-turn")
        .with_attributes([
            KeyValue::new(conv::USER_ID, user.clone()),
            KeyValue::new(conv::USER_EMAIL, email.clone()),
            KeyValue::new(conv::SESSION_ID, session.clone()),
            KeyValue::new(conv::TAGS, tags()),
        ])
        .start(raw);
    made_current(span);
}

pub fn capture() -> i32 {
    userspan::capture(
        "support-agent-turn",
        Attributes::new().user_id("user-42").user_email("ada@example.com").session_id("conv-7").tag("vip"),
        || black_box(1),
    )
}

/// What every binding pays in the core per capture: host options translated to `OptionValue`s
/// (each string copied once out of the host's memory, as the bindings do) validated into attributes, a scope, a span started with an explicit parent
/// (none here) and ended by handle.
pub fn binding_path((user, email, session): (&String, &String, &String)) -> Scope {
    let attrs = Attributes::from_options(
        [
            ("userId", OptionValue::Str(user.as_str().into())),
            ("userEmail", OptionValue::Str(email.as_str().into())),
            ("sessionId", OptionValue::Str(session.as_str().into())),
        ],
        KeyStyle::Camel,
    )
    .unwrap();
    let scope = Scope::nested(None, attrs);
    let span = userspan::start_span("support-agent-turn".to_string(), None, Some(&scope));
    span.end(None);
    scope
}
