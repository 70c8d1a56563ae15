//! Scope, capture and processor behaviour through the in-memory exporter.

use opentelemetry::global;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _};
use serde_json::json;
use std::sync::{Mutex, MutexGuard};
use userspan::{Attributes, Config, ExporterKind, FinishedSpan, ScopeFutureExt, UserIdType};

static LOCK: Mutex<()> = Mutex::new(());

/// Serialises tests (they share the process-wide pipeline) and starts each with a fresh memory
/// exporter.
fn memory() -> MutexGuard<'static, ()> {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    userspan::init(Config { exporter: Some(ExporterKind::Memory), ..Default::default() }).unwrap();
    guard
}

fn span<'a>(spans: &'a [FinishedSpan], name: &str) -> &'a FinishedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
}

#[test]
fn spans_of_an_unrelated_tracer_are_stamped_and_nested() {
    let _g = memory();
    userspan::capture("turn", Attributes::new().user_id("u-1").session_id("s-1"), || {
        let tracer = global::tracer("some-llm-instrumentation");
        tracer.in_span("chat gpt-4o", |_cx| {
            tracer.in_span("tool lookup", |_| {});
        });
    });
    let spans = userspan::finished_spans();
    assert_eq!(spans.len(), 3);
    let turn = span(&spans, "turn");
    for name in ["chat gpt-4o", "tool lookup"] {
        let s = span(&spans, name);
        assert_eq!(s.attributes["user.id"], "u-1");
        assert_eq!(s.attributes["session.id"], "s-1");
        assert_eq!(s.trace_id, turn.trace_id);
    }
    assert_eq!(span(&spans, "chat gpt-4o").parent_span_id.as_deref(), Some(turn.span_id.as_str()));
}

#[test]
fn capture_is_a_child_of_the_current_span() {
    let _g = memory();
    let tracer = global::tracer("app");
    tracer.in_span("http request", |_| {
        userspan::capture("turn", Attributes::new().user_id("u"), || {});
    });
    let spans = userspan::finished_spans();
    let (req, turn) = (span(&spans, "http request"), span(&spans, "turn"));
    assert_eq!(turn.trace_id, req.trace_id);
    assert_eq!(turn.parent_span_id.as_deref(), Some(req.span_id.as_str()));
    assert!(!req.attributes.contains_key("user.id"), "the outer span started before the scope");
}

#[test]
fn values_and_errors_come_back_unchanged() {
    let _g = memory();
    let v = userspan::capture("v", Attributes::new(), || vec![1, 2, 3]);
    assert_eq!(v, vec![1, 2, 3]);
    #[derive(Debug, PartialEq)]
    struct MyError(u32);
    impl std::fmt::Display for MyError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "quota exceeded ({})", self.0)
        }
    }
    let r: Result<(), MyError> = userspan::try_capture("e", Attributes::new().user_id("u"), || Err(MyError(7)));
    assert_eq!(r, Err(MyError(7)));
    let ok: Result<u8, MyError> = userspan::try_capture("ok", Attributes::new(), || Ok(5));
    assert_eq!(ok, Ok(5));
    let spans = userspan::finished_spans();
    let e = span(&spans, "e");
    assert_eq!(e.status.code, "ERROR");
    assert_eq!(e.status.message, "quota exceeded (7)");
    assert!(e.attributes["error.type"].as_str().unwrap().ends_with("MyError"));
    assert_eq!(e.events[0].name, "exception");
    assert_eq!(e.events[0].attributes["exception.message"], "quota exceeded (7)");
    assert_eq!(span(&spans, "ok").status.code, "UNSET");
    assert_eq!(span(&spans, "v").status.code, "UNSET");
}

#[test]
fn panics_are_recorded_then_resumed() {
    let _g = memory();
    let caught = std::panic::catch_unwind(|| {
        userspan::capture("p", Attributes::new().user_id("u"), || -> u8 { panic!("model timed out") })
    });
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"model timed out"));
    let spans = userspan::finished_spans();
    let p = span(&spans, "p");
    assert_eq!(p.status.code, "ERROR");
    assert_eq!(p.status.message, "model timed out");
    assert_eq!(p.attributes["error.type"], "panic");
    // The scope was left on unwind: later spans carry no user.
    global::tracer("x").in_span("after", |_| {});
    assert!(!span(&userspan::finished_spans(), "after").attributes.contains_key("user.id"));
}

