//! The one place core errors become JavaScript exceptions.
//!
//! [`create`] matches on the [`userspan::Error`] variants (exhaustively: a new core variant does not
//! compile until it is mapped here) and constructs the shared JS error classes
//! (`js-shared/errors.ts`), which the TypeScript layer registers at load
//! ([`register_error_classes`]):
//!
//! | core variant    | JS class             | built on     | `code` ([`userspan::Error::code`]) |
//! |-----------------|----------------------|--------------|------------------------------------|
//! | `InvalidType`   | `UserspanTypeError`  | `TypeError`  | `USERSPAN_INVALID_TYPE`            |
//! | `UnknownOption` | `UserspanTypeError`  | `TypeError`  | `USERSPAN_UNKNOWN_OPTION`          |
//! | `InvalidValue`  | `UserspanValueError` | `RangeError` | `USERSPAN_INVALID_VALUE`           |
//! | `Config`        | `ConfigError`        | `Error`      | `USERSPAN_CONFIG`                  |
//!
//! Every error also has `field`: the option's name as the caller spelled it (`userId`,
//! `tags[1]`, `attributes.k`), or `null` for configuration errors. The message is the core's
//! (`Display`), unchanged. Before the classes are registered (or if constructing one fails) the
//! built-in class of the "built on" column is used, with the same `code` and `field`.

use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, Error, JsValue, Status};
use std::cell::RefCell;
use std::ptr;

/// Which shared JS class a core error becomes.
#[derive(Clone, Copy)]
enum Class {
    /// `UserspanTypeError` (a `TypeError`).
    Type = 0,
    /// `UserspanValueError` (a `RangeError`).
    Value = 1,
    /// `ConfigError` (an `Error`).
    Config = 2,
}

/// The mapping: every core variant to its class.
fn class_of(e: &userspan::Error) -> Class {
    match e {
        userspan::Error::InvalidType { .. } | userspan::Error::UnknownOption { .. } => Class::Type,
        userspan::Error::InvalidValue { .. } => Class::Value,
        userspan::Error::Config(_) => Class::Config,
    }
}

thread_local! {
    /// References to the registered classes, per JS thread (each worker thread loads the addon
    /// into its own environment and registers its own classes).
    static CLASSES: RefCell<Option<[sys::napi_ref; 3]>> = const { RefCell::new(None) };
}

/// Registers the JS classes core errors are thrown as: `new C(message, code, field)` for
/// `UserspanTypeError`, `UserspanValueError` and `ConfigError` (called once by `index.ts`).
#[napi_derive::napi]
pub fn register_error_classes(env: Env, type_error: Unknown, value_error: Unknown, config_error: Unknown) {
    let raw = env.raw();
    let mut refs = [ptr::null_mut(); 3];
    for (slot, class) in refs.iter_mut().zip([type_error.raw(), value_error.raw(), config_error.raw()]) {
        // SAFETY: `raw` is the live env of this call and `class` a value of it; the reference is
        // strong (count 1), so the class stays alive as long as the reference is kept.
        unsafe { sys::napi_create_reference(raw, class, 1, slot) };
    }
    CLASSES.with(|c| *c.borrow_mut() = Some(refs));
}

fn js_string(env: sys::napi_env, s: &str) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: `s` is valid UTF-8 of `s.len()` bytes for the duration of the call; `env` is live.
    unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    out
}

/// The registered class for `class`, if any.
fn registered(env: sys::napi_env, class: Class) -> Option<sys::napi_value> {
    let r = CLASSES.with(|c| c.borrow().map(|refs| refs[class as usize]))?;
    let mut value = ptr::null_mut();
    // SAFETY: `r` was created by `napi_create_reference` on this thread's env and never deleted.
    let status = unsafe { sys::napi_get_reference_value(env, r, &mut value) };
    (status == sys::Status::napi_ok && !value.is_null()).then_some(value)
}

/// Creates the JS exception object for `e` (null on failure to allocate).
pub(crate) fn create(raw: sys::napi_env, e: &userspan::Error) -> sys::napi_value {
    let class = class_of(e);
    let code = js_string(raw, e.code());
    let message = js_string(raw, &e.to_string());
    let mut field = ptr::null_mut();
    match e.field() {
        Some(f) => field = js_string(raw, f),
        None => {
            // SAFETY: `raw` is live; `field` receives the singleton null.
            unsafe { sys::napi_get_null(raw, &mut field) };
        }
    }
    let mut obj = ptr::null_mut();
    if let Some(ctor) = registered(raw, class) {
        let argv = [message, code, field];
        // SAFETY: `ctor` is a JS class of this env and `argv` holds 3 values of it.
        let status = unsafe { sys::napi_new_instance(raw, ctor, argv.len(), argv.as_ptr(), &mut obj) };
        if status == sys::Status::napi_ok && !obj.is_null() {
            return obj;
        }
        // The constructor threw (it should not): clear that and fall back to the built-in class.
        let mut pending = ptr::null_mut();
        // SAFETY: `raw` is live; this takes (and drops) the exception the constructor left pending.
        unsafe { sys::napi_get_and_clear_last_exception(raw, &mut pending) };
        obj = ptr::null_mut();
    }
    // SAFETY: `code` and `message` are JS strings of `raw`; `obj` receives the new error.
    let status = unsafe {
        match class {
            Class::Type => sys::napi_create_type_error(raw, code, message, &mut obj),
            Class::Value => sys::napi_create_range_error(raw, code, message, &mut obj),
            Class::Config => sys::napi_create_error(raw, code, message, &mut obj),
        }
    };
    if status != sys::Status::napi_ok || obj.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `obj` is an object of `raw` and the name a NUL-terminated C string.
    unsafe { sys::napi_set_named_property(raw, obj, c"field".as_ptr(), field) };
    obj
}

/// Throws the JS exception for `e` (for raw callbacks, which then return null).
pub(crate) fn throw(raw: sys::napi_env, e: &userspan::Error) {
    let obj = create(raw, e);
    if obj.is_null() {
        let msg = std::ffi::CString::new(e.to_string()).unwrap_or_default();
        // SAFETY: `msg` is a NUL-terminated string alive for the call; a null code is allowed.
        unsafe { sys::napi_throw_error(raw, ptr::null(), msg.as_ptr()) };
    } else {
        // SAFETY: `obj` is an error object of `raw`.
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
    // SAFETY: `obj` is a live value of `raw`, which outlives the returned error's use in this call.
    Error::from(unsafe { Unknown::from_raw_unchecked(raw, obj) })
}

/// `Result` adapter: core error → JS exception.
pub(crate) trait OrThrow<T> {
    /// The core error, if any, as the JS exception [`to_js`] builds.
    fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for userspan::Result<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| to_js(env, &e))
    }
}
