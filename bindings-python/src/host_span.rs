//! Python OpenTelemetry SDK spans (`opentelemetry.sdk.trace.ReadableSpan`) → the core's
//! [`userspan::HostSpan`], so that the spans of the app's OpenTelemetry instrumentations leave
//! through the pipeline `init` built (same exporter, queue, resource and drop counting as capture
//! spans) instead of a second, Python-side export pipeline.
//!
//! Only translation lives here (the host SDK already applied its attribute limits and types): the
//! fields of the Python objects are read through their public properties (`context`, `parent`,
//! `name`, `kind`, `start_time`, `end_time`, `attributes`, `events`, `links`, `status`,
//! `instrumentation_scope`, `dropped_*`), attribute values are mapped to OTel values one to one
//! (`str`, `bool`, `int`, `float`, and homogeneous sequences of those; anything else, which the
//! Python SDK never stores, is skipped).

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString, PyTuple};
use userspan::{HostEvent, HostLink, HostScope, HostSpan};

use crate::convert::str_of;

/// `str(v)` of a Python `str` (lossy for lone surrogates, which the SDK does not reject).
fn text(v: &Bound<'_, PyAny>) -> Option<String> {
    let s = v.cast::<PyString>().ok()?;
    Some(match str_of(s) {
        Some(t) => t.to_owned(),
        None => s.to_string_lossy().into_owned(),
    })
}

fn opt_text(v: &Bound<'_, PyAny>) -> Option<String> {
    if v.is_none() {
        None
    } else {
        text(v)
    }
}

/// One attribute value; `None` for a value OTel cannot carry (the Python SDK drops those itself).
fn value(v: &Bound<'_, PyAny>) -> Option<Value> {
    if let Some(s) = text(v) {
        return Some(Value::String(s.into()));
    }
    if v.is_instance_of::<PyBool>() {
        return Some(Value::Bool(v.is_truthy().ok()?));
    }
    if v.is_instance_of::<PyInt>() {
        return v.extract::<i64>().ok().map(Value::I64);
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Some(Value::F64(f.value()));
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = v.cast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = v.cast::<PyList>() {
        l.iter().collect()
    } else {
        return None;
    };
    // Homogeneous by the SDK's rules; the first element decides, others of another type are skipped.
    let first = match items.first() {
        Some(f) => f,
        None => return Some(Value::Array(Array::String(Vec::new()))),
    };
    Some(Value::Array(if first.is_instance_of::<PyString>() {
        Array::String(items.iter().filter_map(|x| text(x).map(StringValue::from)).collect())
    } else if first.is_instance_of::<PyBool>() {
        Array::Bool(items.iter().filter(|x| x.is_instance_of::<PyBool>()).filter_map(|x| x.is_truthy().ok()).collect())
    } else if first.is_instance_of::<PyInt>() {
        Array::I64(
            items.iter().filter(|x| !x.is_instance_of::<PyBool>()).filter_map(|x| x.extract::<i64>().ok()).collect(),
        )
    } else if first.is_instance_of::<PyFloat>() {
        Array::F64(items.iter().filter_map(|x| x.cast::<PyFloat>().ok().map(|f| f.value())).collect())
    } else {
        return None;
    }))
}

/// A mapping of attributes (`BoundedAttributes`, `MappingProxyType`, dict, or None).
fn attributes(m: &Bound<'_, PyAny>) -> PyResult<Vec<KeyValue>> {
    if m.is_none() {
        return Ok(Vec::new());
    }
    let py = m.py();
    let mut out = Vec::new();
    for item in m.call_method0(intern!(py, "items"))?.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        if let (Some(k), Some(v)) = (text(&k), value(&v)) {
            out.push(KeyValue::new(k, v));
        }
    }
    Ok(out)
}