#[test]
fn scope_guard_restores_the_outer_scope() {
    let _g = memory();
    let tracer = global::tracer("x");
    {
        let _outer = userspan::enter_scope(Attributes::new().user_id("outer").tag("a"));
        {
            let _inner = userspan::enter_scope(Attributes::new().user_id("inner").tag("b"));
            tracer.in_span("in", |_| {});
        }
        tracer.in_span("out", |_| {});
    }
    tracer.in_span("none", |_| {});
    let spans = userspan::finished_spans();
    assert_eq!(span(&spans, "in").attributes["tag.tags"], json!(["a", "b"]));
    assert_eq!(span(&spans, "in").attributes["user.id"], "inner");
    assert_eq!(span(&spans, "out").attributes["user.id"], "outer");
    assert_eq!(span(&spans, "out").attributes["tag.tags"], json!(["a"]));
    assert!(span(&spans, "none").attributes.is_empty());
}

#[test]
fn concurrent_tokio_tasks_never_mix_users() {
    let _g = memory();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                tokio::spawn(userspan::capture_async(
                    format!("turn-{i}"),
                    Attributes::new().user_id(format!("user-{i}")).session_id(format!("s-{i}")),
                    async move {
                        for step in 0..3 {
                            tokio::time::sleep(std::time::Duration::from_millis((i * 7 + step) % 5)).await;
                            tokio::task::yield_now().await;
                            let mut s = global::tracer("llm").start(format!("call-{i}-{step}"));
                            s.end();
                        }
                        i
                    },
                ))
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap() as usize, i);
        }
    });
    let spans = userspan::finished_spans();
    assert_eq!(spans.len(), 64 * 4);
    for s in &spans {
        let i: &str = s.name.trim_start_matches("turn-").trim_start_matches("call-").split('-').next().unwrap();
        assert_eq!(s.attributes["user.id"], format!("user-{i}"), "span {} got another task's user", s.name);
        assert_eq!(s.attributes["session.id"], format!("s-{i}"));
    }
}

#[test]
fn async_scope_follows_awaits_and_ends_on_drop() {
    let _g = memory();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        async {
            tokio::task::yield_now().await;
            global::tracer("x").in_span("inside", |_| {});
        }
        .with_user_attributes(Attributes::new().user_id("fut-user"))
        .await;
        global::tracer("x").in_span("outside", |_| {});
        // A capture future dropped before completion still ends its span.
        let pending =
            userspan::capture_async("cancelled", Attributes::new().user_id("c"), std::future::pending::<()>());
        let _ = tokio::time::timeout(std::time::Duration::from_millis(5), pending).await;
    });
    let spans = userspan::finished_spans();
    assert_eq!(span(&spans, "inside").attributes["user.id"], "fut-user");
    assert!(!span(&spans, "outside").attributes.contains_key("user.id"));
    assert_eq!(span(&spans, "cancelled").attributes["user.id"], "c");
}

#[test]
fn async_panics_are_recorded_and_resumed() {
    let _g = memory();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let joined = rt.block_on(async {
        tokio::spawn(userspan::capture_async("async-p", Attributes::new(), async { panic!("stream broke") })).await
    });
    assert!(joined.unwrap_err().is_panic());
    let s = userspan::finished_spans();
    assert_eq!(span(&s, "async-p").status.message, "stream broke");
}

#[test]
fn invalid_user_id_type_names_the_allowed_values() {
    let err = "phone-number".parse::<UserIdType>().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("user_id_type"), "{msg}");
    assert!(msg.contains("\"email\", \"phone\", \"uuid\", \"custom\""), "{msg}");
    assert_eq!("uuid".parse::<UserIdType>().unwrap(), UserIdType::Uuid);
}

