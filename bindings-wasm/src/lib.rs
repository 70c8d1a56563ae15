//! WebAssembly binding of the userspan core (wasm-bindgen). Private to the npm package
//! `userspan-wasm`, whose JavaScript layer (`js/`) is the public API.
//!
//! The JS layer keeps the current frame id in its own context mechanism (`AsyncLocalStorage`
//! where the runtime has one, a synchronous stack in browsers) and crosses into Rust once per span
//! start ([`start`] / [`scope`]) and once per end ([`end`] / [`end_error`]). All
//! behaviour — option validation, scope merging, truncation, hashing, stamping — is the core's:
//! this crate only translates values ([`convert`]), errors ([`errors`]), and runs the
//! buffer-and-flush export pipeline ([`buffer`]) whose requests JavaScript sends with `fetch`.

mod buffer;
mod convert;
mod errors;

use errors::OrThrow;
use js_sys::{Object, Reflect};
use opentelemetry::trace::SpanContext;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::{json, Map, Value as Json};
use std::cell::RefCell;
use std::time::Duration;
use userspan::{
    Attributes, Config, ErrorInfo, ExporterKind, KeyStyle, OptionValue, Privacy, Protocol, Scope, SpanHandle,
};
use wasm_bindgen::prelude::*;

/// Options object → core option pairs. `undefined` / `null` mean "no options"; anything but a
/// plain object is a TypeError naming `what`.
fn options(value: &JsValue, what: &str) -> Result<Vec<(String, OptionValue)>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !convert::is_plain_object(value) {
        let got = match convert::option_value(value) {
            OptionValue::Other(t) => format!("an object of type {t}"),
            OptionValue::List(_) => "an array".into(),
            OptionValue::Str(_) => "a string".into(),
            OptionValue::Bool(_) => "a boolean".into(),
            _ => "a number".into(),
        };
        return Err(errors::to_js(&userspan::Error::InvalidType {
            field: what.into(),
            expected: "an object of options".into(),
            got,
        }));
    }
    Ok(convert::entries(value.unchecked_ref()))
}

/// One level of context: the merged scope and the span its children parent on. A capture frame
/// owns its span; a scope frame (`withAttributes`) shares its outer frame's span as parent.
///
/// Frames live in a slab addressed by `u32` ids (0 = no frame). JS holds each id in a small object
/// registered in a `FinalizationRegistry` and calls [`free_frame`] when that object is collected,
/// so a callback that outlives its capture (a timer registered inside it) can still use the frame.
/// (Cheaper than wasm-bindgen class wrappers: no per-object unregister token, no glue object.)
struct Frame {
    scope: Scope,
    parent: Option<SpanContext>,
    span: Option<SpanHandle>,
}

#[derive(Default)]
struct Slab {
    items: Vec<Option<Frame>>,
    free: Vec<u32>,
}

thread_local! {
    static FRAMES: RefCell<Slab> = RefCell::new(Slab::default());
}

fn insert(frame: Frame) -> u32 {
    FRAMES.with(|f| {
        let mut slab = f.borrow_mut();
        match slab.free.pop() {
            Some(id) => {
                slab.items[id as usize - 1] = Some(frame);
                id
            }
            None => {
                slab.items.push(Some(frame));
                slab.items.len() as u32
            }
        }
    })
}

/// Runs `f` on frame `id` (None for 0 or a freed id). Never call into JS inside `f`.
fn with_frame<T>(id: u32, f: impl FnOnce(Option<&Frame>) -> T) -> T {
    FRAMES.with(|s| {
        let slab = s.borrow();
        let frame = id.checked_sub(1).and_then(|i| slab.items.get(i as usize)).and_then(|x| x.as_ref());
        f(frame)
    })
}

/// Releases frame `id` (its JS handle was garbage collected).
#[wasm_bindgen(js_name = freeFrame)]
pub fn free_frame(id: u32) {
    let dropped = FRAMES.with(|s| {
        let mut slab = s.borrow_mut();
        let taken = id.checked_sub(1).and_then(|i| slab.items.get_mut(i as usize)).and_then(Option::take);
        if taken.is_some() {
            slab.free.push(id);
        }
        taken
    });
    drop(dropped); // outside the borrow: dropping a span handle may end up in the exporter
}

/// Frames alive (for tests of the lifetime scheme).
#[wasm_bindgen(js_name = liveFrames)]
pub fn live_frames() -> u32 {
    FRAMES.with(|s| {
        let slab = s.borrow();
        (slab.items.len() - slab.free.len()) as u32
    })
}

