//! WebAssembly binding of the userspan core (wasm-bindgen). Private to the npm package
//! `userspan-wasm`, whose JavaScript layer (`js/`) is the public API.
//!
//! The JS layer keeps the current [`Frame`] in its own context mechanism (`AsyncLocalStorage`
//! where the runtime has one, a synchronous stack in browsers) and crosses into Rust once per span
//! start ([`start`] / [`scope`]) and once per end ([`Frame::end`] / [`Frame::end_error`]). All
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
use std::time::Duration;
use userspan::{Attributes, Config, ErrorInfo, ExporterKind, KeyStyle, OptionValue, Privacy, Protocol, Scope, SpanHandle};
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
#[wasm_bindgen]
pub struct Frame {
    scope: Scope,
    parent: Option<SpanContext>,
    span: Option<SpanHandle>,
}

/// Starts a root capture span `name` (no current frame) with `options`. Throws TypeError /
/// RangeError (with `field` and `code`) before anything starts.
#[wasm_bindgen]
pub fn start(name: String, options_value: JsValue) -> Result<Frame, JsValue> {
    start_in(None, name, &options_value)
}

/// An attribute scope (no span of its own) holding `options`, with no current frame.
#[wasm_bindgen]
pub fn scope(options_value: JsValue) -> Result<Frame, JsValue> {
    scope_in(None, &options_value)
}

fn start_in(outer: Option<&Frame>, name: String, options_value: &JsValue) -> Result<Frame, JsValue> {
    let attrs = Attributes::from_options(options(options_value, "options")?, KeyStyle::Camel).or_throw()?;
    let scope = Scope::nested(outer.map(|o| &o.scope), attrs);
    let span = userspan::start_span(name, outer.and_then(|o| o.parent.as_ref()), Some(&scope));
    let cx = span.span_context();
    Ok(Frame { scope, parent: cx.is_valid().then_some(cx), span: Some(span) })
}

fn scope_in(outer: Option<&Frame>, options_value: &JsValue) -> Result<Frame, JsValue> {
    let attrs = Attributes::from_options(options(options_value, "options")?, KeyStyle::Camel).or_throw()?;
    Ok(Frame {
        scope: Scope::nested(outer.map(|o| &o.scope), attrs),
        parent: outer.and_then(|o| o.parent.clone()),
        span: None,
    })
}

#[wasm_bindgen]
impl Frame {
    /// Starts a capture span `name`, child of this frame's span, with `options` merged over this
    /// frame's scope. Throws like [`start`].
    #[wasm_bindgen(js_name = start)]
    pub fn start_child(&self, name: String, options_value: JsValue) -> Result<Frame, JsValue> {
        start_in(Some(self), name, &options_value)
    }

    /// An attribute scope with `options` merged over this frame's (children parent on this
    /// frame's span).
    #[wasm_bindgen(js_name = scope)]
    pub fn scope_child(&self, options_value: JsValue) -> Result<Frame, JsValue> {
        scope_in(Some(self), &options_value)
    }

    /// Ends the frame's span (idempotent; nothing for a scope frame). Returns the number of spans
    /// now waiting in the export buffer (the JS layer flushes when it reaches a batch).
    pub fn end(&self) -> u32 {
        if let Some(s) = &self.span {
            s.end(None);
        }
        buffer::buffered() as u32
    }

    /// Ends the span recording an error (`exception` event, status ERROR, `error.type`).
    #[wasm_bindgen(js_name = endError)]
    pub fn end_error(&self, type_name: String, message: String, stacktrace: Option<String>) -> u32 {
        if let Some(s) = &self.span {
            s.end(Some(&ErrorInfo { type_name, message, stacktrace }));
        }
        buffer::buffered() as u32
    }

    /// Sets one attribute on this frame's span (nothing for a scope frame), validated as an entry
    /// of the `attributes` option (string, number, boolean or a homogeneous array of those).
    #[wasm_bindgen(js_name = setAttribute)]
    pub fn set_attribute(&self, key: String, value: JsValue) -> Result<(), JsValue> {
        let Some(span) = &self.span else { return Ok(()) };
        let v = convert::option_value(&value);
        let attrs = Attributes::from_options([("attributes".to_string(), OptionValue::Map(vec![(key, v)]))], KeyStyle::Camel)
            .or_throw()?;
        for kv in attrs.render(&Privacy::off()) {
            span.set_attribute(kv);
        }
        Ok(())
    }

    /// Trace id of the span children parent on (32 hex chars), or "".
    #[wasm_bindgen(getter, js_name = traceId)]
    pub fn trace_id(&self) -> String {
        self.parent.as_ref().map(|c| c.trace_id().to_string()).unwrap_or_default()
    }

    /// Span id of the span children parent on (16 hex chars), or "".
    #[wasm_bindgen(getter, js_name = spanId)]
    pub fn span_id(&self) -> String {
        self.parent.as_ref().map(|c| c.span_id().to_string()).unwrap_or_default()
    }

    /// The merged options of this scope, camelCase (a fresh object).
    pub fn attributes(&self) -> JsValue {
        convert::to_js(&Json::Object(self.scope.attributes().to_options(KeyStyle::Camel)))
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

/// Counters, camelCase: the core's, corrected for the buffer (see `buffer::stats`).
#[wasm_bindgen]
pub fn stats() -> JsValue {
    let s = buffer::stats();
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
    let spans: Vec<Json> = userspan::finished_spans()
        .into_iter()
        .map(|s| {
            let events: Vec<Json> = s
                .events
                .into_iter()
                .map(|e| {
                    json!({
                        "name": e.name,
                        "timeUnixNano": e.time_unix_nano.to_string(),
                        "attributes": e.attributes,
                    })
                })
                .collect();
            json!({
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
    convert::to_js(&Json::Array(spans))
}

/// Forgets the memory exporter's spans.
#[wasm_bindgen(js_name = clearFinishedSpans)]
pub fn clear_finished_spans() {
    userspan::clear_finished_spans()
}
