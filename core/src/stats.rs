//! Process-wide counters reported by [`stats()`]: what happened to telemetry, so that problems that
//! must never break the app (truncation, drops, export failures) are still visible.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Once, RwLock};

/// A snapshot of the counters. All values are counts since process start (they survive `init`
/// being called again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Spans started under a provider that has the userspan processor.
    pub spans_started: u64,
    /// Spans the exporter accepted (OTLP: the receiver answered 2xx).
    pub spans_exported: u64,
    /// Spans lost: the export queue was full, or their batch failed after all retries.
    pub spans_dropped: u64,
    /// Export calls that failed after all retries (receiver down, timeout, 4xx/5xx).
    pub export_errors: u64,
    /// Values cut to their limit (ids/session/tags over 256 chars, metadata over 4 KiB of JSON).
    pub values_truncated: u64,
    /// Feedback records ([`crate::feedback::Feedback`]) the exporter accepted (OTLP: the receiver
    /// answered 2xx; memory / console: stored / printed).
    pub feedback_sent: u64,
    /// Feedback records lost: the logs queue was full, or their batch failed after all retries.
    pub feedback_dropped: u64,
    /// Feedback comments cut to [`crate::conventions::MAX_FEEDBACK_COMMENT_BYTES`].
    pub feedback_comments_truncated: u64,
}

pub(crate) struct Counters {
    pub spans_started: AtomicU64,
    pub spans_exported: AtomicU64,
    pub spans_dropped: AtomicU64,
    pub export_errors: AtomicU64,
    pub values_truncated: AtomicU64,
    pub feedback_sent: AtomicU64,
    pub feedback_dropped: AtomicU64,
    pub feedback_comments_truncated: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    spans_started: AtomicU64::new(0),
    spans_exported: AtomicU64::new(0),
    spans_dropped: AtomicU64::new(0),
    export_errors: AtomicU64::new(0),
    values_truncated: AtomicU64::new(0),
    feedback_sent: AtomicU64::new(0),
    feedback_dropped: AtomicU64::new(0),
    feedback_comments_truncated: AtomicU64::new(0),
};

/// Returns the current counters.
pub fn stats() -> Stats {
    let c = &COUNTERS;
    Stats {
        spans_started: c.spans_started.load(Relaxed),
        spans_exported: c.spans_exported.load(Relaxed),
        spans_dropped: c.spans_dropped.load(Relaxed),
        export_errors: c.export_errors.load(Relaxed),
        values_truncated: c.values_truncated.load(Relaxed),
        feedback_sent: c.feedback_sent.load(Relaxed),
        feedback_dropped: c.feedback_dropped.load(Relaxed),
        feedback_comments_truncated: c.feedback_comments_truncated.load(Relaxed),
    }
}

/// For exporters installed with [`crate::init_with_exporter`] that send on their own (the WASM
/// package buffers spans and sends them with `fetch`): `spans` spans were accepted by the receiver.
pub fn record_exported(spans: u64) {
    COUNTERS.spans_exported.fetch_add(spans, Relaxed);
}

/// For exporters installed with [`crate::init_with_exporter`]: `spans` spans were lost without an
/// export attempt (their buffer was full, or they were discarded).
pub fn record_dropped(spans: u64) {
    COUNTERS.spans_dropped.fetch_add(spans, Relaxed);
}

/// For exporters installed with [`crate::init_with_exporter`]: one export of `spans` spans failed
/// after its retries (counted in `export_errors` and `spans_dropped`; warned about once).
pub fn record_export_error(spans: u64, error: &dyn std::fmt::Display) {
    count_export_error(spans as usize, error);
}

/// Where the core's one-time warnings go; `None` = standard error.
static WARNING_SINK: RwLock<Option<fn(&str)>> = RwLock::new(None);

/// Sends the core's warnings (the first truncated value, the first failed export: each said once
/// per process, then only counted) to `sink` instead of standard error. For hosts where stderr is
/// not seen — the WASM package routes them to `console.warn` — or that log their own way.
pub fn set_warning_sink(sink: fn(&str)) {
    if let Ok(mut s) = WARNING_SINK.write() {
        *s = Some(sink);
    }
}

fn warn(message: &str) {
    match WARNING_SINK.read().ok().and_then(|s| *s) {
        Some(sink) => sink(message),
        None => eprintln!("{message}"),
    }
}

static TRUNCATION_WARNING: Once = Once::new();

/// Counts one truncated value and warns (stderr or the warning sink) the first time in the process.
pub(crate) fn count_truncation(what: &str, limit: &str) {
    COUNTERS.values_truncated.fetch_add(1, Relaxed);
    TRUNCATION_WARNING.call_once(|| {
        warn(&format!(
            "userspan: warning: `{what}` was longer than {limit} and was truncated; \
             further truncations are only counted (see stats().values_truncated)"
        ))
    });
}

static COMMENT_WARNING: Once = Once::new();

/// Counts one truncated feedback comment and warns the first time in the process.
pub(crate) fn count_comment_truncation() {
    COUNTERS.feedback_comments_truncated.fetch_add(1, Relaxed);
    COMMENT_WARNING.call_once(|| {
        warn(&format!(
            "userspan: warning: a feedback `comment` was longer than {} bytes and was truncated; \
             further truncations are only counted (see stats().feedback_comments_truncated)",
            crate::conventions::MAX_FEEDBACK_COMMENT_BYTES
        ))
    });
}

static LOGS_EXPORT_WARNING: Once = Once::new();

/// Counts one failed feedback export of `records` records and warns the first time.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) fn count_feedback_export_error(records: usize, error: &dyn std::fmt::Display) {
    COUNTERS.export_errors.fetch_add(1, Relaxed);
    COUNTERS.feedback_dropped.fetch_add(records as u64, Relaxed);
    LOGS_EXPORT_WARNING.call_once(|| {
        warn(&format!(
            "userspan: warning: exporting feedback failed ({error}); the app is not affected, \
             further failures are only counted (see stats().feedback_dropped)"
        ))
    });
}

static EXPORT_WARNING: Once = Once::new();

/// Counts one failed export and warns (stderr or the warning sink) the first time in the process.
pub(crate) fn count_export_error(spans: usize, error: &dyn std::fmt::Display) {
    COUNTERS.export_errors.fetch_add(1, Relaxed);
    COUNTERS.spans_dropped.fetch_add(spans as u64, Relaxed);
    EXPORT_WARNING.call_once(|| {
        warn(&format!(
            "userspan: warning: exporting spans failed ({error}); the app is not affected, \
             further failures are only counted (see stats().export_errors)"
        ))
    });
}