/// Options packed by the JS layer when every value is a string: `key\0value\0key\0value\0`
/// (no option object enumeration across the boundary). Same validation as the generic path.
fn unpack(packed: &str) -> Vec<(String, OptionValue)> {
    let mut parts = packed.split('\0');
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        out.push((k.to_string(), OptionValue::Str(v.into())));
    }
    out
}

fn parent_of(outer: u32) -> (Option<Scope>, Option<SpanContext>) {
    with_frame(outer, |o| o.map(|o| (Some(o.scope.clone()), o.parent.clone())).unwrap_or((None, None)))
}

fn start_with(name: String, outer: u32, options: Vec<(String, OptionValue)>) -> Result<u32, JsValue> {
    let attrs = Attributes::from_options(options, KeyStyle::Camel).or_throw()?;
    let (outer_scope, parent) = parent_of(outer);
    let scope = Scope::nested(outer_scope.as_ref(), attrs);
    let span = userspan::start_span(name, parent.as_ref(), Some(&scope));
    let cx = span.span_context();
    Ok(insert(Frame { scope, parent: cx.is_valid().then_some(cx), span: Some(span) }))
}

fn scope_with(outer: u32, options: Vec<(String, OptionValue)>) -> Result<u32, JsValue> {
    let attrs = Attributes::from_options(options, KeyStyle::Camel).or_throw()?;
    let (outer_scope, parent) = parent_of(outer);
    Ok(insert(Frame { scope: Scope::nested(outer_scope.as_ref(), attrs), parent, span: None }))
}

/// Starts a capture span `name`, child of frame `outer`'s span (0: a new trace), with `options`
/// merged over `outer`'s scope; returns the new frame's id. Throws TypeError / RangeError (with
/// `field` and `code`) before anything starts.
#[wasm_bindgen]
pub fn start(name: String, outer: u32, options_value: JsValue) -> Result<u32, JsValue> {
    let options = options(&options_value, "options")?;
    start_with(name, outer, options)
}

/// [`start`] with string-only options packed by the JS layer.
#[wasm_bindgen(js_name = startPacked)]
pub fn start_packed(name: String, outer: u32, packed: &str) -> Result<u32, JsValue> {
    start_with(name, outer, unpack(packed))
}

/// An attribute scope (no span of its own) with `options` merged over frame `outer`'s; children
/// parent on `outer`'s span.
#[wasm_bindgen]
pub fn scope(outer: u32, options_value: JsValue) -> Result<u32, JsValue> {
    let options = options(&options_value, "options")?;
    scope_with(outer, options)
}

/// [`scope`] with string-only options packed by the JS layer.
#[wasm_bindgen(js_name = scopePacked)]
pub fn scope_packed(outer: u32, packed: &str) -> Result<u32, JsValue> {
    scope_with(outer, unpack(packed))
}

fn span_of(id: u32) -> Option<SpanHandle> {
    with_frame(id, |f| f.and_then(|f| f.span.clone()))
}

/// Ends frame `id`'s span (idempotent; nothing for a scope frame). Returns the number of spans
/// now waiting in the export buffer (the JS layer sends when it reaches a batch).
#[wasm_bindgen]
pub fn end(id: u32) -> u32 {
    if let Some(s) = span_of(id) {
        s.end(None);
    }
    buffer::buffered() as u32
}

/// Ends the span recording an error (`exception` event, status ERROR, `error.type`).
#[wasm_bindgen(js_name = endError)]
pub fn end_error(id: u32, type_name: String, message: String, stacktrace: Option<String>) -> u32 {
    if let Some(s) = span_of(id) {
        s.end(Some(&ErrorInfo { type_name, message, stacktrace }));
    }
    buffer::buffered() as u32
}

/// Sets one attribute on frame `id`'s span (nothing for a scope frame), validated as an entry of
/// the `attributes` option (string, number, boolean or a homogeneous array of those).
#[wasm_bindgen(js_name = setAttribute)]
pub fn set_attribute(id: u32, key: String, value: JsValue) -> Result<(), JsValue> {
    let v = convert::option_value(&value);
    let Some(span) = span_of(id) else { return Ok(()) };
    let attrs =
        Attributes::from_options([("attributes".to_string(), OptionValue::Map(vec![(key, v)]))], KeyStyle::Camel)
            .or_throw()?;
    for kv in attrs.render(&Privacy::off()) {
        span.set_attribute(kv);
    }
    Ok(())
}

