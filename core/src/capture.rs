//! `capture(name, attributes, f)`: a span around `f` with a scope open for the whole of `f`.
//!
//! The span is a child of the current span (same trace) and carries the merged scope
//! attributes (stamped by [`crate::UserAttributesSpanProcessor`]). `f`'s value is returned unchanged.
//! An `Err` (with [`try_capture`]) or a panic is recorded as OTel semconv says for exceptions: an
//! `exception` event (`exception.type`, `exception.message`), status ERROR and `error.type`; the
//! `Err` is returned and the panic resumed, unchanged.

use crate::attributes::Attributes;
use crate::conventions::{
    ERROR_TYPE, EXCEPTION_EVENT, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE, USER_ID,
};
use crate::pipeline::{baggage_enabled, baggage_keys, start_in};
use crate::scope::Scope;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

/// What is known about a failure, for [`record_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `exception.type` and `error.type`: the error's class / type name.
    pub type_name: String,
    /// `exception.message`.
    pub message: String,
    /// `exception.stacktrace`, when the host has one.
    pub stacktrace: Option<String>,
}

/// Records a failure on the span of `cx`: `exception` event, status ERROR (description = message),
/// `error.type` attribute.
pub fn record_error(cx: &Context, e: &ErrorInfo) {
    let span = cx.span();
    span.add_event(EXCEPTION_EVENT, exception_event(e));
    span.set_attribute(KeyValue::new(ERROR_TYPE, e.type_name.clone()));
    span.set_status(Status::error(e.message.clone()));
}

/// The attributes of the OTel semconv `exception` event for `e`: `exception.type`,
/// `exception.message`, and `exception.stacktrace` when there is one.
pub(crate) fn exception_event(e: &ErrorInfo) -> Vec<KeyValue> {
    let mut attrs =
        vec![KeyValue::new(EXCEPTION_TYPE, e.type_name.clone()), KeyValue::new(EXCEPTION_MESSAGE, e.message.clone())];
    if let Some(st) = &e.stacktrace {
        attrs.push(KeyValue::new(EXCEPTION_STACKTRACE, st.clone()));
    }
    attrs
}

fn panic_info(payload: &(dyn std::any::Any + Send)) -> ErrorInfo {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string());
    ErrorInfo { type_name: "panic".into(), message, stacktrace: None }
}

fn error_info<E: Display>(e: &E) -> ErrorInfo {
    ErrorInfo { type_name: std::any::type_name::<E>().to_string(), message: e.to_string(), stacktrace: None }
}

/// Starts the capture span under the current context and returns the context to run `f` in
/// (the span current, the merged scope set, allowed keys mirrored to baggage).
pub(crate) fn start(name: Cow<'static, str>, attributes: Attributes) -> Context {
    let parent = Context::current();
    let scope = Scope::nested(parent.get::<Scope>(), attributes);
    let cx = if baggage_enabled() {
        with_baggage(parent.with_value(scope.clone()), &scope)
    } else {
        parent.with_value(scope)
    };
    start_in(name, cx)
}

fn with_baggage(cx: Context, scope: &Scope) -> Context {
    let a = scope.attributes();
    let entries: Vec<KeyValue> = baggage_keys()
        .filter_map(|k| {
            let v = if k == USER_ID { a.get_user_id() } else { a.get_session_id() };
            v.map(|v| KeyValue::new(k, v.to_string()))
        })
        .collect();
    if entries.is_empty() {
        cx
    } else {
        let mut all: Vec<KeyValue> =
            cx.baggage().iter().map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone())).collect();
        all.extend(entries);
        cx.with_baggage(all)
    }
}

/// Runs `f` in a span `name` with `attributes` as the scope; returns `f`'s value unchanged.
/// A panic in `f` is recorded on the span and resumed.
///
/// ```
/// use userspan::{capture, Attributes};
/// let answer = capture("support-agent-turn", Attributes::new().user_id("u-1"), || 42);
/// assert_eq!(answer, 42);
/// ```
pub fn capture<T>(name: impl Into<Cow<'static, str>>, attributes: Attributes, f: impl FnOnce() -> T) -> T {
    let cx = start(name.into(), attributes);
    let guard = cx.clone().attach();
    let out = catch_unwind(AssertUnwindSafe(f));
    drop(guard);
    finish(&cx, out)
}

/// [`capture`] for fallible work: an `Err` marks the span ERROR (`error.type` = the error's Rust
/// type name, `exception.message` = its `Display`) and is returned unchanged.
pub fn try_capture<T, E: Display>(
    name: impl Into<Cow<'static, str>>,
    attributes: Attributes,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    capture(name, attributes, || {
        let r = f();
        if let Err(e) = &r {
            record_error(&Context::current(), &error_info(e));
        }
        r
    })
}

fn finish<T>(cx: &Context, out: std::thread::Result<T>) -> T {
    match out {
        Ok(v) => {
            cx.span().end();
            v
        }
        Err(payload) => {
            record_error(cx, &panic_info(&*payload));
            cx.span().end();
            resume_unwind(payload)
        }
    }
}

/// Ends the span if the future is dropped before completing (cancellation).
struct EndOnDrop(Context);
impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.span().end();
    }
}

struct CatchUnwind<F>(Pin<Box<F>>);
impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

/// Async twin of [`capture`]: the span starts now (parent = the current span), the scope follows
/// `fut` across every `.await` on any executor, and the span ends when `fut` completes, panics
/// (recorded, then resumed) or is dropped.
pub fn capture_async<F: Future>(
    name: impl Into<Cow<'static, str>>,
    attributes: Attributes,
    fut: F,
) -> impl Future<Output = F::Output> {
    let cx = start(name.into(), attributes);
    async move {
        let ender = EndOnDrop(cx.clone());
        let out = CatchUnwind(Box::pin(fut.with_context(cx.clone()))).await;
        let value = finish(&cx, out);
        drop(ender); // the span has ended already; ending again is a no-op
        value
    }
}

/// Async twin of [`try_capture`].
pub fn try_capture_async<T, E: Display, F: Future<Output = Result<T, E>>>(
    name: impl Into<Cow<'static, str>>,
    attributes: Attributes,
    fut: F,
) -> impl Future<Output = Result<T, E>> {
    capture_async(name, attributes, async move {
        let r = fut.await;
        if let Err(e) = &r {
            record_error(&Context::current(), &error_info(e));
        }
        r
    })
}
