//! Native half of the npm package `userspan`: a thin napi-rs layer over the `userspan` core.
//!
//! The TypeScript layer (`src/ts/`) is the public API; this module is private. It crosses into
//! Rust once per span start, once per end and once per attribute scope (raw callbacks in
//! `frame.rs`). All behaviour — validation, merging, stamping, export — is the core's.

#![deny(clippy::all)]

mod convert;
mod errors;
mod frame;
pub mod host_span;

pub use errors::register_error_classes;
use errors::OrThrow;
use frame::{with_frame, FrameInner};
use napi::bindgen_prelude::{AsyncTask, Object, Unknown};
use napi::{Env, JsValue, Result, Task};
use napi_derive::napi;
use serde_json::{Map, Value as Json};
use std::time::Duration;

// Every capture allocates and frees a handful of small objects (scope, span, context entries);
// glibc malloc spent about a third of the per-capture time on them in `perf`, mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use userspan::{Attributes, Config, KeyStyle, OptionValue};

/// Reads a host options object (`undefined`/`null` = none) as `(key, value)` pairs.
fn option_entries(env: &Env, options: &Unknown, what: &str) -> Result<Vec<(String, OptionValue)>> {
    // SAFETY: `env` is the running `#[napi]` call's and `options` one of its arguments, alive in
    // the call's handle scope (`convert`'s contract).
    match unsafe { convert::option_value(env.raw(), options.raw(), 0) }? {
        OptionValue::Null => Ok(Vec::new()),
        OptionValue::Map(entries) => Ok(entries),
        other => Err(errors::to_js(
            env,
            &userspan::Error::InvalidType { field: what.into(), expected: "an object".into(), got: describe(&other) },
        )),
    }
}

