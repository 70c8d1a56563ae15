//! An app that owns its `TracerProvider` (no `userspan::init`): the stamping processor alone or
//! chained in front of the app's exporting processor with `then`; captures, scopes, spans of the
//! app's own tracer and the bindings' explicit-parent spans are all stamped, under its privacy.

mod common;

use common::Collect;
use opentelemetry::global;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor, SpanData};
use userspan::{Attributes, Privacy, Scope, UserAttributesSpanProcessor, UserIdHashing};

fn attr(s: &SpanData, key: &str) -> Option<String> {
    s.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

fn exercise(provider: &SdkTracerProvider) {
    global::set_tracer_provider(provider.clone());
    let app = provider.tracer("app");
    userspan::capture("turn", Attributes::new().user_id("u-1").session_id("s-1"), || {
        app.start("llm-call").end();
    });
    userspan::with_scope(Attributes::new().user_id("u-2"), || app.start("scoped").end());
    let scope = Scope::new(Attributes::new().user_id("u-3"));
    userspan::start_span("binding".into(), None, Some(&scope)).end(None);
}

fn by_name(spans: &[SpanData], name: &str) -> SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}")).clone()
}

#[test]
fn an_app_owned_provider_gets_stamped_spans_alone_or_chained() {
    // Chained: one processor in front of the app's exporter.
    let chained = Collect::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(UserAttributesSpanProcessor::new().then(SimpleSpanProcessor::new(chained.clone())))
        .build();
    exercise(&provider);
    let spans = chained.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 4);
    for (name, user) in [("turn", "u-1"), ("llm-call", "u-1"), ("scoped", "u-2"), ("binding", "u-3")] {
        assert_eq!(attr(&by_name(&spans, name), "user.id").as_deref(), Some(user), "{name}");
    }
    assert_eq!(attr(&by_name(&spans, "llm-call"), "session.id").as_deref(), Some("s-1"));
    let turn = by_name(&spans, "turn");
    assert_eq!(by_name(&spans, "llm-call").parent_span_id, turn.span_context.span_id());

    // Alone, next to the app's exporter, with its own privacy mode (replace: the id is hashed).
    let alone = Collect::default();
    let privacy = Privacy::new(UserIdHashing::Replace, Some("k")).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(UserAttributesSpanProcessor::with_privacy(privacy.clone()))
        .with_simple_exporter(alone.clone())
        .build();
    exercise(&provider);
    let spans = alone.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 4);
    for (name, user) in [("turn", "u-1"), ("llm-call", "u-1"), ("scoped", "u-2"), ("binding", "u-3")] {
        assert_eq!(attr(&by_name(&spans, name), "user.id"), Some(privacy.hash(user)), "{name}");
    }
}
