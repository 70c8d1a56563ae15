//! `userspan._native`: the private native module behind the Python package `userspan`.
//!
//! Everything here is a thin crossing into the Rust core (crate `userspan`): option validation,
//! scope merging, span start/end, error recording, export, configuration and statistics all
//! live there. The Python layer (`python/userspan/`) keeps the current scope and span in
//! `ContextVar`s and calls [`start`] once per span start and [`Span::end`] once per end.
//!
//! The GIL is released only where the core may block: `init` (it may shut down a previous
//! pipeline), `flush` and `shutdown`.

mod convert;
mod errors;
mod host_span;

// Every capture allocates and frees a handful of small Rust objects (option strings, attributes,
// scope, span data); under callgrind glibc malloc/free were ~10 % of a capture's instructions.
// Python's own objects keep using CPython's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use convert::{capture_option_entries, json_to_py, option_entries, qualified_name, CaptureOptions};
use errors::IntoPyResult;
use opentelemetry::KeyValue;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::time::Duration;
use userspan::{Attributes, Config, ErrorInfo, KeyStyle, OptionValue, Privacy, Scope, SpanHandle};

/// The privacy mode the environment asks for (`USERSPAN_USER_ID_HASHING`, `USERSPAN_HASH_KEY`),
/// for spans stamped before `init`; "off" when the environment is unusable.
fn env_privacy() -> &'static Privacy {
    static ENV: std::sync::OnceLock<Privacy> = std::sync::OnceLock::new();
    ENV.get_or_init(|| Config::default().privacy().unwrap_or_default())
}

fn core_type_error(field: &str, expected: &str, got: &Bound<'_, PyAny>) -> userspan::Error {
    userspan::Error::InvalidType {
        field: field.into(),
        expected: expected.into(),
        got: format!("an object of type {}", convert::type_name(got)),
    }
}

/// The `UserspanTypeError` (code `USERSPAN_INVALID_TYPE`) for a check the Python layer makes
/// itself (`field` must be `expected`, `got` was passed), built from the core's error so its code
/// and message are the core's. Returned, not raised: the caller raises it.
#[pyfunction]
fn type_error<'py>(py: Python<'py>, field: &str, expected: &str, got: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    errors::to_py(py, core_type_error(field, expected, got)).into_value(py).into_bound(py).into_any()
}

/// The `UserspanValueError` (code `USERSPAN_INVALID_VALUE`) for a check the Python layer makes
/// itself (`field` must be one of `allowed`, quoted and comma separated; `got` was passed), built
/// from the core's error. Returned, not raised: the caller raises it.
#[pyfunction]
fn value_error<'py>(py: Python<'py>, field: &str, allowed: &str, got: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    let got = got.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
    let e = userspan::Error::InvalidValue { field: field.into(), allowed: allowed.into(), got };
    errors::to_py(py, e).into_value(py).into_bound(py).into_any()
}

/// Host options (a dict, any other mapping, or `None`) as translated entries.
fn entries(py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<Option<CaptureOptions>> {
    if options.is_none() {
        return Ok(None);
    }
    if let Ok(d) = options.cast::<PyDict>() {
        return Ok(Some(capture_option_entries(d)));
    }
    if options.hasattr("keys")? && options.hasattr("__getitem__")? {
        let d = PyDict::new(py);
        d.update(options.cast::<pyo3::types::PyMapping>()?)?;
        return Ok(Some(capture_option_entries(&d)));
    }
    Err(errors::to_py(py, core_type_error("options", "a mapping of option names to values (or None)", options)))
}

/// A validated, immutable option set (from `capture(name, options)` used as a decorator, or
/// `using_attributes(...)`), validated once and reused on every call.
#[pyclass(frozen, module = "userspan._native", name = "Attributes")]
struct PyAttributes {
    inner: Attributes,
    /// The scope these attributes make when no scope is current (rendered once, reused).
    root: Py<PyScope>,
}

#[pymethods]
impl PyAttributes {
    /// Validates `options` (snake_case option names). Raises `UserspanTypeError` /
    /// `UserspanValueError` naming the field.
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<Self> {
        let inner = match entries(py, options)? {
            Some(e) => Attributes::from_options(e, KeyStyle::Snake).py_err(py)?,
            None => Attributes::new(),
        };
        let root = Py::new(py, PyScope { inner: Scope::new(inner.clone()) })?;
        Ok(PyAttributes { inner, root })
    }

    /// True when no option is set.
    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The options as a dict (snake_case names).
    fn to_options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.to_options(KeyStyle::Snake)))
    }

    fn __repr__(&self) -> String {
        format!("Attributes({})", serde_json::Value::Object(self.inner.to_options(KeyStyle::Snake)))
    }
}

