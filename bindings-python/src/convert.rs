//! Host-value translation only: Python objects → [`OptionValue`] (validation is the core's job,
//! in [`userspan::Attributes::from_options`] / [`userspan::Config::from_options`]) and JSON → Python.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value as Json;
use std::borrow::Cow;
use userspan::{KeyStyle, OptionValue};

extern "C" {
    // Public C API since CPython 3.3 (stable ABI from 3.10); exported by every CPython >= 3.9, so
    // an abi3-py39 module may call it. It borrows the string's cached UTF-8 form, avoiding the
    // bytes object `PyUnicode_AsUTF8String` (pyo3's abi3 < 3.10 path) allocates per call.
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// The UTF-8 text of a `str`, borrowed from CPython's cached UTF-8 form; `None` when it is not
/// valid UTF-8 (lone surrogates).
pub fn str_of<'a>(s: &'a Bound<'_, PyString>) -> Option<&'a str> {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live `str` and the thread is attached to the interpreter (a `Bound` proves
    // both); `&mut size` is a valid out-pointer. The returned buffer belongs to `s`.
    let ptr = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if ptr.is_null() {
        // Clear the UnicodeEncodeError.
        let _ = PyErr::take(s.py());
        return None;
    }
    // SAFETY: `ptr` is non-null here, and CPython guarantees `size` initialised bytes at it,
    // borrowed from `s` (its cached UTF-8 form), so the slice lives no longer than `'a`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), size as usize) };
    // SAFETY: `PyUnicode_AsUTF8AndSize` succeeded, so the bytes are CPython's UTF-8 encoding of
    // the string: valid UTF-8 (strings with lone surrogates fail above instead).
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// The UTF-8 text of a `str` as an owned `String`, `None` when it is not valid UTF-8.
pub fn string(s: &Bound<'_, PyString>) -> Option<String> {
    str_of(s).map(str::to_owned)
}

/// Translates one Python value. `bool` is checked before `int` (bool is an int subclass).
pub fn option_value(v: &Bound<'_, PyAny>) -> OptionValue {
    if v.is_none() {
        return OptionValue::Null;
    }
    if let Ok(s) = v.cast::<PyString>() {
        return match str_of(s) {
            // One copy, straight into the shared string the core keeps.
            Some(s) => OptionValue::Str(s.into()),
            None => OptionValue::Other("str (not valid UTF-8)".into()),
        };
    }
    if v.is_instance_of::<PyBool>() {
        return OptionValue::Bool(v.is_truthy().unwrap_or(false));
    }
    if v.is_instance_of::<PyInt>() {
        return match v.extract::<i64>() {
            Ok(i) => OptionValue::Int(i),
            Err(_) => OptionValue::Other("int (outside the 64-bit range)".into()),
        };
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return OptionValue::Float(f.value());
    }
    if let Ok(l) = v.cast::<PyList>() {
        return OptionValue::List(l.iter().map(|x| option_value(&x)).collect());
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return OptionValue::List(t.iter().map(|x| option_value(&x)).collect());
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(d.len());
        for (k, x) in d.iter() {
            match k.cast::<PyString>().ok().and_then(string) {
                Some(k) => entries.push((k, option_value(&x))),
                None => return OptionValue::Other("dict with a non-string key".into()),
            }
        }
        return OptionValue::Map(entries);
    }
    OptionValue::Other(type_name(v))
}

/// `module.QualName` of `v`'s type (`QualName` alone for builtins).
pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    qualified_name(&v.get_type())
}

/// `module.QualName` of a class (`QualName` alone for builtins).
pub fn qualified_name(t: &Bound<'_, pyo3::types::PyType>) -> String {
    use pyo3::types::PyTypeMethods;
    let qual = t.qualname().map(|q| q.to_string()).unwrap_or_else(|_| "object".into());
    match t.module() {
        Ok(m) if m.to_cow().map(|m| m != "builtins").unwrap_or(false) => format!("{m}.{qual}"),
        _ => qual,
    }
}

/// Entries of a dict of options, translated. The caller has checked that `d` is a dict.
pub fn option_entries(d: &Bound<'_, PyDict>) -> Vec<(String, OptionValue)> {
    dict_entries(d, str::to_owned)
}

/// Capture options as the core takes them: (option name, host value) pairs.
pub type CaptureOptions = Vec<(Cow<'static, str>, OptionValue)>;

/// [`option_entries`] for the core's own option names: a known name is borrowed from the core's
/// list instead of copied (the capture hot path); any other key is kept for the error message.
pub fn capture_option_entries(d: &Bound<'_, PyDict>) -> CaptureOptions {
    let names = KeyStyle::Snake.option_name_list();
    dict_entries(d, |k| match names.iter().find(|n| **n == k) {
        Some(n) => Cow::Borrowed(*n),
        None => Cow::Owned(k.to_owned()),
    })
}

fn dict_entries<K>(d: &Bound<'_, PyDict>, key: impl Fn(&str) -> K) -> Vec<(K, OptionValue)> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let key = match k.cast::<PyString>() {
            Ok(s) => key(str_of(s).unwrap_or_default()),
            // A non-string key is an unknown option; its repr names it in the error.
            Err(_) => key(&k.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into())),
        };
        out.push((key, option_value(&v)));
    }
    out
}

/// A JSON value as a Python object (dict, list, str, int, float, bool, None).
pub fn json_to_py<'py>(py: Python<'py>, v: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Json::String(s) => PyString::new(py, s).into_any(),
        Json::Array(a) => {
            let items = a.iter().map(|x| json_to_py(py, x)).collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Json::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}