/// Trace id of the span frame `id`'s children parent on (32 hex chars), or "".
#[wasm_bindgen(js_name = traceId)]
pub fn trace_id(id: u32) -> String {
    with_frame(id, |f| f.and_then(|f| f.parent.as_ref()).map(|c| c.trace_id().to_string()).unwrap_or_default())
}

/// Span id of the span frame `id`'s children parent on (16 hex chars), or "".
#[wasm_bindgen(js_name = spanId)]
pub fn span_id(id: u32) -> String {
    with_frame(id, |f| f.and_then(|f| f.parent.as_ref()).map(|c| c.span_id().to_string()).unwrap_or_default())
}

/// The merged options of frame `id`'s scope, camelCase (a fresh object).
#[wasm_bindgen]
pub fn attributes(id: u32) -> JsValue {
    let json = with_frame(id, |f| f.map(|f| f.scope.attributes().to_options(KeyStyle::Camel)).unwrap_or_default());
    convert::to_js(&Json::Object(json))
}

/// Renders scopes for OpenTelemetry JS spans (`UserAttributesSpanProcessor`, e.g. under the OTel
/// JS web SDK's provider): under its own privacy mode when built with `{ userIdHashing?,
/// hashKey? }`, else under the one `init` configured (`userspan::current_privacy()`, read at each
/// render), else "off" (there is no environment on wasm32-unknown-unknown).
#[wasm_bindgen]
pub struct Stamper {
    /// The mode given to the constructor; `None`: follow the pipeline.
    own: Option<Privacy>,
}

#[wasm_bindgen]
impl Stamper {
    /// Throws TypeError (`UnknownOption`) for another option, `ConfigError` for hashing without a key.
    #[wasm_bindgen(constructor)]
    pub fn new(options_value: JsValue) -> Result<Stamper, JsValue> {
        let entries = options(&options_value, "options")?;
        if let Some((key, _)) = entries.iter().find(|(k, _)| k != "userIdHashing" && k != "hashKey") {
            return Err(errors::to_js(&userspan::Error::UnknownOption {
                field: key.clone(),
                allowed: "userIdHashing, hashKey".into(),
            }));
        }
        if entries.iter().all(|(_, v)| matches!(v, OptionValue::Null)) {
            return Ok(Stamper { own: None });
        }
        let privacy = Config::from_options(entries, KeyStyle::Camel).or_throw()?.privacy().or_throw()?;
        Ok(Stamper { own: Some(privacy) })
    }

    /// The span attributes frame `id`'s scope stamps (wire keys; `{}` without a frame).
    pub fn render(&self, id: u32) -> JsValue {
        let pipeline = if self.own.is_none() { userspan::current_privacy() } else { None };
        let off = Privacy::off();
        let privacy = self.own.as_ref().or(pipeline.as_deref()).unwrap_or(&off);
        let key_values = with_frame(id, |f| f.map(|f| f.scope.key_values(privacy)));
        let m: Map<String, Json> = key_values
            .iter()
            .flatten()
            .map(|kv| (kv.key.to_string(), userspan::attributes::value_to_json(&kv.value)))
            .collect();
        convert::to_js(&Json::Object(m))
    }
}

/// Writes each finished span as one JSON line with `console.log` (the core's console exporter
/// writes to stdout, which does not exist on wasm32-unknown-unknown).
#[derive(Debug, Default)]
struct JsConsoleExporter {
    resource: Map<String, Json>,
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(s: &str);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(s: &str);
}

/// On instantiation: the core's one-time warnings (first truncation, first failed export) go to
/// `console.warn`; standard error does not exist on wasm32-unknown-unknown.
#[wasm_bindgen(start)]
fn on_instantiate() {
    userspan::stats::set_warning_sink(console_warn);
}

impl SpanExporter for JsConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        for s in &batch {
            let span = userspan::FinishedSpan::from_span_data(s, &self.resource);
            console_log(&serde_json::to_string(&span).unwrap_or_default());
        }
        Ok(())
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.iter().map(|(k, v)| (k.to_string(), userspan::attributes::value_to_json(v))).collect();
    }
}

