//! Span processors: [`UserAttributesSpanProcessor`] (alone or in front of an exporting processor, as
//! [`Stamping`]) stamps the current scope's attributes on every
//! span at start (from the span's parent context, so spans of *any* tracer under the provider are
//! stamped), and the export queue gate that bounds memory and counts drops.

use crate::privacy::Privacy;
use crate::scope::Scope;
use crate::stats::COUNTERS;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::Span as _;
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Stamps `user.id`, `session.id`, tags, metadata ... from the [`Scope`] in the span's parent
/// context, after the privacy mode. Add it first to a `TracerProvider` you own (for example with
/// `tracing-opentelemetry`); [`crate::init`] adds it for you.
///
/// When a baggage allow-list is set, a span with no scope takes the allowed keys (`user.id`,
/// `session.id`) from the W3C baggage of its parent context instead.
#[derive(Debug, Default)]
pub struct UserAttributesSpanProcessor {
    privacy: Privacy,
    baggage_keys: Vec<&'static str>,
}

impl UserAttributesSpanProcessor {
    /// A processor that stamps ids as given (no hashing).
    pub fn new() -> Self {
        Self::default()
    }

    /// A processor applying `privacy` (see [`crate::Privacy::new`]).
    pub fn with_privacy(privacy: Privacy) -> Self {
        UserAttributesSpanProcessor { privacy, baggage_keys: Vec::new() }
    }

    /// Also read these keys (`user.id`, `session.id`) from incoming W3C baggage.
    pub fn with_baggage_keys(mut self, keys: Vec<&'static str>) -> Self {
        self.baggage_keys = keys;
        self
    }

    /// This processor in front of `inner` (your exporting processor), as **one** processor: spans
    /// are stamped at start, then `inner` sees every call. Prefer it to adding both to the
    /// provider: the OpenTelemetry SDK copies each ended span's data once per processor when a
    /// provider has several, and this one needs none of it.
    pub fn then<P: SpanProcessor>(self, inner: P) -> Stamping<P> {
        Stamping { stamp: self, inner }
    }
}

/// The former name of [`UserAttributesSpanProcessor`], kept so existing code builds: the same type.
///
/// ```
/// #![allow(deprecated)]
/// let old: userspan::UserAttributesSpanProcessor = userspan::UserAttributesProcessor::new();
/// # let _ = old;
/// ```
#[deprecated(note = "renamed `UserAttributesSpanProcessor`, the name the Python and Node packages use")]
pub type UserAttributesProcessor = UserAttributesSpanProcessor;

/// [`UserAttributesSpanProcessor`] followed by another processor; see [`UserAttributesSpanProcessor::then`].
#[derive(Debug)]
pub struct Stamping<P> {
    stamp: UserAttributesSpanProcessor,
    inner: P,
}

impl<P: SpanProcessor> SpanProcessor for Stamping<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.stamp.on_start(span, cx);
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.inner.on_end(span)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource)
    }
}

/// A shared processor as a [`SpanProcessor`] (the pipeline picks its exporting processor at run
/// time and also hands host spans to it, [`crate::export_host_spans`]). Its resource is set
/// before it is shared: `set_resource` here does nothing.
#[derive(Debug)]
pub(crate) struct Dyn(pub std::sync::Arc<dyn SpanProcessor>);

impl SpanProcessor for Dyn {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx)
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, _resource: &opentelemetry_sdk::Resource) {}
}

impl SpanProcessor for UserAttributesSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        COUNTERS.spans_started.fetch_add(1, Ordering::Relaxed);
        if let Some(scope) = cx.get::<Scope>() {
            scope.for_each_key_value(&self.privacy, |kv| span.set_attribute(kv));
        } else if !self.baggage_keys.is_empty() {
            let baggage = cx.baggage();
            for key in &self.baggage_keys {
                if let Some(v) = baggage.get(*key) {
                    span.set_attribute(KeyValue::new(Key::from_static_str(key), v.clone()));
                }
            }
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[cfg(feature = "otlp")]
pub(crate) use queue::QueueGate;

#[cfg(feature = "otlp")]
mod queue {
    use crate::stats::COUNTERS;
    use opentelemetry::Context;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
    use opentelemetry_sdk::Resource;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Bounds the spans waiting for export: a span that would make more than `max` spans in flight
    /// (queued, batched or being sent) is dropped and counted in `spans_dropped`; the app never
    /// waits. The exporter side decrements `in_flight` when a batch is done ([`crate::export`]).
    #[derive(Debug)]
    pub(crate) struct QueueGate<P: SpanProcessor> {
        pub inner: P,
        pub in_flight: Arc<AtomicUsize>,
        pub max: usize,
    }

    impl<P: SpanProcessor> SpanProcessor for QueueGate<P> {
        fn on_start(&self, span: &mut Span, cx: &Context) {
            self.inner.on_start(span, cx)
        }

        fn on_end(&self, span: SpanData) {
            if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                COUNTERS.spans_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.inner.on_end(span)
        }

        fn force_flush(&self) -> OTelSdkResult {
            self.inner.force_flush()
        }

        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }

        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource)
        }
    }
}
