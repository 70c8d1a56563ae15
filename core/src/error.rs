//! The one error type of the core. Bindings map it to their host exceptions in one file each
//! (`TypeError` for [`Error::InvalidType`] and [`Error::UnknownOption`], `ValueError`/`RangeError`
//! for [`Error::InvalidValue`], a configuration error for [`Error::Config`]).

use std::fmt;

/// A programming error, raised at the call before any user code runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An option or attribute has the wrong type. `field` is the option's name as the caller spelled
    /// it (host naming style), `expected` says what is allowed, `got` what was passed.
    InvalidType {
        /// Option name, host naming style (`user_id` / `userId`; nested: `tags[1]`, `attributes.k`).
        field: String,
        /// What is allowed.
        expected: String,
        /// What was passed.
        got: String,
    },
    /// An option has a value outside what is allowed (e.g. `user_id_type` outside the enum).
    InvalidValue {
        /// Option name.
        field: String,
        /// The allowed values, quoted and comma separated.
        allowed: String,
        /// The value passed (debug-quoted).
        got: String,
    },
    /// An option key that does not exist. `allowed` lists the valid keys.
    UnknownOption {
        /// The unknown key as passed.
        field: String,
        /// The valid option names, comma separated.
        allowed: String,
    },
    /// `init` configuration is unusable (bad endpoint, missing hash key, feature not compiled in...).
    Config(String),
}

impl Error {
    /// The option name the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidType { field, .. }
            | Error::InvalidValue { field, .. }
            | Error::UnknownOption { field, .. } => Some(field),
            Error::Config(_) => None,
        }
    }

    /// The stable error code every binding exposes unchanged (Python `.code`, JS `.code`):
    /// `USERSPAN_INVALID_TYPE`, `USERSPAN_INVALID_VALUE`, `USERSPAN_UNKNOWN_OPTION`, `USERSPAN_CONFIG`.
    /// The match is exhaustive on purpose: a new variant does not compile until it has a code, and
    /// each binding's mapping (one function per binding) matches on the enum the same way.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidType { .. } => "USERSPAN_INVALID_TYPE",
            Error::InvalidValue { .. } => "USERSPAN_INVALID_VALUE",
            Error::UnknownOption { .. } => "USERSPAN_UNKNOWN_OPTION",
            Error::Config(_) => "USERSPAN_CONFIG",
        }
    }

    /// A stable short name for the kind: `type`, `value`, `unknown_option`, `config`. Used by the
    /// conformance vectors to check every language raises the same kind (Python's `.kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidType { .. } => "type",
            Error::InvalidValue { .. } => "value",
            Error::UnknownOption { .. } => "unknown_option",
            Error::Config(_) => "config",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidType { field, expected, got } => {
                write!(f, "userspan: `{field}` must be {expected}, got {got}")
            }
            Error::InvalidValue { field, allowed, got } => {
                write!(f, "userspan: `{field}` must be one of {allowed}, got {got}")
            }
            Error::UnknownOption { field, allowed } => {
                write!(f, "userspan: unknown option `{field}`; allowed options: {allowed}")
            }
            Error::Config(msg) => write!(f, "userspan: invalid configuration: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
