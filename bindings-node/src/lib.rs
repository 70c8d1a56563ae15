//! Native half of the npm package `userspan`: a thin napi-rs layer over the `userspan` core.
//!
//! The TypeScript layer (`src/ts/`) is the public API; this module is private. It crosses into
//! Rust once per span start ([`start_span`] / [`start_span_in`]), once per end ([`Frame::end`] /
//! [`Frame::end_with_error`]) and once per attribute scope ([`enter_scope`]). All behaviour —
//! validation, merging, stamping, export — is the core's.

#![deny(clippy::all)]

mod convert;
mod errors;

use errors::OrThrow;
use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::{Env, JsValue, Result, Task};
use napi_derive::napi;
use serde_json::{Map, Value as Json};
use std::time::Duration;
use userspan::{Attributes, Config, ErrorInfo, KeyStyle, OptionValue, Scope, SpanHandle};

/// Reads a host options object (`undefined`/`null` = none) as `(key, value)` pairs.
fn option_entries(env: &Env, options: &Unknown, what: &str) -> Result<Vec<(String, OptionValue)>> {
    let raw_env = env.raw();
    let raw = options.raw();
    match unsafe { convert::option_value(raw_env, raw, 0) }? {
        OptionValue::Null => Ok(Vec::new()),
        OptionValue::Map(entries) => Ok(entries),
        other => Err(errors::to_js(
            env,
            &userspan::Error::InvalidType {
                field: what.into(),
                expected: "an object".into(),
                got: describe(&other),
            },
        )),
    }
}

fn describe(v: &OptionValue) -> String {
    match v {
        OptionValue::Null => "null".into(),
        OptionValue::Bool(_) => "a boolean".into(),
        OptionValue::Int(_) | OptionValue::Float(_) => "a number".into(),
        OptionValue::Str(_) => "a string".into(),
        OptionValue::List(_) => "an array".into(),
        OptionValue::Map(_) => "an object".into(),
        OptionValue::Other(t) => format!("an object of type {t}"),
    }
}

fn attributes(env: &Env, options: &Unknown) -> Result<Attributes> {
    Attributes::from_options(option_entries(env, options, "options")?, KeyStyle::Camel).or_throw(env)
}

/// The scope a frame opened with `options` inside `outer` holds (no new scope when nothing is set).
fn scope_for(outer: Option<&Frame>, attrs: Attributes) -> Option<Scope> {
    let outer_scope = outer.and_then(|f| f.scope.as_ref());
    if attrs.is_empty() {
        outer_scope.cloned()
    } else {
        Some(Scope::nested(outer_scope, attrs))
    }
}

/// What the TypeScript layer keeps in its `AsyncLocalStorage`: the merged scope and the current
/// span (this frame's own for a capture, the outer one for an attribute scope).
#[napi]
pub struct Frame {
    scope: Option<Scope>,
    span: Option<SpanHandle>,
    owns_span: bool,
}

/// `{traceId, spanId, traceFlags}` of a frame's span (OTel JS `SpanContext` shape).
#[napi(object)]
pub struct SpanIds {
    /// 32 lower-case hex chars.
    pub trace_id: String,
    /// 16 lower-case hex chars.
    pub span_id: String,
    /// 1 when sampled, else 0.
    pub trace_flags: u32,
}

#[napi]
impl Frame {
    /// Ends the frame's span (captures only; idempotent).
    #[napi]
    pub fn end(&self) {
        if let (true, Some(span)) = (self.owns_span, &self.span) {
            span.end(None);
        }
    }

    /// Records the failure (exception event, status ERROR, `error.type`) and ends the span.
    #[napi]
    pub fn end_with_error(&self, type_name: String, message: String, stacktrace: Option<String>) {
        if let (true, Some(span)) = (self.owns_span, &self.span) {
            span.end(Some(&ErrorInfo { type_name, message, stacktrace }));
        }
    }