#[test]
fn truncation_is_counted_and_spans_still_flow() {
    let _g = memory();
    let before = userspan::stats();
    userspan::capture("t", Attributes::new().user_id("x".repeat(1000)), || {});
    let after = userspan::stats();
    assert_eq!(after.values_truncated - before.values_truncated, 1);
    assert_eq!(after.spans_started - before.spans_started, 1);
    assert_eq!(after.spans_exported - before.spans_exported, 1);
    assert_eq!(span(&userspan::finished_spans(), "t").attributes["user.id"].as_str().unwrap().len(), 256);
}

#[test]
fn explicit_parent_entry_points_for_bindings() {
    let _g = memory();
    let scope = userspan::Scope::nested(None, Attributes::new().user_id("b-user"));
    let root = userspan::start_span("root".into(), None, Some(&scope));
    let child_scope = userspan::Scope::nested(Some(&scope), Attributes::new().session_id("b-s"));
    let child = userspan::start_span("child".into(), Some(&root.span_context()), Some(&child_scope));
    child.end(Some(&userspan::ErrorInfo {
        type_name: "ValueError".into(),
        message: "bad".into(),
        stacktrace: Some("tb".into()),
    }));
    child.end(None); // idempotent
    root.end(None);
    // A foreign (host OTel) parent given by raw ids.
    let foreign = userspan::parent_context(0xabc, 0x123, true);
    userspan::start_span("under-foreign".into(), Some(&foreign), None).end(None);
    let spans = userspan::finished_spans();
    assert_eq!(spans.len(), 3);
    let (r, c) = (span(&spans, "root"), span(&spans, "child"));
    assert_eq!(c.parent_span_id.as_deref(), Some(r.span_id.as_str()));
    assert_eq!(c.trace_id, r.trace_id);
    assert_eq!(c.attributes["user.id"], "b-user");
    assert_eq!(c.attributes["session.id"], "b-s");
    assert_eq!(c.attributes["error.type"], "ValueError");
    assert_eq!(c.events[0].attributes["exception.stacktrace"], "tb");
    let f = span(&spans, "under-foreign");
    assert_eq!(f.trace_id, format!("{:032x}", 0xabc));
    assert_eq!(f.parent_span_id.as_deref(), Some(format!("{:016x}", 0x123).as_str()));
    assert!(
        opentelemetry::Context::current().span().span_context().trace_id() == opentelemetry::trace::TraceId::INVALID
    );
}

#[test]
fn option_name_list_is_the_order_bindings_index_and_every_name_is_accepted() {
    use userspan::{KeyStyle, OptionValue};
    for style in [KeyStyle::Snake, KeyStyle::Camel] {
        let list = style.option_name_list();
        assert_eq!(list.join(", "), style.option_names());
        assert_eq!(list.len(), 9);
        let id = Attributes::from_options([(list[0], OptionValue::Str("u-1".into()))], style).unwrap();
        assert_eq!(id.get_user_id(), Some("u-1"));
        let session = Attributes::from_options([(list[5], OptionValue::Str("s-1".into()))], style).unwrap();
        assert_eq!(session.get_session_id(), Some("s-1"));
        for name in list {
            let err = Attributes::from_options([(format!("{name}x"), OptionValue::Null)], style).unwrap_err();
            assert!(err.to_string().contains(&style.option_names()), "{err}");
        }
    }
    assert_eq!(KeyStyle::Camel.option_name_list()[..3], ["userId", "userEmail", "userIdType"]);
}