/// An immutable merged attribute scope (what the `ContextVar` holds).
#[pyclass(frozen, module = "userspan._native", name = "Scope")]
struct PyScope {
    inner: Scope,
}

#[pymethods]
impl PyScope {
    /// The merged options as a dict (snake_case names): what `get_attributes()` returns.
    fn to_options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.attributes().to_options(KeyStyle::Snake)))
    }

    /// The span attributes this scope stamps (wire keys, OTel-typed values), after `privacy`
    /// (default: the privacy mode of the pipeline `init` built, `userspan::current_privacy()`, read
    /// at each call; else the environment's).
    #[pyo3(signature = (privacy=None))]
    fn span_attributes<'py>(
        &self,
        py: Python<'py>,
        privacy: Option<&Bound<'py, PyPrivacy>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let kvs = match privacy {
            Some(p) => self.inner.key_values(&p.get().inner),
            None => match userspan::current_privacy() {
                Some(p) => self.inner.key_values(&p),
                None => self.inner.key_values(env_privacy()),
            },
        };
        let d = PyDict::new(py);
        for kv in kvs.iter() {
            d.set_item(kv.key.as_str(), json_to_py(py, &userspan::attributes::value_to_json(&kv.value))?)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("Scope({})", serde_json::Value::Object(self.inner.attributes().to_options(KeyStyle::Snake)))
    }
}

/// A user-id hashing mode with its key, for `userspan.otel.UserAttributesSpanProcessor`.
#[pyclass(frozen, module = "userspan._native", name = "Privacy")]
struct PyPrivacy {
    inner: Privacy,
}

#[pymethods]
impl PyPrivacy {
    /// `user_id_hashing` (`"off"` | `"add"` | `"replace"`) and `hash_key`; unset values come from
    /// `USERSPAN_USER_ID_HASHING` / `USERSPAN_HASH_KEY`.
    #[new]
    #[pyo3(signature = (user_id_hashing=None, hash_key=None))]
    fn new(py: Python<'_>, user_id_hashing: Option<String>, hash_key: Option<String>) -> PyResult<Self> {
        let opts = [
            (
                "user_id_hashing".to_string(),
                user_id_hashing.map(|s| OptionValue::Str(s.into())).unwrap_or(OptionValue::Null),
            ),
            ("hash_key".to_string(), hash_key.map(|s| OptionValue::Str(s.into())).unwrap_or(OptionValue::Null)),
        ];
        let config = Config::from_options(opts, KeyStyle::Snake).py_err(py)?;
        Ok(PyPrivacy { inner: config.privacy().py_err(py)? })
    }
}

/// A started span. Ending is idempotent; a span that is garbage-collected un-ended is ended then
/// (without error).
#[pyclass(frozen, module = "userspan._native", name = "Span")]
struct PySpan {
    handle: SpanHandle,
}

fn error_info(py: Python<'_>, exc: &Bound<'_, PyAny>) -> ErrorInfo {
    let type_name = if exc.is_instance_of::<pyo3::types::PyType>() {
        exc.cast::<pyo3::types::PyType>().map(|t| qualified_name(t)).unwrap_or_default()
    } else {
        qualified_name(&exc.get_type())
    };
    let message = exc.str().map(|s| s.to_string()).unwrap_or_default();
    let stacktrace = (|| -> PyResult<String> {
        let tb = py.import("traceback")?;
        let lines = tb.call_method1("format_exception", (exc.get_type(), exc, exc.getattr("__traceback__")?))?;
        Ok(lines.cast::<PyList>()?.iter().map(|l| l.to_string()).collect::<String>())
    })()
    .ok();
    ErrorInfo { type_name, message, stacktrace }
}

