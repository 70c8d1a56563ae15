//! `cargo bench -p userspan --bench capture`: a raw OpenTelemetry span with 4 attributes vs
//! `userspan::capture` with a user id, e-mail, session and one tag. Neither exports anything
//! (the raw provider has no processor; the userspan pipeline uses `ExporterKind::None`, which keeps
//! only the stamping processor), so the pair measures span creation + attribute cost alone.

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use std::hint::black_box;
use userspan::{Attributes, Config, ExporterKind};

fn bench(c: &mut Criterion) {
    let raw_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let raw = raw_provider.tracer("raw");
    userspan::init(Config { exporter: Some(ExporterKind::None), ..Default::default() }).unwrap();

    let mut g = c.benchmark_group("span_with_user_attributes");
    g.bench_function("raw_otel_span_4_attributes", |b| {
        b.iter(|| {
            let mut span = raw
                .span_builder("support-agent-turn")
                .with_attributes([
                    KeyValue::new("user.id", "user-42"),
                    KeyValue::new("user.email", "ada@example.com"),
                    KeyValue::new("session.id", "conv-7"),
                    KeyValue::new("tag.tags", opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("vip")].into())),
                ])
                .start(&raw);
            span.end();
        })
    });
    g.bench_function("raw_otel_span_4_attributes_made_current", |b| {
        b.iter(|| {
            let span = raw
                .span_builder("support-agent-turn")
                .with_attributes([
                    KeyValue::new("user.id", "user-42"),
                    KeyValue::new("user.email", "ada@example.com"),
                    KeyValue::new("session.id", "conv-7"),
                    KeyValue::new("tag.tags", opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("vip")].into())),
                ])
                .start(&raw);
            let cx = opentelemetry::Context::current_with_span(span);
            let guard = cx.clone().attach();
            black_box(1);
            drop(guard);
            cx.span().end();
        })
    });
    // What an app holding a user record passes: owned strings, cloned per call.
    let (user, email, session) = ("user-42".to_string(), "ada@example.com".to_string(), "conv-7".to_string());
    g.bench_function("raw_otel_span_owned_values_made_current", |b| {
        b.iter(|| {
            let span = raw
                .span_builder("support-agent-turn")
                .with_attributes([
                    KeyValue::new("user.id", user.clone()),
                    KeyValue::new("user.email", email.clone()),
                    KeyValue::new("session.id", session.clone()),
                    KeyValue::new("tag.tags", opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("vip")].into())),
                ])
                .start(&raw);
            let cx = opentelemetry::Context::current_with_span(span);
            let guard = cx.clone().attach();
            black_box(1);
            drop(guard);
            cx.span().end();
        })
    });
    g.bench_function("userspan_capture", |b| {
        b.iter(|| {
            userspan::capture(
                "support-agent-turn",
                Attributes::new().user_id("user-42").user_email("ada@example.com").session_id("conv-7").tag("vip"),
                || black_box(1),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