#[test]
fn set_option_by_position_validates_as_from_options_does() {
    use userspan::{KeyStyle, OptionValue};
    let style = KeyStyle::Camel;
    let list = style.option_name_list();
    // Every option set by position gives the same attributes as by name.
    let values = [
        OptionValue::Str("u-1".into()),
        OptionValue::Str("ada@example.com".into()),
        OptionValue::Str("email".into()),
        OptionValue::Str("h".into()),
        OptionValue::Map(vec![("plan".into(), OptionValue::Str("pro".into()))]),
        OptionValue::Str("s-1".into()),
        OptionValue::List(vec![
            OptionValue::Str("a".into()),
            OptionValue::Str("b".into()),
            OptionValue::Str("a".into()),
        ]),
        OptionValue::Map(vec![("k".into(), OptionValue::Int(1))]),
        OptionValue::Map(vec![("app.tier".into(), OptionValue::Str("gold".into()))]),
    ];
    let mut by_position = Attributes::new();
    for (i, v) in values.iter().enumerate() {
        by_position.set_option(i, v.clone(), style).unwrap();
    }
    let by_name = Attributes::from_options(list.iter().copied().zip(values.iter().cloned()), style).unwrap();
    assert_eq!(by_position, by_name);
    assert_eq!(by_position.get_tags().collect::<Vec<_>>(), ["a", "b"]);
    // null leaves an option as it was
    by_position.set_option(0, OptionValue::Null, style).unwrap();
    assert_eq!(by_position.get_user_id(), Some("u-1"));
    // the same errors, naming the option as the caller spells it
    let e = Attributes::new().set_option(2, OptionValue::Str("phone-number".into()), style).unwrap_err();
    assert_eq!((e.kind(), e.field()), ("value", Some("userIdType")));
    let e = Attributes::new().set_option(0, OptionValue::Int(7), style).unwrap_err();
    assert_eq!((e.kind(), e.field()), ("type", Some("userId")));
    let e = Attributes::new().set_option(list.len(), OptionValue::Str("x".into()), style).unwrap_err();
    assert_eq!(e.kind(), "unknown_option");
    assert!(e.to_string().contains(&style.option_names()), "{e}");
    // a shared string over 256 characters is cut like any other
    let mut long = Attributes::new();
    long.set_option(0, OptionValue::Str("é".repeat(300).into()), style).unwrap();
    assert_eq!(long.get_user_id().unwrap().chars().count(), 256);
}

#[test]
fn span_handle_events_status_exception_and_name_are_the_otel_span_api() {
    let _g = memory();
    let h = userspan::start_span("draft".into(), None, None);
    assert!(h.is_recording());
    h.add_event("retrieval", vec![opentelemetry::KeyValue::new("hits", 3)]);
    let err = h.set_status("BROKEN", None).unwrap_err();
    assert!(err.to_string().contains("code") && err.to_string().contains("\"UNSET\", \"OK\", \"ERROR\""), "{err}");
    h.set_status("ERROR", Some("upstream 503".into())).unwrap();
    let info = userspan::ErrorInfo {
        type_name: "TimeoutError".into(),
        message: "slow".into(),
        stacktrace: Some("at x".into()),
    };
    h.record_exception(&info);
    h.update_name("answer");
    h.end(None);
    assert!(!h.is_recording());
    let spans = userspan::finished_spans();
    let s = span(&spans, "answer");
    assert_eq!((s.status.code, s.status.message.as_str()), ("ERROR", "upstream 503"));
    assert_eq!(s.events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["retrieval", "exception"]);
    assert_eq!(s.events[0].attributes["hits"], 3);
    let ex = &s.events[1].attributes;
    assert_eq!(
        (&ex["exception.type"], &ex["exception.message"], &ex["exception.stacktrace"]),
        (&json!("TimeoutError"), &json!("slow"), &json!("at x"))
    );
    assert!(!s.attributes.contains_key("error.type"), "record_exception leaves the status and error.type alone");
}

#[test]
fn span_handle_context_parents_rust_spans_and_a_dropped_handle_ends_its_span() {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    let _g = memory();
    let h = userspan::start_span("outer".into(), None, None);
    let clone = h.clone();
    // Rust code inside the span, on any tracer, starts children of it from `context()`.
    let tracer = opentelemetry::global::tracer_provider().tracer("app");
    drop(tracer.start_with_context("inner", &h.context()));
    assert_eq!(h.context().span().span_context(), &h.span_context());
    drop(h);
    assert!(clone.is_recording(), "a clone keeps the span open");
    drop(clone); // nobody called end: the span ends when the last handle goes
    let spans = userspan::finished_spans();
    let (outer, inner) = (span(&spans, "outer"), span(&spans, "inner"));
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(inner.parent_span_id.as_deref(), Some(outer.span_id.as_str()));
}