/// One attribute (or a dict of them) as OTel key-values, through the core's validation of
/// `attributes` (so types follow the same rules as the `attributes` option).
fn key_values(py: Python<'_>, attrs: Vec<(String, OptionValue)>) -> PyResult<Vec<KeyValue>> {
    let a =
        Attributes::from_options([("attributes".to_string(), OptionValue::Map(attrs))], KeyStyle::Snake).py_err(py)?;
    Ok(a.render(&Privacy::default()))
}

#[pymethods]
impl PySpan {
    /// Ends the span. With `error` (an exception instance), first records it: an `exception`
    /// event (`exception.type`, `exception.message`, `exception.stacktrace`), status ERROR with
    /// the message, and `error.type`. A second call does nothing.
    #[pyo3(signature = (error=None))]
    fn end(&self, py: Python<'_>, error: Option<&Bound<'_, PyAny>>) {
        match error {
            Some(e) if !e.is_none() => self.handle.end(Some(&error_info(py, e))),
            _ => self.handle.end(None),
        }
    }

    /// `end()` without an error, as a no-argument method (CPython calls it without building an
    /// argument tuple: the success path of every capture).
    fn end_ok(&self) {
        self.handle.end(None)
    }

    /// Trace id, 32 lower-case hex characters.
    #[getter]
    fn trace_id(&self) -> String {
        self.handle.trace_id()
    }

    /// Span id, 16 lower-case hex characters.
    #[getter]
    fn span_id(&self) -> String {
        self.handle.span_id()
    }

    /// `(trace_id, span_id, sampled)` as integers, for a Python OpenTelemetry `SpanContext`.
    fn ids(&self) -> (u128, u64, bool) {
        let sc = self.handle.span_context();
        (u128::from_be_bytes(sc.trace_id().to_bytes()), u64::from_be_bytes(sc.span_id().to_bytes()), sc.is_sampled())
    }

    /// True until the span has ended (and only when it is sampled).
    fn is_recording(&self) -> bool {
        self.handle.is_recording()
    }

    /// Sets one attribute (`str`, `bool`, `int`, `float` or a homogeneous list of one of those).
    fn set_attribute(&self, py: Python<'_>, key: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        for kv in key_values(py, vec![(key, convert::option_value(value))])? {
            self.handle.set_attribute(kv);
        }
        Ok(())
    }

    /// Sets several attributes from a dict.
    fn set_attributes(&self, py: Python<'_>, attributes: &Bound<'_, PyDict>) -> PyResult<()> {
        for kv in key_values(py, option_entries(attributes))? {
            self.handle.set_attribute(kv);
        }
        Ok(())
    }

    /// Adds an event with optional attributes.
    #[pyo3(signature = (name, attributes=None))]
    fn add_event(&self, py: Python<'_>, name: String, attributes: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let kvs = match attributes {
            Some(a) => key_values(py, option_entries(a))?,
            None => Vec::new(),
        };
        self.handle.add_event(name, kvs);
        Ok(())
    }

    /// Sets the status: `"UNSET"`, `"OK"` or `"ERROR"` (with `description`).
    #[pyo3(signature = (code, description=None))]
    fn set_status(&self, py: Python<'_>, code: &str, description: Option<String>) -> PyResult<()> {
        self.handle.set_status(code, description).py_err(py)
    }

    /// Adds an `exception` event for `error` (type, message, stacktrace) without ending the span
    /// or changing its status (OpenTelemetry's `Span.record_exception`).
    fn record_exception(&self, py: Python<'_>, error: &Bound<'_, PyAny>) {
        self.handle.record_exception(&error_info(py, error));
    }

    /// Renames the span.
    fn update_name(&self, name: String) {
        self.handle.update_name(name);
    }

    fn __repr__(&self) -> String {
        format!("Span(trace_id={}, span_id={})", self.handle.trace_id(), self.handle.span_id())
    }
}