pub(crate) fn describe(v: &OptionValue) -> String {
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

/// Registers the raw hot-path callbacks (see `frame.rs`) next to the `#[napi]` exports.
#[napi(module_exports)]
pub fn module_exports(exports: Object, env: Env) -> Result<()> {
    // SAFETY: napi-rs runs this during the module's registration, with that call's `env` and
    // `exports`: `register`'s contract.
    unsafe { frame::register(env.raw(), exports.raw()) }
}

/// The core's option names in its order (positions of the indexed fast path), and how many
/// positions the fast path carries.
#[napi]
pub fn option_names() -> Vec<String> {
    let names = frame::option_names();
    names[..names.len().min(frame::MAX_INDEXED)].iter().map(|n| n.to_string()).collect()
}

/// The longest string option, in UTF-16 code units, that the core never cuts
/// ([`userspan::conventions::MAX_ID_CHARS`] characters: a character is at least one unit).
#[napi]
pub fn max_id_chars() -> u32 {
    userspan::conventions::MAX_ID_CHARS as u32
}

/// Sync captures holding a native slot on this thread right now (diagnostics for the tests).
#[napi]
pub fn open_slots() -> u32 {
    frame::open_slots() as u32
}

/// Calls `f` with the frame behind `v` (see `frame::with_frame`; `f` must not call into JS).
fn frame_of<R>(env: &Env, v: &Unknown, f: impl FnOnce(Option<&FrameInner>) -> R) -> R {
    // SAFETY: `env` is the running `#[napi]` call's and `v` one of its arguments (`with_frame`'s
    // contract; the private TypeScript layer passes only frames it got from this module). Calling
    // into JS from `f` would be a logic error, not unsound: `v` keeps an External frame alive.
    unsafe { with_frame(env.raw(), v.raw(), f) }
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

/// The ids of a frame's current span, `null` outside any span.
#[napi]
pub fn span_ids(env: &Env, frame: Unknown) -> Option<SpanIds> {
    frame_of(env, &frame, |f| f.and_then(FrameInner::span_context)).map(|sc| SpanIds {
        trace_id: sc.trace_id().to_string(),
        span_id: sc.span_id().to_string(),
        trace_flags: u32::from(sc.is_sampled()),
    })
}

/// A frame's merged scope as options (camelCase), for `getAttributes()`.
#[napi]
pub fn frame_attributes(env: &Env, frame: Unknown) -> Json {
    let options =
        frame_of(env, &frame, |f| f.and_then(FrameInner::scope).map(|s| s.attributes().to_options(KeyStyle::Camel)));
    Json::Object(options.unwrap_or_default())
}

/// Sets one attribute on a frame's span, validated as an entry of the `attributes` option
/// (string, number, boolean or a homogeneous array of those).
#[napi]
pub fn set_attribute(env: &Env, frame: Unknown, key: String, value: Unknown) -> Result<()> {
    // The value is read (which may run JS getters) outside `frame_of`.
    let Some(span) = frame_of(env, &frame, |f| f.and_then(FrameInner::span).cloned()) else { return Ok(()) };
    // SAFETY: `env` is the running `#[napi]` call's and `value` one of its arguments.
    let v = unsafe { convert::option_value(env.raw(), value.raw(), 1) }?;
    let attrs =
        Attributes::from_options([("attributes".to_string(), OptionValue::Map(vec![(key, v)]))], KeyStyle::Camel)
            .or_throw(env)?;
    for kv in attrs.render(&userspan::Privacy::off()) {
        span.set_attribute(kv);
    }
    Ok(())
}

/// Renders scopes for OpenTelemetry JS spans (`UserAttributesSpanProcessor`): under its own
/// privacy mode when built with options, else under the one `init` configured
/// (`userspan::current_privacy()`, read at each render), else the environment's.
#[napi]
pub struct Stamper {
    /// The mode given to the constructor; `None`: follow the pipeline.
    own: Option<userspan::Privacy>,
    /// `USERSPAN_USER_ID_HASHING` / `USERSPAN_HASH_KEY` as they were at construction, for spans
    /// stamped while no pipeline is installed (before `init`, after `shutdown`).
    env: userspan::Privacy,
}

#[napi]
impl Stamper {
    /// `options`: `{ userIdHashing?, hashKey? }`; unset ones come from `USERSPAN_USER_ID_HASHING` /
    /// `USERSPAN_HASH_KEY`. With neither given, the stamper follows the pipeline's mode.
    #[napi(constructor)]
    pub fn new(env: &Env, options: Unknown) -> Result<Self> {
        let entries = option_entries(env, &options, "options")?;
        if let Some((key, _)) = entries.iter().find(|(k, _)| k != "userIdHashing" && k != "hashKey") {
            return Err(errors::to_js(
                env,
                &userspan::Error::UnknownOption { field: key.clone(), allowed: "userIdHashing, hashKey".into() },
            ));
        }
        // `{}` or only `undefined` / `null` values: nothing of its own.
        let follow = entries.iter().all(|(_, v)| matches!(v, OptionValue::Null));
        let privacy = Config::from_options(entries, KeyStyle::Camel).or_throw(env)?.privacy().or_throw(env)?;
        Ok(if follow {
            Stamper { own: None, env: privacy }
        } else {
            Stamper { own: Some(privacy), env: Default::default() }
        })
    }

    /// Whether this stamper renders with the pipeline's privacy mode (built without options).
    #[napi(getter)]
    pub fn follows_pipeline(&self) -> bool {
        self.own.is_none()
    }

    /// The span attributes `frame`'s scope stamps (`{}` without a scope).
    #[napi]
    pub fn render(&self, env: &Env, frame: Unknown) -> Json {
        let pipeline = if self.own.is_none() { userspan::current_privacy() } else { None };
        let privacy = self.own.as_ref().or(pipeline.as_deref()).unwrap_or(&self.env);
        let key_values = frame_of(env, &frame, |f| f.and_then(FrameInner::scope).map(|s| s.key_values(privacy)));
        let m: Map<String, Json> = key_values
            .iter()
            .flatten()
            .map(|kv| (kv.key.to_string(), userspan::attributes::value_to_json(&kv.value)))
            .collect();
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

/// The core's default `flush` / `shutdown` timeout ([`userspan::DEFAULT_FLUSH_TIMEOUT`]) in ms: the
/// one default of every binding.
#[napi]
pub fn default_flush_timeout_ms() -> f64 {
    userspan::DEFAULT_FLUSH_TIMEOUT.as_millis() as f64
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
    /// Spans started under a provider that has the userspan processor.
    pub spans_started: f64,
    /// Spans the exporter accepted (OTLP: the receiver answered 2xx).
    pub spans_exported: f64,
    /// Spans lost: the export queue was full, or their batch failed after all retries.
    pub spans_dropped: f64,
    /// Export calls that failed after all retries (receiver down, timeout, 4xx/5xx).
    pub export_errors: f64,
    /// Values cut to their limit (ids, session, tags over 256 chars; metadata over 4 KiB of JSON).
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
    let spans: Vec<Json> = userspan::finished_spans().iter().map(|s| s.to_json(userspan::KeyStyle::Camel)).collect();
    Json::Array(spans)
}

/// Forgets the memory exporter's spans.
#[napi]
pub fn clear_finished_spans() {
    userspan::clear_finished_spans()
}
