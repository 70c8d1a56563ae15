//! The one place where core errors become Python exceptions.
//!
//! ```text
//! UserspanError(Exception)                     base of everything userspan raises; `.code`, `.kind`, `.field`
//! ├── UserspanTypeError(UserspanError, TypeError)    USERSPAN_INVALID_TYPE (wrong type) or USERSPAN_UNKNOWN_OPTION
//! └── UserspanValueError(UserspanError, ValueError)  USERSPAN_INVALID_VALUE (e.g. user_id_type outside the enum)
//!     └── ConfigError(UserspanValueError)            USERSPAN_CONFIG (unusable init configuration)
//! ```
//!
//! `.code` is the core's stable code ([`userspan::Error::code`]), the same value the JS packages
//! expose as `.code`. `.kind` is the core's short kind name ([`userspan::Error::kind`]: `type`,
//! `value`, `unknown_option`, `config`), kept as a compatibility alias of `.code`. `.field` names
//! the option the error is about (snake_case, as the caller spelled it; `None` for configuration
//! errors). The message is the core's `Display`, unchanged.
//!
//! [`to_py`] matches the core's [`userspan::Error`] exhaustively: a new core variant does not
//! compile until it is mapped here.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

struct Classes {
    base: Py<PyType>,
    type_error: Py<PyType>,
    value_error: Py<PyType>,
    config_error: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn make_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: Vec<Bound<'py, PyAny>>,
    doc: &str,
) -> PyResult<Bound<'py, PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "userspan")?;
    ns.set_item("__doc__", doc)?;
    ns.set_item("code", py.None())?;
    ns.set_item("kind", py.None())?;
    ns.set_item("field", py.None())?;
    let bases = PyTuple::new(py, bases)?;
    let cls = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(cls.cast_into::<PyType>()?)
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let base = make_class(
            py,
            "UserspanError",
            vec![py.get_type::<PyException>().into_any()],
            "Base class of every error userspan raises. `code` is the core's stable code: \
             \"USERSPAN_INVALID_TYPE\", \"USERSPAN_UNKNOWN_OPTION\", \"USERSPAN_INVALID_VALUE\" or \
             \"USERSPAN_CONFIG\" (the same codes as the JS packages' `.code`). `kind` is the short kind \
             name (\"type\", \"unknown_option\", \"value\", \"config\"), kept as a compatibility alias \
             of `code`. `field` names the offending option (None for configuration errors).",
        )?;
        let type_error = make_class(
            py,
            "UserspanTypeError",
            vec![base.clone().into_any(), py.get_type::<PyTypeError>().into_any()],
            "An option has the wrong type (code \"USERSPAN_INVALID_TYPE\", kind \"type\") or is not an \
             option at all (code \"USERSPAN_UNKNOWN_OPTION\", kind \"unknown_option\"). Raised at the \
             call, before the wrapped function runs.",
        )?;
        let value_error = make_class(
            py,
            "UserspanValueError",
            vec![base.clone().into_any(), py.get_type::<PyValueError>().into_any()],
            "An option has a value outside what is allowed (code \"USERSPAN_INVALID_VALUE\", kind \
             \"value\"), e.g. user_id_type not one of \"email\", \"phone\", \"uuid\", \"custom\". Raised at \
             the call, before the wrapped function runs.",
        )?;
        let config_error = make_class(
            py,
            "ConfigError",
            vec![value_error.clone().into_any()],
            "init() configuration is unusable (code \"USERSPAN_CONFIG\", kind \"config\"): bad endpoint, \
             missing hash key, ...",
        )?;
        Ok::<_, PyErr>(Classes {
            base: base.unbind(),
            type_error: type_error.unbind(),
            value_error: value_error.unbind(),
            config_error: config_error.unbind(),
        })
    })
}

/// Adds the exception classes to the native module (re-exported by `userspan`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    m.add("UserspanError", c.base.bind(py))?;
    m.add("UserspanTypeError", c.type_error.bind(py))?;
    m.add("UserspanValueError", c.value_error.bind(py))?;
    m.add("ConfigError", c.config_error.bind(py))?;
    Ok(())
}

/// Converts a core error into the matching Python exception (class by variant; `.code`, `.kind`,
/// `.field` and the message from the core).
pub fn to_py(py: Python<'_>, e: userspan::Error) -> PyErr {
    use userspan::Error;
    let build = || -> PyResult<PyErr> {
        let c = classes(py)?;
        // Exhaustive on purpose (no `_` arm): a new core variant must be given a class here.
        let cls = match &e {
            Error::InvalidType { .. } | Error::UnknownOption { .. } => &c.type_error,
            Error::InvalidValue { .. } => &c.value_error,
            Error::Config(_) => &c.config_error,
        };
        let exc = cls.bind(py).call1((e.to_string(),))?;
        exc.setattr("code", e.code())?;
        exc.setattr("kind", e.kind())?;
        exc.setattr("field", e.field())?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}

/// `Result<T, userspan::Error>` → `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_py`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for userspan::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
