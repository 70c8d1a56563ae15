//! The one place core errors become JavaScript exceptions.
//!
//! | core `Error::kind()` | JS class     | `code`                       |
//! |----------------------|--------------|------------------------------|
//! | `type`               | `TypeError`  | `USERSPAN_INVALID_TYPE`      |
//! | `unknown_option`     | `TypeError`  | `USERSPAN_UNKNOWN_OPTION`    |
//! | `value`              | `RangeError` | `USERSPAN_INVALID_VALUE`     |
//! | `config`             | `Error`      | `USERSPAN_CONFIG`            |
//!
//! Every error also has `field`: the option's name as the caller spelled it (`userId`,
//! `tags[1]`, `attributes.k`), or `null` for configuration errors. The message is the core's.
//! The TypeScript layer's own argument checks (`src/ts/errors.ts`) use the same codes.

use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, Error, Status};
use std::ptr;

/// The `code` property for a core error kind.
pub(crate) fn code(kind: &str) -> &'static str {
    match kind {
        "type" => "USERSPAN_INVALID_TYPE",
        "unknown_option" => "USERSPAN_UNKNOWN_OPTION",
        "value" => "USERSPAN_INVALID_VALUE",
        _ => "USERSPAN_CONFIG",
    }
}

fn js_string(env: sys::napi_env, s: &str) -> sys::napi_value {
    let mut out = ptr::null_mut();
    unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    out
}

/// Creates the JS exception object for `e` (null on failure to allocate).
pub(crate) fn create(raw: sys::napi_env, e: &userspan::Error) -> sys::napi_value {
    let code_value = js_string(raw, code(e.kind()));
    let message = js_string(raw, &e.to_string());
    let mut obj = ptr::null_mut();
    let status = unsafe {
        match e.kind() {
            "type" | "unknown_option" => sys::napi_create_type_error(raw, code_value, message, &mut obj),
            "value" => sys::napi_create_range_error(raw, code_value, message, &mut obj),
            _ => sys::napi_create_error(raw, code_value, message, &mut obj),
        }
    };
    if status != sys::Status::napi_ok || obj.is_null() {
        return ptr::null_mut();
    }
    let field = match e.field() {
        Some(f) => js_string(raw, f),
        None => {
            let mut null = ptr::null_mut();
            unsafe { sys::napi_get_null(raw, &mut null) };
            null
        }
    };
    unsafe { sys::napi_set_named_property(raw, obj, c"field".as_ptr(), field) };
    obj
}

/// Throws the JS exception for `e` (for raw callbacks, which then return null).
pub(crate) fn throw(raw: sys::napi_env, e: &userspan::Error) {
    let obj = create(raw, e);
    if obj.is_null() {
        let msg = std::ffi::CString::new(e.to_string()).unwrap_or_default();
        unsafe { sys::napi_throw_error(raw, ptr::null(), msg.as_ptr()) };
    } else {
        unsafe { sys::napi_throw(raw, obj) };
    }
}

/// Builds the JS exception for `e`; returning the result as `Err` from a `#[napi]` function throws
/// that exact object.
pub(crate) fn to_js(env: &Env, e: &userspan::Error) -> Error {
    let raw = env.raw();
    let obj = create(raw, e);
    if obj.is_null() {
        return Error::new(Status::GenericFailure, e.to_string());
    }
    Error::from(unsafe { Unknown::from_raw_unchecked(raw, obj) })
}

/// `Result` adapter: core error → JS exception.
pub(crate) trait OrThrow<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for userspan::Result<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| to_js(env, &e))
    }
}