/// Builds the pipeline. Returns, for the OTLP exporter, what the JS sender needs:
/// `{ url, headers, scheduledDelayMs, maxExportBatchSize, exportTimeoutMs, maxQueueSize }`;
/// `null` for the memory / console / none exporters.
#[wasm_bindgen]
pub fn init(options_value: JsValue) -> Result<JsValue, JsValue> {
    let config = Config::from_options(options(&options_value, "options")?, KeyStyle::Camel).or_throw()?;
    let resolved = config.clone().resolve().or_throw()?;
    match resolved.exporter {
        ExporterKind::Otlp => {
            if resolved.protocol != Protocol::HttpProtobuf {
                return Err(errors::to_js(&userspan::Error::Config(
                    "userspan-wasm sends OTLP over http/protobuf only (set protocol: \"http/protobuf\" or leave it unset)"
                        .into(),
                )));
            }
            userspan::init_with_exporter(config, buffer::BufferExporter::new(resolved.max_queue_size)).or_throw()?;
            let headers: Map<String, Json> =
                resolved.headers.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
            Ok(convert::to_js(&json!({
                "url": resolved.traces_endpoint,
                "headers": headers,
                "scheduledDelayMs": resolved.scheduled_delay.as_millis() as u64,
                "maxExportBatchSize": resolved.max_export_batch_size,
                "exportTimeoutMs": resolved.export_timeout.as_millis() as u64,
                "maxQueueSize": resolved.max_queue_size,
            })))
        }
        ExporterKind::Console => {
            userspan::init_with_exporter(config, JsConsoleExporter::default()).or_throw()?;
            Ok(JsValue::NULL)
        }
        ExporterKind::Memory | ExporterKind::None => {
            userspan::init(config).or_throw()?;
            Ok(JsValue::NULL)
        }
    }
}

/// Takes up to `max` buffered spans encoded as one OTLP/protobuf request, or `undefined` when
/// nothing is buffered. [`drained`] then says how many spans the bytes hold.
#[wasm_bindgen]
pub fn drain(max: u32) -> Option<Vec<u8>> {
    buffer::drain(max as usize).map(|(bytes, n)| {
        LAST_DRAINED.with(|c| c.set(n as u32));
        bytes
    })
}

thread_local! {
    static LAST_DRAINED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Span count of the last [`drain`].
#[wasm_bindgen]
pub fn drained() -> u32 {
    LAST_DRAINED.with(|c| c.get())
}

/// Spans waiting in the export buffer.
#[wasm_bindgen]
pub fn buffered() -> u32 {
    buffer::buffered() as u32
}

/// Records the outcome of sending a drained batch of `spans` spans.
#[wasm_bindgen]
pub fn report(spans: u32, ok: bool) {
    buffer::report(spans as u64, ok)
}

/// Forgets the buffered spans (counted as dropped); returns how many.
#[wasm_bindgen]
pub fn discard() -> u32 {
    buffer::discard() as u32
}

/// Runs the core's flush (synchronous on wasm32: every exporter here finishes at once).
#[wasm_bindgen(js_name = coreFlush)]
pub fn core_flush() -> bool {
    userspan::flush(Duration::from_secs(1))
}

/// Stops the core pipeline (idempotent). Buffered spans stay for the JS layer to send.
#[wasm_bindgen(js_name = coreShutdown)]
pub fn core_shutdown() {
    userspan::shutdown(Duration::from_secs(1))
}

/// The core's default `flush` / `shutdown` timeout ([`userspan::DEFAULT_FLUSH_TIMEOUT`]) in ms: the
/// one default of every binding (the JS layer's wait for its sends).
#[wasm_bindgen(js_name = defaultFlushTimeoutMs)]
pub fn default_flush_timeout_ms() -> f64 {
    userspan::DEFAULT_FLUSH_TIMEOUT.as_millis() as f64
}

/// The core's counters, camelCase (the buffer reports sends, drops and failures into them).
#[wasm_bindgen]
pub fn stats() -> JsValue {
    let s = userspan::stats();
    let o = Object::new();
    for (k, v) in [
        ("spansStarted", s.spans_started),
        ("spansExported", s.spans_exported),
        ("spansDropped", s.spans_dropped),
        ("exportErrors", s.export_errors),
        ("valuesTruncated", s.values_truncated),
    ] {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_f64(v as f64));
    }
    o.into()
}

/// Finished spans of the memory exporter as plain camelCase objects (the Node package's shape).
/// Times are decimal strings of ns since the Unix epoch (as OTLP/JSON spells 64-bit integers).
#[wasm_bindgen(js_name = finishedSpans)]
pub fn finished_spans() -> JsValue {
    let spans: Vec<Json> = userspan::finished_spans().iter().map(|s| s.to_json(userspan::KeyStyle::Camel)).collect();
    convert::to_js(&Json::Array(spans))
}

/// Forgets the memory exporter's spans.
#[wasm_bindgen(js_name = clearFinishedSpans)]
pub fn clear_finished_spans() {
    userspan::clear_finished_spans()
}
