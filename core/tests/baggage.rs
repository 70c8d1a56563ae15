//! Opt-in W3C baggage: scopes mirror the allowed keys into the context's baggage (so an app's
//! propagator sends them on outbound calls), and spans with no scope take them from incoming
//! baggage.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::Tracer as _;
use opentelemetry::{global, Context, KeyValue};
use userspan::{Attributes, Config, ExporterKind};

#[test]
fn baggage_is_off_by_default_then_carries_only_the_allowed_keys() {
    userspan::init(Config { exporter: Some(ExporterKind::Memory), ..Default::default() }).unwrap();
    let seen = userspan::capture("default", Attributes::new().user_id("u").session_id("s"), || {
        Context::current().baggage().len()
    });
    assert_eq!(seen, 0, "no baggage unless configured: it leaks into outbound headers");

    userspan::init(Config {
        exporter: Some(ExporterKind::Memory),
        propagate_baggage: Some(vec!["user.id".into()]),
        ..Default::default()
    })
    .unwrap();
    let (user, session) = userspan::capture("opted-in", Attributes::new().user_id("u-42").session_id("s-1"), || {
        let cx = Context::current();
        (cx.baggage().get("user.id").map(|v| v.to_string()), cx.baggage().get("session.id").map(|v| v.to_string()))
    });
    assert_eq!(user.as_deref(), Some("u-42"));
    assert_eq!(session, None, "session.id was not allowed");

    // Incoming baggage (as a propagator would extract it) stamps spans that have no scope.
    let incoming =
        Context::new().with_baggage([KeyValue::new("user.id", "remote-user"), KeyValue::new("session.id", "x")]);
    let _g = incoming.attach();
    global::tracer("server").in_span("handle request", |_| {});
    let spans = userspan::finished_spans();
    let s = spans.iter().find(|s| s.name == "handle request").unwrap();
    assert_eq!(s.attributes["user.id"], "remote-user");
    assert!(!s.attributes.contains_key("session.id"));
    userspan::shutdown(std::time::Duration::from_secs(1));
}
