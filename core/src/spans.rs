//! Explicit-parent spans for the bindings: Python, Node and WASM keep context in their own
//! language's mechanism and cross into Rust once to start a span (with the parent's span context
//! and the current [`Scope`]) and once to end it.

use crate::capture::{exception_event, ErrorInfo};
use crate::conventions::{ERROR_TYPE, EXCEPTION_EVENT};
use crate::error::{Error, Result};
use crate::pipeline::{start_scoped, StartedSpan};
use crate::scope::Scope;
use opentelemetry::trace::{Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// A started span, owned by a binding. Cheap to clone (an `Arc`); ending is idempotent, and the
/// span ends when the last clone is dropped if nobody ended it.
#[derive(Debug, Clone)]
pub struct SpanHandle(Arc<Handle>);

#[derive(Debug)]
struct Handle {
    span_context: SpanContext,
    // The span itself, not a `Context` holding it: a context would box the span and put the box
    // behind one more `Arc`, two allocations per span the bindings never use.
    span: Mutex<StartedSpan>,
}

/// Runs `$body` with `$s` bound to the handle's span, whichever tracer started it.
macro_rules! on_span {
    ($handle:expr, |$s:ident| $body:expr) => {{
        let mut guard = $handle.0.span.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *guard {
            StartedSpan::Sdk($s) => $body,
            StartedSpan::Global($s) => $body,
        }
    }};
}

/// Builds an in-process parent span context from raw ids (e.g. a host OTel span).
pub fn parent_context(trace_id: u128, span_id: u64, sampled: bool) -> SpanContext {
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    SpanContext::new(TraceId::from(trace_id), SpanId::from(span_id), flags, false, TraceState::NONE)
}

/// Starts span `name` as a child of `parent` (a new trace when `None` or invalid), stamped with
/// `scope`'s attributes (after the pipeline's privacy mode; by [`crate::UserAttributesSpanProcessor`]
/// when the app owns the provider). The scope is not kept with the span: children are started
/// with `start_span` again, with the scope the binding keeps.
pub fn start_span(name: String, parent: Option<&SpanContext>, scope: Option<&Scope>) -> SpanHandle {
    let mut cx = Context::new();
    if let Some(p) = parent.filter(|p| p.is_valid()) {
        cx = cx.with_remote_span_context(p.clone());
    }
    let span = start_scoped(name.into(), cx, scope);
    let span_context = match &span {
        StartedSpan::Sdk(s) => s.span_context().clone(),
        StartedSpan::Global(s) => s.span_context().clone(),
    };
    SpanHandle(Arc::new(Handle { span_context, span: Mutex::new(span) }))
}

impl SpanHandle {
    /// The span's context (to parent children on).
    pub fn span_context(&self) -> SpanContext {
        self.0.span_context.clone()
    }

    /// Trace id as 32 lower-case hex chars.
    pub fn trace_id(&self) -> String {
        self.0.span_context.trace_id().to_string()
    }

    /// Span id as 16 lower-case hex chars.
    pub fn span_id(&self) -> String {
        self.0.span_context.span_id().to_string()
    }

    /// A context whose current span is this one's span context (for Rust code running inside
    /// it: spans started in it are this span's children). The span itself stays with the handle.
    pub fn context(&self) -> Context {
        Context::new().with_remote_span_context(self.0.span_context.clone())
    }

    /// Sets one attribute on the span.
    pub fn set_attribute(&self, kv: KeyValue) {
        on_span!(self, |s| s.set_attribute(kv))
    }

    /// True until the span has ended (and only when it is sampled).
    pub fn is_recording(&self) -> bool {
        on_span!(self, |s| s.is_recording())
    }

    /// Adds a span event `name` with `attributes`, timestamped now.
    pub fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        on_span!(self, |s| s.add_event(name, attributes))
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
        on_span!(self, |s| s.set_status(status.clone()));
        Ok(())
    }

    /// Adds an `exception` event for `error` (OTel semconv: `exception.type`, `exception.message`,
    /// `exception.stacktrace`) without ending the span or changing its status — OpenTelemetry's
    /// `Span.recordException`. [`SpanHandle::end`] with an error does both.
    pub fn record_exception(&self, error: &ErrorInfo) {
        on_span!(self, |s| s.add_event(EXCEPTION_EVENT, exception_event(error)))
    }

    /// Renames the span.
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        on_span!(self, |s| s.update_name(name))
    }

    /// Ends the span, first recording `error` when given (as [`crate::record_error`] does: an
    /// `exception` event, `error.type`, status ERROR). A second call does nothing.
    pub fn end(&self, error: Option<&ErrorInfo>) {
        on_span!(self, |s| {
            if !s.is_recording() {
                return;
            }
            if let Some(e) = error {
                s.add_event(EXCEPTION_EVENT, exception_event(e));
                s.set_attribute(KeyValue::new(ERROR_TYPE, e.type_name.clone()));
                s.set_status(Status::error(e.message.clone()));
            }
            s.end();
        })
    }
}