    /// The ids of the current span, `null` outside any span.
    #[napi]
    pub fn span_ids(&self) -> Option<SpanIds> {
        self.span.as_ref().map(|s| {
            let sc = s.span_context();
            SpanIds {
                trace_id: sc.trace_id().to_string(),
                span_id: sc.span_id().to_string(),
                trace_flags: u32::from(sc.is_sampled()),
            }
        })
    }

    /// The merged scope as options (camelCase), for `getAttributes()`.
    #[napi]
    pub fn attributes(&self) -> Json {
        Json::Object(self.scope.as_ref().map(|s| s.attributes().to_options(KeyStyle::Camel)).unwrap_or_default())
    }

    /// Sets one attribute on the frame's span, validated as an entry of the `attributes` option
    /// (string, number, boolean or a homogeneous array of those).
    #[napi]
    pub fn set_attribute(&self, env: &Env, key: String, value: Unknown) -> Result<()> {
        let Some(span) = &self.span else { return Ok(()) };
        let v = unsafe { convert::option_value(env.raw(), value.raw(), 1) }?;
        let attrs = Attributes::from_options(
            [("attributes".to_string(), OptionValue::Map(vec![(key, v)]))],
            KeyStyle::Camel,
        )
        .or_throw(env)?;
        for kv in attrs.render(&userspan::Privacy::off()) {
            span.set_attribute(kv);
        }
        Ok(())
    }
}

/// Starts span `name` as a child of `outer`'s span, with `options` merged over `outer`'s scope.
/// Validation errors are thrown before anything starts.
#[napi]
pub fn start_span(env: &Env, name: String, options: Unknown, outer: Option<&Frame>) -> Result<Frame> {
    let attrs = attributes(env, &options)?;
    let scope = scope_for(outer, attrs);
    let parent = outer.and_then(|f| f.span.as_ref()).map(SpanHandle::span_context);
    let span = userspan::start_span(name, parent.as_ref(), scope.as_ref());
    Ok(Frame { scope, span: Some(span), owns_span: true })
}

/// [`start_span`] with an explicit parent from OpenTelemetry JS (hex ids).
#[napi]
pub fn start_span_in(
    env: &Env,
    name: String,
    options: Unknown,
    outer: Option<&Frame>,
    trace_id: String,
    span_id: String,
    sampled: bool,
) -> Result<Frame> {
    let attrs = attributes(env, &options)?;
    let scope = scope_for(outer, attrs);
    let parent = match (u128::from_str_radix(&trace_id, 16), u64::from_str_radix(&span_id, 16)) {
        (Ok(t), Ok(s)) => Some(userspan::parent_context(t, s, sampled)),
        _ => outer.and_then(|f| f.span.as_ref()).map(SpanHandle::span_context),
    };
    let span = userspan::start_span(name, parent.as_ref(), scope.as_ref());
    Ok(Frame { scope, span: Some(span), owns_span: true })
}

/// An attribute scope (no span of its own): `options` merged over `outer`'s scope.
#[napi]
pub fn enter_scope(env: &Env, options: Unknown, outer: Option<&Frame>) -> Result<Frame> {
    let attrs = attributes(env, &options)?;
    Ok(Frame {
        scope: scope_for(outer, attrs),
        span: outer.and_then(|f| f.span.clone()),
        owns_span: false,
    })
}

/// Renders scopes for OpenTelemetry JS spans (`UserAttributesSpanProcessor`) under one privacy mode.
#[napi]
pub struct Stamper {
    privacy: userspan::Privacy,
}

#[napi]
impl Stamper {
    /// `options`: `{ userIdHashing?, hashKey? }`; unset ones come from `USERSPAN_USER_ID_HASHING` /
    /// `USERSPAN_HASH_KEY`.
    #[napi(constructor)]
    pub fn new(env: &Env, options: Unknown) -> Result<Self> {
        let entries = option_entries(env, &options, "options")?;
        if let Some((key, _)) = entries.iter().find(|(k, _)| k != "userIdHashing" && k != "hashKey") {
            return Err(errors::to_js(
                env,
                &userspan::Error::UnknownOption { field: key.clone(), allowed: "userIdHashing, hashKey".into() },
            ));
        }
        let config = Config::from_options(entries, KeyStyle::Camel).or_throw(env)?;
        let resolved = config.resolve().or_throw(env)?;
        Ok(Stamper { privacy: resolved.privacy })
    }