/// The attributes an `options` argument stands for: `None`, a prebuilt `Attributes`, or a mapping.
enum Opts<'a, 'py> {
    None,
    Built(&'a Bound<'py, PyAttributes>),
    Fresh(Attributes),
}

fn opts<'a, 'py>(py: Python<'py>, options: &'a Bound<'py, PyAny>) -> PyResult<Opts<'a, 'py>> {
    if options.is_none() {
        return Ok(Opts::None);
    }
    if let Ok(a) = options.cast::<PyAttributes>() {
        return Ok(if a.get().inner.is_empty() { Opts::None } else { Opts::Built(a) });
    }
    match entries(py, options)? {
        Some(e) if !e.is_empty() => {
            let a = Attributes::from_options(e, KeyStyle::Snake).py_err(py)?;
            Ok(if a.is_empty() { Opts::None } else { Opts::Fresh(a) })
        }
        _ => Ok(Opts::None),
    }
}

/// The scope `options` make inside `outer`, as a Python object (`outer` itself, or `None`, when
/// `options` set nothing).
fn nested_scope<'py>(
    py: Python<'py>,
    outer: Option<&Bound<'py, PyScope>>,
    options: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let outer_obj = || outer.map(|o| o.clone().into_any()).unwrap_or_else(|| py.None().into_bound(py));
    Ok(match opts(py, options)? {
        Opts::None => outer_obj(),
        Opts::Built(a) => match outer {
            None => a.get().root.bind(py).clone().into_any(),
            Some(o) => Bound::new(py, PyScope { inner: Scope::nested(Some(&o.get().inner), a.get().inner.clone()) })?
                .into_any(),
        },
        Opts::Fresh(a) => {
            Bound::new(py, PyScope { inner: Scope::nested(outer.map(|o| &o.get().inner), a) })?.into_any()
        }
    })
}

/// Validates `options` and merges them over `outer`: the scope to make current. Returns `outer`
/// itself when `options` set nothing.
#[pyfunction]
#[pyo3(signature = (outer, options))]
fn nest<'py>(
    py: Python<'py>,
    outer: Option<&Bound<'py, PyScope>>,
    options: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    nested_scope(py, outer, options)
}

/// Starts span `name`: validates `options` (None, a dict, or a prebuilt `Attributes`), merges
/// them over `outer` (the current scope or None) and starts the span as a child of `parent`
/// (a `Span`, a `(trace_id, span_id, sampled)` tuple for a Python OpenTelemetry parent, or None
/// for a new trace). Returns `(span, scope)`; `scope` is the object to make current while the
/// work runs. Raises (before anything starts) when an option is invalid.
#[pyfunction]
#[pyo3(signature = (name, options, outer, parent))]
fn start<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    options: &Bound<'py, PyAny>,
    outer: Option<&Bound<'py, PyScope>>,
    parent: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let name = match name.cast::<pyo3::types::PyString>() {
        Ok(s) => convert::string(s).unwrap_or_default(),
        Err(_) => name.str()?.to_string(),
    };
    let scope_obj = nested_scope(py, outer, options)?;
    let scope = scope_obj.cast::<PyScope>().ok().map(|s| &s.get().inner);
    let parent_cx = if parent.is_none() {
        None
    } else if let Ok(p) = parent.cast::<PySpan>() {
        Some(p.get().handle.span_context())
    } else {
        let (trace_id, span_id, sampled): (u128, u64, bool) = parent.extract()?;
        Some(userspan::parent_context(trace_id, span_id, sampled))
    };
    let handle = userspan::start_span(name, parent_cx.as_ref(), scope);
    let span = Bound::new(py, PySpan { handle })?;
    PyTuple::new(py, [span.into_any(), scope_obj])
}

