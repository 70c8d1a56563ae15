//! # userspan
//!
//! Attribute LLM-application telemetry to the **end users** of the application. Wrap work in
//! [`capture`] (or open a scope with [`enter_scope`] / [`with_scope`]) and every OpenTelemetry span
//! started inside — from userspan or from any other tracer under the provider — carries the user's
//! identity (`user.id`, `user.email`, `session.id`, tags, metadata; OTel semconv and OpenInference
//! keys, see [`conventions`]). Spans leave over OTLP to the reference receiver or any OTLP backend.
//!
//! ```no_run
//! use userspan::{capture, init, Attributes, Config};
//!
//! init(Config { service_name: Some("support-bot".into()), ..Default::default() })?;
//! let reply = capture(
//!     "support-agent-turn",
//!     Attributes::new().user_id("user-42").user_email("ada@example.com").session_id("conv-7"),
//!     || "hello".to_string(),
//! );
//! userspan::shutdown(std::time::Duration::from_secs(5));
//! # Ok::<(), userspan::Error>(())
//! ```
//!
//! Bad input policy: invalid options are an [`Error`] at the call (before any user code runs);
//! over-long values are truncated and counted; export failures never reach the app and are
//! counted in [`stats()`].
//!
//! The Python, Node and WASM packages are bindings over this crate: they call
//! [`Attributes::from_options`], [`Scope`], [`start_span`] and [`SpanHandle::end`] and nothing
//! else holds behaviour.

pub mod attributes;
pub mod capture;
pub mod config;
pub mod conventions;
pub mod error;
pub mod export;
pub mod feedback;
pub mod host_span;
mod pipeline;
pub mod privacy;
pub mod processor;
pub mod sampler;
pub mod scope;
pub mod spans;
pub mod stats;
pub mod tls;
pub mod usage;

pub use attributes::{Attributes, KeyStyle, OptionValue, UserIdType};
pub use capture::{capture, capture_async, record_error, try_capture, try_capture_async, ErrorInfo};
pub use config::{Compat, Compression, Config, ExporterKind, Protocol, ResolvedConfig};
pub use error::{Error, Result};
pub use export::{ConsoleExporter, FinishedEvent, FinishedSpan, FinishedStatus, MemoryExporter};
pub use feedback::{feedback_from_options, finished_feedback, span_ref, Feedback, FeedbackSource, FinishedFeedback};
pub use host_span::{export_host_spans, host_export_active, HostEvent, HostLink, HostScope, HostSpan};
#[cfg(feature = "otlp")]
pub use pipeline::init_with_batch_exporter;
pub use pipeline::{
    clear_finished_spans, current_privacy, finished_spans, flush, init, init_with_exporter, reinit_after_fork,
    shutdown, DEFAULT_FLUSH_TIMEOUT,
};
pub use privacy::{Privacy, UserIdHashing};
#[allow(deprecated)]
pub use processor::UserAttributesProcessor;
pub use processor::{Stamping, UserAttributesSpanProcessor};
pub use sampler::SamplerKind;
pub use scope::{enter_scope, with_scope, Scope, ScopeFutureExt};
pub use spans::{parent_context, start_span, SpanHandle};
pub use stats::{stats, Stats};
pub use usage::{record_usage, record_usage_on, Usage};

/// The OpenTelemetry API crate this crate is built on (same version), so an app can name
/// `userspan::opentelemetry::KeyValue`, tracers and contexts without its own dependency.
pub use opentelemetry;