    /// The span attributes `frame`'s scope stamps (`{}` without a scope).
    #[napi]
    pub fn render(&self, frame: &Frame) -> Json {
        let mut m = Map::new();
        if let Some(scope) = &frame.scope {
            for kv in scope.key_values(&self.privacy).iter() {
                m.insert(kv.key.to_string(), userspan::attributes::value_to_json(&kv.value));
            }
        }
        Json::Object(m)
    }
}

/// Builds the export pipeline from `init` options (camelCase) and the environment.
#[napi]
pub fn init(env: &Env, options: Unknown) -> Result<()> {
    let entries = option_entries(env, &options, "options")?;
    let config = Config::from_options(entries, KeyStyle::Camel).or_throw(env)?;
    userspan::init(config).or_throw(env)
}

/// `flush` off the event loop: resolves `true` when everything was exported in time.
pub struct Flush(Duration);

impl Task for Flush {
    type Output = bool;
    type JsValue = bool;
    fn compute(&mut self) -> Result<bool> {
        Ok(userspan::flush(self.0))
    }
    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

/// `shutdown` off the event loop.
pub struct Shutdown(Duration);

impl Task for Shutdown {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        userspan::shutdown(self.0);
        Ok(())
    }
    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

fn millis(ms: f64) -> Duration {
    Duration::from_millis(if ms.is_finite() && ms > 0.0 { ms as u64 } else { 0 })
}

/// Exports what has finished; waits at most `timeoutMs` (on a libuv worker thread).
#[napi]
pub fn flush(timeout_ms: f64) -> AsyncTask<Flush> {
    AsyncTask::new(Flush(millis(timeout_ms)))
}

/// Flushes and stops the pipeline (idempotent); waits at most `timeoutMs` (on a worker thread).
#[napi]
pub fn shutdown(timeout_ms: f64) -> AsyncTask<Shutdown> {
    AsyncTask::new(Shutdown(millis(timeout_ms)))
}

/// Process-wide counters.
#[napi(object)]
pub struct Stats {
    pub spans_started: f64,
    pub spans_exported: f64,
    pub spans_dropped: f64,
    pub export_errors: f64,
    pub values_truncated: f64,
}

/// The core's counters, camelCase.
#[napi]
pub fn stats() -> Stats {
    let s = userspan::stats();
    Stats {
        spans_started: s.spans_started as f64,
        spans_exported: s.spans_exported as f64,
        spans_dropped: s.spans_dropped as f64,
        export_errors: s.export_errors as f64,
        values_truncated: s.values_truncated as f64,
    }
}

/// Finished spans of the memory exporter as plain camelCase objects. Times are decimal strings of
/// ns since the Unix epoch (as OTLP/JSON spells 64-bit integers).
#[napi]
pub fn finished_spans() -> Json {
    let spans = userspan::finished_spans()
        .into_iter()
        .map(|s| {
            let events: Vec<Json> = s
                .events
                .into_iter()
                .map(|e| {
                    serde_json::json!({
                        "name": e.name,
                        "timeUnixNano": e.time_unix_nano.to_string(),
                        "attributes": e.attributes,
                    })
                })
                .collect();
            serde_json::json!({
                "name": s.name,
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "parentSpanId": s.parent_span_id,
                "kind": s.kind,
                "startTimeUnixNano": s.start_time_unix_nano.to_string(),
                "endTimeUnixNano": s.end_time_unix_nano.to_string(),
                "attributes": s.attributes,
                "status": {"code": s.status.code, "message": s.status.message},
                "events": events,
                "resource": s.resource,
            })
        })
        .collect();
    Json::Array(spans)
}

/// Forgets the memory exporter's spans.
#[napi]
pub fn clear_finished_spans() {
    userspan::clear_finished_spans()
}