/// Builds the export pipeline from `options` (snake_case `init` options; None values are unset
/// and filled from the environment by the core).
#[pyfunction]
fn init(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<()> {
    let config = Config::from_options(option_entries(options), KeyStyle::Snake).py_err(py)?;
    py.detach(|| userspan::init(config)).py_err(py)
}

fn duration(secs: f64) -> Duration {
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs_f64(secs.min(1e9))
    } else {
        Duration::ZERO
    }
}

/// Exports everything finished so far, waiting at most `timeout_secs` seconds (the Python layer
/// defaults it to `DEFAULT_FLUSH_TIMEOUT_SECS`); True on success. The GIL is released while waiting.
#[pyfunction]
fn flush(py: Python<'_>, timeout_secs: f64) -> bool {
    let t = duration(timeout_secs);
    py.detach(move || userspan::flush(t))
}

/// Flushes and stops the pipeline (idempotent), waiting at most `timeout_secs` seconds (the Python
/// layer defaults it to `DEFAULT_FLUSH_TIMEOUT_SECS`). The GIL is released while waiting.
#[pyfunction]
fn shutdown(py: Python<'_>, timeout_secs: f64) {
    let t = duration(timeout_secs);
    py.detach(move || userspan::shutdown(t))
}

/// The core's counters as a dict.
#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let v = serde_json::to_value(userspan::stats()).unwrap_or_default();
    json_to_py(py, &v)
}

/// The memory exporter's finished spans as a list of dicts, oldest first.
#[pyfunction]
fn finished_spans(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let v = serde_json::to_value(userspan::finished_spans()).unwrap_or_default();
    json_to_py(py, &v)
}

/// Forgets the memory exporter's finished spans.
#[pyfunction]
fn clear_finished_spans() {
    userspan::clear_finished_spans()
}

/// Hands one finished Python OpenTelemetry SDK span (`ReadableSpan`) to the pipeline `init`
/// built (`userspan::export_host_spans`): the same exporter, queue and resource as capture spans.
/// Returns 1 when it was queued, 0 when no pipeline exports it (before `init`, after `shutdown`,
/// exporter `"none"`, disabled, unsampled). Never blocks on the network.
///
/// Raises `TypeError` / `AttributeError` when `span` is not shaped like a `ReadableSpan`.
#[pyfunction]
fn export_otel_span(span: &Bound<'_, PyAny>) -> PyResult<usize> {
    Ok(userspan::export_host_spans([host_span::host_span(span)?]))
}

/// True when the pipeline `init` built has an exporter that host OpenTelemetry spans reach
/// (`userspan::host_export_active`).
#[pyfunction]
fn host_export_active() -> bool {
    userspan::host_export_active()
}

/// In a forked child: abandons the parent's export thread and builds a fresh pipeline.
#[pyfunction]
fn reinit_after_fork(py: Python<'_>) -> PyResult<()> {
    userspan::reinit_after_fork().py_err(py)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    // `flush()` / `shutdown()`'s default wait, in seconds: the core's one default for every binding.
    m.add("DEFAULT_FLUSH_TIMEOUT_SECS", userspan::DEFAULT_FLUSH_TIMEOUT.as_secs_f64())?;
    m.add_class::<PyAttributes>()?;
    m.add_class::<PyScope>()?;
    m.add_class::<PySpan>()?;
    m.add_class::<PyPrivacy>()?;
    m.add_function(wrap_pyfunction!(start, m)?)?;
    m.add_function(wrap_pyfunction!(nest, m)?)?;
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(flush, m)?)?;
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(finished_spans, m)?)?;
    m.add_function(wrap_pyfunction!(clear_finished_spans, m)?)?;
    m.add_function(wrap_pyfunction!(reinit_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(type_error, m)?)?;
    m.add_function(wrap_pyfunction!(value_error, m)?)?;
    m.add_function(wrap_pyfunction!(export_otel_span, m)?)?;
    m.add_function(wrap_pyfunction!(host_export_active, m)?)?;
    Ok(())
}
