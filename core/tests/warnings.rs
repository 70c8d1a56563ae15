//! The core's one-time warnings go to the sink a host installs (the WASM package: console.warn),
//! once per kind per process, while every occurrence is counted.

use std::sync::Mutex;
use userspan::Attributes;

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn collect(message: &str) {
    SEEN.lock().unwrap().push(message.to_string());
}

#[test]
fn warnings_reach_the_installed_sink_once_and_every_case_is_counted() {
    userspan::stats::set_warning_sink(collect);
    let before = userspan::stats().values_truncated;
    for _ in 0..3 {
        let _ = Attributes::new().user_id("x".repeat(300));
    }
    userspan::stats::record_export_error(2, &"receiver answered 503");
    userspan::stats::record_export_error(1, &"again");
    assert_eq!(userspan::stats().values_truncated - before, 3);
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].contains("`user_id` was longer than 256 characters"), "{}", seen[0]);
    assert!(seen[1].contains("exporting spans failed (receiver answered 503)"), "{}", seen[1]);
}
