//! `reinit_after_fork` (what a forked child calls; called in-process here, which is all it sees):
//! a pipeline built from the configuration is rebuilt from it, the app's synchronous exporter is
//! kept, and the app's batched exporter, which cannot be rebuilt, is reported instead of being
//! swapped for the configured one.

mod common;

use common::Collect;
use std::time::Duration;
use userspan::{Attributes, Config, ExporterKind};

fn names(sink: &Collect) -> Vec<String> {
    sink.0.lock().unwrap().iter().map(|s| s.name.to_string()).collect()
}

fn turn(name: &'static str) {
    userspan::capture(name, Attributes::new().user_id("u-fork"), || {});
}

#[test]
fn reinit_after_fork_rebuilds_keeps_or_reports_the_exporter() {
    // The app's synchronous exporter: no thread to lose, so the child keeps it.
    let sink = Collect::default();
    userspan::init_with_exporter(Config::default(), sink.clone()).unwrap();
    turn("before-fork");
    userspan::reinit_after_fork().unwrap();
    turn("after-fork");
    assert_eq!(names(&sink), ["before-fork", "after-fork"]);

    // The app's batched exporter: its thread is the parent's; the child is told what to do.
    let batched = Collect::default();
    userspan::init_with_batch_exporter(Config::default(), batched.clone()).unwrap();
    let err = userspan::reinit_after_fork().unwrap_err();
    assert!(err.to_string().contains("call init_with_batch_exporter again in the child"), "{err}");
    turn("orphan");
    userspan::init_with_batch_exporter(Config::default(), batched.clone()).unwrap();
    turn("re-initialised");
    assert!(userspan::flush(Duration::from_secs(5)));
    assert_eq!(names(&batched), ["re-initialised"]);
    assert_eq!(names(&sink), ["before-fork", "after-fork"]);

    // Built from the configuration: rebuilt from it (a fresh memory exporter).
    userspan::init(Config { exporter: Some(ExporterKind::Memory), ..Default::default() }).unwrap();
    turn("parent");
    userspan::reinit_after_fork().unwrap();
    turn("child");
    let finished: Vec<String> = userspan::finished_spans().into_iter().map(|s| s.name).collect();
    assert_eq!(finished, ["child"]);
}
