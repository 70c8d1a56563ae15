//! `cargo bench -p userspan --bench capture`: a raw OpenTelemetry span with 4 attributes vs
//! `userspan::capture` with a user id, e-mail, session and one tag.
//!
//! Group `to_noop_exporter` is the pair issue 2 names: both sides send their spans to a no-op
//! exporter behind the OpenTelemetry SDK's `BatchSpanProcessor` (the raw provider via
//! `with_batch_exporter`, userspan via `init_with_batch_exporter`). Group `no_exporter` keeps the
//! spans in process on both sides (the raw provider has no processor; userspan runs with
//! `ExporterKind::None`, which keeps only its stamping processor), so it isolates span creation and
//! attribute cost; it also holds the binding path (what Python/Node/WASM pay in the core).

mod workloads;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::TracerProvider as _;
use std::hint::black_box;
use userspan::{Config, ExporterKind};
use workloads::{binding_path, capture, raw_owned_current, raw_static, raw_static_current, NoopExporter};

fn bench(c: &mut Criterion) {
    let owned = ("user-42".to_string(), "ada@example.com".to_string(), "conv-7".to_string());
    let values = (&owned.0, &owned.1, &owned.2);

    let exported_provider =
        opentelemetry_sdk::trace::SdkTracerProvider::builder().with_batch_exporter(NoopExporter).build();
    let exported = exported_provider.tracer("raw");
    userspan::init_with_batch_exporter(Config::default(), NoopExporter).unwrap();
    let mut g = c.benchmark_group("to_noop_exporter");
    g.bench_function("raw_otel_span_4_attributes", |b| b.iter(|| raw_static(&exported)));
    g.bench_function("raw_otel_span_static_values_made_current", |b| b.iter(|| raw_static_current(&exported)));
    g.bench_function("raw_otel_span_owned_values_made_current", |b| b.iter(|| raw_owned_current(&exported, values)));
    g.bench_function("userspan_capture", |b| b.iter(capture));
    g.finish();

    let raw_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let raw = raw_provider.tracer("raw");
    userspan::init(Config { exporter: Some(ExporterKind::None), ..Default::default() }).unwrap();
    let mut g = c.benchmark_group("no_exporter");
    g.bench_function("raw_otel_span_4_attributes", |b| b.iter(|| raw_static(&raw)));
    g.bench_function("raw_otel_span_static_values_made_current", |b| b.iter(|| raw_static_current(&raw)));
    g.bench_function("raw_otel_span_owned_values_made_current", |b| b.iter(|| raw_owned_current(&raw, values)));
    g.bench_function("userspan_capture", |b| b.iter(capture));
    g.bench_function("binding_path_options_scope_start_end", |b| b.iter(|| black_box(binding_path(values))));
    g.finish();
    userspan::shutdown(std::time::Duration::from_secs(1));
}

criterion_group!(benches, bench);
criterion_main!(benches);
