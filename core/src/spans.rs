//! Explicit-parent spans for the bindings: Python, Node and WASM keep context in their own
//! language's mechanism and cross into Rust once to start a span (with the parent's span context
//! and the current [`Scope`]) and once to end it.

use crate::capture::{record_error, record_exception, ErrorInfo};
use crate::error::{Error, Result};
use std::borrow::Cow;
use crate::pipeline::start_scoped;
use crate::scope::Scope;
use opentelemetry::trace::{SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};

/// A started span, owned by a binding. Ending is idempotent.
#[derive(Debug, Clone)]
pub struct SpanHandle {
    cx: Context,
}

/// Builds an in-process parent span context from raw ids (e.g. a host OTel span).
pub fn parent_context(trace_id: u128, span_id: u64, sampled: bool) -> SpanContext {
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    SpanContext::new(TraceId::from(trace_id), SpanId::from(span_id), flags, false, TraceState::NONE)
}

/// Starts span `name` as a child of `parent` (a new trace when `None` or invalid), stamped with
/// `scope`'s attributes (after the pipeline's privacy mode; by [`crate::UserAttributesProcessor`]
/// when the app owns the provider). The scope is not put in the span's [`SpanHandle::context`]:
/// children are started with `start_span` again, with the scope the binding keeps.
pub fn start_span(name: String, parent: Option<&SpanContext>, scope: Option<&Scope>) -> SpanHandle {
    let mut cx = Context::new();
    if let Some(p) = parent.filter(|p| p.is_valid()) {
        cx = cx.with_remote_span_context(p.clone());
    }
    SpanHandle { cx: start_scoped(name.into(), cx, scope) }
}

impl SpanHandle {
    /// The span's context (to parent children on).
    pub fn span_context(&self) -> SpanContext {
        self.cx.span().span_context().clone()
    }

    /// Trace id as 32 lower-case hex chars.
    pub fn trace_id(&self) -> String {
        self.cx.span().span_context().trace_id().to_string()
    }

    /// Span id as 16 lower-case hex chars.
    pub fn span_id(&self) -> String {
        self.cx.span().span_context().span_id().to_string()
    }

    /// The context holding this span (for Rust code running inside it).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Sets one attribute on the span.
    pub fn set_attribute(&self, kv: KeyValue) {
        self.cx.span().set_attribute(kv)
    }

    /// True until the span has ended (and only when it is sampled).
    pub fn is_recording(&self) -> bool {
        self.cx.span().is_recording()
    }

    /// Adds a span event `name` with `attributes`, timestamped now.
    pub fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        self.cx.span().add_event(name, attributes)
    }

    /// Sets the span status from its OpenTelemetry name: `"UNSET"`, `"OK"`, or `"ERROR"` with
    /// `description` (ignored for the others, as the OTel API says).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming `code` and the three allowed values; the status is unchanged.
    pub fn set_status(&self, code: &str, description: Option<String>) -> Result<()> {
        let status = match code {
            "UNSET" => Status::Unset,
            "OK" => Status::Ok,
            "ERROR" => Status::error(description.unwrap_or_default()),
            other => {
                return Err(Error::InvalidValue {
                    field: "code".into(),
                    allowed: "\"UNSET\", \"OK\", \"ERROR\"".into(),
                    got: format!("{other:?}"),
                })
            }
        };
        self.cx.span().set_status(status);
        Ok(())
    }

    /// Adds an `exception` event for `error` (OTel semconv: `exception.type`, `exception.message`,
    /// `exception.stacktrace`) without ending the span or changing its status — OpenTelemetry's
    /// `Span.recordException`. [`SpanHandle::end`] with an error does both.
    pub fn record_exception(&self, error: &ErrorInfo) {
        record_exception(&self.cx.span(), error)
    }

    /// Renames the span.
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        self.cx.span().update_name(name)
    }

    /// Ends the span, first recording `error` when given (see [`record_error`]). A second call
    /// does nothing.
    pub fn end(&self, error: Option<&ErrorInfo>) {
        let span = self.cx.span();
        if !span.is_recording() {
            return;
        }
        if let Some(e) = error {
            record_error(&self.cx, e);
        }
        span.end();
    }
}
