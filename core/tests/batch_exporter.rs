//! `init_with_batch_exporter`: the app's exporter behind the SDK's batch processor, with the same
//! bounded queue as the OTLP path: stamped spans arrive in batches on another thread, a full queue
//! drops (never blocks) and counts, accepted batches count as exported, failed ones as errors.

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use userspan::{Attributes, Config};

#[derive(Debug, Clone, Default)]
struct Gated {
    gate: Arc<Mutex<()>>,
    got: Arc<Mutex<Vec<SpanData>>>,
    fail: Arc<AtomicBool>,
}

impl SpanExporter for Gated {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let _open = self.gate.lock().unwrap(); // blocks the batch thread while the test holds it
        if self.fail.load(Ordering::SeqCst) {
            return Err(OTelSdkError::InternalFailure("sink refused".into()));
        }
        self.got.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn user(s: &SpanData) -> Option<String> {
    s.attributes.iter().find(|kv| kv.key.as_str() == "user.id").map(|kv| kv.value.to_string())
}

#[test]
fn batched_custom_exporter_is_bounded_counted_and_stamped() {
    let sink = Gated::default();
    let config = Config {
        max_queue_size: Some(4),
        max_export_batch_size: Some(2),
        scheduled_delay: Some(Duration::from_millis(10)),
        ..Default::default()
    };
    userspan::init_with_batch_exporter(config, sink.clone()).unwrap();
    let before = userspan::stats();

    // The exporter is stuck: at most 4 spans may be in flight, the other 6 are dropped at once.
    let held = sink.gate.lock().unwrap();
    for i in 0..10 {
        userspan::capture("turn", Attributes::new().user_id(format!("u-{i}")), || {});
    }
    let during = userspan::stats();
    assert_eq!(during.spans_dropped - before.spans_dropped, 6, "the app never waits for a stuck exporter");
    drop(held);
    assert!(userspan::flush(Duration::from_secs(5)));
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(got.iter().map(user).collect::<Vec<_>>(), (0..4).map(|i| Some(format!("u-{i}"))).collect::<Vec<_>>());
    let after = userspan::stats();
    assert_eq!(after.spans_exported - before.spans_exported, 4);
    assert_eq!(after.export_errors, before.export_errors);

    // A refused batch is an export error, not an exported span; the queue frees up again.
    sink.fail.store(true, Ordering::SeqCst);
    userspan::capture("turn", Attributes::new().user_id("u-refused"), || {});
    userspan::flush(Duration::from_secs(5));
    let refused = userspan::stats();
    assert_eq!(refused.spans_exported, after.spans_exported);
    assert!(refused.export_errors > after.export_errors);
    sink.fail.store(false, Ordering::SeqCst);
    userspan::capture("turn", Attributes::new().user_id("u-after"), || {});
    assert!(userspan::flush(Duration::from_secs(5)));
    assert_eq!(user(sink.got.lock().unwrap().last().unwrap()).as_deref(), Some("u-after"));
    assert_eq!(userspan::stats().spans_exported - refused.spans_exported, 1);
    userspan::shutdown(Duration::from_secs(1));
}
