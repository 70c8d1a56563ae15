//! `cargo bench -p userspan --bench capture`: a raw OpenTelemetry span with 4 attributes vs
//! `userspan::capture` with a user id, e-mail, session and one tag.
//!
//! Group `to_noop_exporter` is the pair issue 2 names: both sides send their spans to a no-op
//! exporter behind the OpenTelemetry SDK's `BatchSpanProcessor` (the raw provider via
//! `with_batch_exporter`, userspan via `init_with_batch_exporter`). Group `no_exporter` keeps the
//! spans in process on both sides (the raw provider has no processor; userspan runs with
//! `ExporterKind::None`, which keeps only its stamping processor), so it isolates span creation and
//! attribute cost; it also holds the binding path (what Python/Node/WASM pay in the core).

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SpanData, SpanExporter};
use std::hint::black_box;
use userspan::{Attributes, Config, ExporterKind, KeyStyle, OptionValue, Scope};

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn tags() -> opentelemetry::Value {
    opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("vip")].into())
}

fn raw_static(raw: &SdkTracer) {
    let mut span = raw
        .span_builder("support-agent-turn")
        .with_attributes([
            KeyValue::new("user.id", "user-42"),
            KeyValue::new("user.email", "ada@example.com"),
            KeyValue::new("session.id", "conv-7"),
            KeyValue::new("tag.tags", tags()),
        ])
        .start(raw);
    span.end();
}

/// What an app holding a user record does by hand: owned strings cloned per call, the span made
/// current for the work inside (as `capture` does).
fn raw_owned_current(raw: &SdkTracer, (user, email, session): (&String, &String, &String)) {
    let span = raw
        .span_builder("support-agent-turn")
        .with_attributes([
            KeyValue::new("user.id", user.clone()),
            KeyValue::new("user.email", email.clone()),
            KeyValue::new("session.id", session.clone()),
            KeyValue::new("tag.tags", tags()),
        ])
        .start(raw);
    let cx = opentelemetry::Context::current_with_span(span);
    let guard = cx.clone().attach();
    black_box(1);
    drop(guard);
    cx.span().end();
}

fn capture() -> i32 {
    userspan::capture(
        "support-agent-turn",
        Attributes::new().user_id("user-42").user_email("ada@example.com").session_id("conv-7").tag("vip"),
        || black_box(1),
    )
}

fn bench(c: &mut Criterion) {
    let owned = ("user-42".to_string(), "ada@example.com".to_string(), "conv-7".to_string());
    let values = (&owned.0, &owned.1, &owned.2);

    let exported_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_batch_exporter(NoopExporter).build();
    let exported = exported_provider.tracer("raw");
    userspan::init_with_batch_exporter(Config::default(), NoopExporter).unwrap();
    let mut g = c.benchmark_group("to_noop_exporter");
    g.bench_function("raw_otel_span_4_attributes", |b| b.iter(|| raw_static(&exported)));
    g.bench_function("raw_otel_span_owned_values_made_current", |b| b.iter(|| raw_owned_current(&exported, values)));
    g.bench_function("userspan_capture", |b| b.iter(capture));
    g.finish();

    let raw_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let raw = raw_provider.tracer("raw");
    userspan::init(Config { exporter: Some(ExporterKind::None), ..Default::default() }).unwrap();
    let mut g = c.benchmark_group("no_exporter");
    g.bench_function("raw_otel_span_4_attributes", |b| b.iter(|| raw_static(&raw)));
    g.bench_function("raw_otel_span_owned_values_made_current", |b| b.iter(|| raw_owned_current(&raw, values)));
    g.bench_function("userspan_capture", |b| b.iter(capture));
    // What every binding pays in the core per capture: host options (already translated to
    // `OptionValue`s) validated into attributes, a scope, a span started with an explicit parent
    // (none here) and ended by handle.
    g.bench_function("binding_path_options_scope_start_end", |b| {
        b.iter(|| {
            let attrs = Attributes::from_options(
                [
                    ("userId", OptionValue::Str(owned.0.clone())),
                    ("userEmail", OptionValue::Str(owned.1.clone())),
                    ("sessionId", OptionValue::Str(owned.2.clone())),
                ],
                KeyStyle::Camel,
            )
            .unwrap();
            let scope = Scope::nested(None, attrs);
            let span = userspan::start_span("support-agent-turn".to_string(), None, Some(&scope));
            span.end(None);
            black_box(scope)
        })
    });
    g.finish();
    userspan::shutdown(std::time::Duration::from_secs(1));
}

criterion_group!(benches, bench);
criterion_main!(benches);
