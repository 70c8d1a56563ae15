//! `init_with_exporter`: the app's exporter gets stamped spans synchronously and reports what
//! became of them into `stats()` itself.

mod common;

use common::Collect;
use opentelemetry_sdk::trace::SpanData;
use userspan::{Attributes, Config};

#[test]
fn a_custom_exporter_gets_stamped_spans_and_reports_its_own_outcomes() {
    let sink = Collect::default();
    userspan::init_with_exporter(Config::default(), sink.clone()).unwrap();
    let before = userspan::stats();
    for i in 0..3 {
        userspan::capture("turn", Attributes::new().user_id(format!("u-{i}")), || {});
    }
    let spans = sink.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 3, "handed over synchronously as they end");
    let user =
        |s: &SpanData| s.attributes.iter().find(|kv| kv.key.as_str() == "user.id").map(|kv| kv.value.to_string());
    assert_eq!(
        spans.iter().map(user).collect::<Vec<_>>(),
        [Some("u-0".into()), Some("u-1".into()), Some("u-2".into())]
    );
    let handed = userspan::stats();
    assert_eq!(handed.spans_exported, before.spans_exported, "buffering is not exporting");
    assert_eq!(handed.spans_started - before.spans_started, 3);

    userspan::stats::record_exported(2);
    userspan::stats::record_export_error(1, &"503 after retries");
    userspan::stats::record_dropped(4);
    let after = userspan::stats();
    assert_eq!(after.spans_exported - before.spans_exported, 2);
    assert_eq!(after.export_errors - before.export_errors, 1);
    assert_eq!(after.spans_dropped - before.spans_dropped, 5);
    userspan::shutdown(std::time::Duration::from_secs(1));
}
