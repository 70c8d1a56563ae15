//! The buffer-and-flush pipeline for runtimes without threads.
//!
//! The core's pipeline hands each finished span (stamped) to [`BufferExporter`] synchronously
//! (a `SimpleSpanProcessor`); the exporter only appends it to a bounded buffer (drops past the
//! bound are counted). The JavaScript layer then calls [`drain`] to take a batch encoded as an
//! OTLP `ExportTraceServiceRequest` (protobuf, `opentelemetry-proto` + `prost`), sends it with
//! `fetch`, and calls [`report`] with the outcome.
//!
//! Counters: handing a span to this exporter counts as nothing in the core; this module reports
//! into the core's counters with `userspan::stats::record_*`: a span is exported when the
//! receiver answered 2xx, dropped when the buffer was full, it was discarded, or its batch failed
//! (which is also one export error).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use prost::Message;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Spans waiting to be sent, each with the resource of the pipeline that produced it.
static BUFFER: Mutex<VecDeque<(Arc<ResourceAttributesWithSchema>, SpanData)>> = Mutex::new(VecDeque::new());
/// Current bound of [`BUFFER`] (the `maxQueueSize` of the last `init`).
static CAPACITY: AtomicUsize = AtomicUsize::new(2048);

/// Buffers finished spans for [`drain`].
#[derive(Debug)]
pub(crate) struct BufferExporter {
    resource: Arc<ResourceAttributesWithSchema>,
}

impl BufferExporter {
    /// An exporter appending to the buffer, bounded at `capacity` spans from now on.
    pub(crate) fn new(capacity: usize) -> Self {
        CAPACITY.store(capacity.max(1), Relaxed);
        BufferExporter { resource: Arc::new(ResourceAttributesWithSchema::default()) }
    }
}

fn lock() -> std::sync::MutexGuard<'static, VecDeque<(Arc<ResourceAttributesWithSchema>, SpanData)>> {
    BUFFER.lock().unwrap_or_else(|e| e.into_inner())
}

impl SpanExporter for BufferExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let cap = CAPACITY.load(Relaxed);
        let mut buf = lock();
        for span in batch {
            if buf.len() >= cap {
                userspan::stats::record_dropped(1);
            } else {
                buf.push_back((self.resource.clone(), span));
            }
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Arc::new(resource.into());
    }
}

/// Spans waiting in the buffer.
pub(crate) fn buffered() -> usize {
    lock().len()
}

/// Takes up to `max` spans (oldest first, all from the same pipeline) and encodes them as one
/// OTLP/protobuf `ExportTraceServiceRequest`. Returns the bytes and the span count, or `None`
/// when the buffer is empty.
pub(crate) fn drain(max: usize) -> Option<(Vec<u8>, usize)> {
    let (resource, spans) = {
        let mut buf = lock();
        let resource = buf.front()?.0.clone();
        let mut spans = Vec::with_capacity(max.min(buf.len()));
        while spans.len() < max.max(1) {
            match buf.front() {
                Some((r, _)) if Arc::ptr_eq(r, &resource) => spans.push(buf.pop_front().expect("front exists").1),
                _ => break,
            }
        }
        (resource, spans)
    };
    let n = spans.len();
    let resource_spans: Vec<ResourceSpans> = group_spans_by_resource_and_scope(spans, &resource);
    Some((ExportTraceServiceRequest { resource_spans }.encode_to_vec(), n))
}

/// Records the outcome of sending `spans` spans in the core's counters.
pub(crate) fn report(spans: u64, ok: bool) {
    if ok {
        userspan::stats::record_exported(spans);
    } else {
        userspan::stats::record_export_error(
            spans,
            &"the OTLP request failed (network error, timeout or non-2xx after retries)",
        );
    }
}

/// Forgets buffered spans without sending them (counted as dropped).
pub(crate) fn discard() -> usize {
    let mut buf = lock();
    let n = buf.len();
    buf.clear();
    userspan::stats::record_dropped(n as u64);
    n
}