fn count(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> u32 {
    obj.getattr(name).ok().and_then(|v| v.extract::<u64>().ok()).map_or(0, |n| n.min(u64::from(u32::MAX)) as u32)
}

/// The identity of a Python `SpanContext`, in the core's field shapes.
struct Ids {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    trace_flags: u8,
    trace_state: Option<String>,
}

/// The [`Ids`] of a Python `SpanContext` (`trace_id` and `span_id` are ints, big-endian on the wire).
fn ids(cx: &Bound<'_, PyAny>) -> PyResult<Ids> {
    let py = cx.py();
    let trace_id: u128 = cx.getattr(intern!(py, "trace_id"))?.extract()?;
    let span_id: u64 = cx.getattr(intern!(py, "span_id"))?.extract()?;
    let flags: u8 = cx.getattr(intern!(py, "trace_flags"))?.extract().unwrap_or(0);
    let ts = cx.getattr(intern!(py, "trace_state"))?;
    let state = if ts.is_none() || ts.len().unwrap_or(0) == 0 {
        None
    } else {
        opt_text(&ts.call_method0(intern!(py, "to_header"))?)
    };
    Ok(Ids { trace_id: trace_id.to_be_bytes(), span_id: span_id.to_be_bytes(), trace_flags: flags, trace_state: state })
}

fn kind(k: &Bound<'_, PyAny>) -> SpanKind {
    // opentelemetry.trace.SpanKind: INTERNAL 0, SERVER 1, CLIENT 2, PRODUCER 3, CONSUMER 4.
    match k.getattr(intern!(k.py(), "value")).and_then(|v| v.extract::<i64>()).unwrap_or(0) {
        1 => SpanKind::Server,
        2 => SpanKind::Client,
        3 => SpanKind::Producer,
        4 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn status(s: &Bound<'_, PyAny>) -> PyResult<Status> {
    if s.is_none() {
        return Ok(Status::Unset);
    }
    let py = s.py();
    // opentelemetry.trace.StatusCode: UNSET 0, OK 1, ERROR 2.
    let code: i64 = s.getattr(intern!(py, "status_code"))?.getattr(intern!(py, "value"))?.extract()?;
    Ok(match code {
        1 => Status::Ok,
        2 => Status::error(opt_text(&s.getattr(intern!(py, "description"))?).unwrap_or_default()),
        _ => Status::Unset,
    })
}

fn scope(s: &Bound<'_, PyAny>) -> PyResult<HostScope> {
    if s.is_none() {
        return Ok(HostScope::default());
    }
    let py = s.py();
    Ok(HostScope {
        name: opt_text(&s.getattr(intern!(py, "name"))?).unwrap_or_default(),
        version: opt_text(&s.getattr(intern!(py, "version"))?),
        schema_url: opt_text(&s.getattr(intern!(py, "schema_url"))?).filter(|u| !u.is_empty()),
        attributes: match s.getattr(intern!(py, "attributes")) {
            Ok(a) => attributes(&a)?,
            Err(_) => Vec::new(),
        },
    })
}

/// Translates one finished Python SDK span (`ReadableSpan`).
pub fn host_span(span: &Bound<'_, PyAny>) -> PyResult<HostSpan> {
    let py = span.py();
    let dropped = intern!(py, "dropped_attributes");
    let Ids { trace_id, span_id, trace_flags, trace_state } = ids(&span.getattr(intern!(py, "context"))?)?;
    let parent = span.getattr(intern!(py, "parent"))?;
    let (parent_span_id, parent_is_remote) = if parent.is_none() {
        (None, false)
    } else {
        let id: u64 = parent.getattr(intern!(py, "span_id"))?.extract()?;
        let remote = parent.getattr(intern!(py, "is_remote"))?.is_truthy()?;
        (if id == 0 { None } else { Some(id.to_be_bytes()) }, remote)
    };
    let start: u64 = span.getattr(intern!(py, "start_time"))?.extract().unwrap_or(0);
    let end: u64 = span.getattr(intern!(py, "end_time"))?.extract().unwrap_or(start);
    let mut events = Vec::new();
    for e in span.getattr(intern!(py, "events"))?.try_iter()? {
        let e = e?;
        events.push(HostEvent {
            name: opt_text(&e.getattr(intern!(py, "name"))?).unwrap_or_default(),
            time_unix_nano: e.getattr(intern!(py, "timestamp"))?.extract().unwrap_or(0),
            attributes: attributes(&e.getattr(intern!(py, "attributes"))?)?,
            dropped_attributes_count: count(&e, dropped),
        });
    }
    let mut links = Vec::new();
    for l in span.getattr(intern!(py, "links"))?.try_iter()? {
        let l = l?;
        let Ids { trace_id, span_id, trace_flags, trace_state } = ids(&l.getattr(intern!(py, "context"))?)?;
        links.push(HostLink {
            trace_id,
            span_id,
            trace_flags,
            trace_state,
            attributes: attributes(&l.getattr(intern!(py, "attributes"))?)?,
            dropped_attributes_count: count(&l, dropped),
        });
    }
    Ok(HostSpan {
        trace_id,
        span_id,
        parent_span_id,
        parent_is_remote,
        trace_flags,
        trace_state,
        name: opt_text(&span.getattr(intern!(py, "name"))?).unwrap_or_default(),
        kind: kind(&span.getattr(intern!(py, "kind"))?),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attributes(&span.getattr(intern!(py, "attributes"))?)?,
        dropped_attributes_count: count(span, dropped),
        events,
        dropped_events_count: count(span, intern!(py, "dropped_events")),
        links,
        dropped_links_count: count(span, intern!(py, "dropped_links")),
        status: status(&span.getattr(intern!(py, "status"))?)?,
        scope: scope(&span.getattr(intern!(py, "instrumentation_scope"))?)?,
    })
}
