//! The one place core errors become JavaScript exceptions (the same classes and codes as the Node
//! package: both come from `js-shared/errors.ts`).
//!
//! [`to_js`] matches on the [`userspan::Error`] variants (exhaustively: a new core variant does not
//! compile until it is mapped here) and constructs the class the JS layer registered at load
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

use js_sys::{Array, Function, Reflect};
use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

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
    /// The registered classes (wasm32 has one thread per module instance).
    static CLASSES: RefCell<Option<[Function; 3]>> = const { RefCell::new(None) };
}

/// Registers the JS classes core errors are thrown as: `new C(message, code, field)` for
/// `UserspanTypeError`, `UserspanValueError` and `ConfigError` (called once by the JS layer when
/// the module is instantiated).
#[wasm_bindgen(js_name = registerErrorClasses)]
pub fn register_error_classes(type_error: Function, value_error: Function, config_error: Function) {
    CLASSES.with(|c| *c.borrow_mut() = Some([type_error, value_error, config_error]));
}

/// The JS exception for `e`.
pub(crate) fn to_js(e: &userspan::Error) -> JsValue {
    let class = class_of(e);
    let message = JsValue::from_str(&e.to_string());
    let code = JsValue::from_str(e.code());
    let field = e.field().map(JsValue::from_str).unwrap_or(JsValue::NULL);
    let ctor = CLASSES.with(|c| c.borrow().as_ref().map(|classes| classes[class as usize].clone()));
    if let Some(ctor) = ctor {
        if let Ok(err) = Reflect::construct(&ctor, &Array::of3(&message, &code, &field)) {
            return err;
        }
    }
    let message = message.as_string().unwrap_or_default();
    let err: JsValue = match class {
        Class::Type => js_sys::TypeError::new(&message).into(),
        Class::Value => js_sys::RangeError::new(&message).into(),
        Class::Config => js_sys::Error::new(&message).into(),
    };
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &code);
    let _ = Reflect::set(&err, &JsValue::from_str("field"), &field);
    err
}

/// `Result` adapter: core error → JS exception.
pub(crate) trait OrThrow<T> {
    /// The core error, if any, as the JS exception [`to_js`] builds.
    fn or_throw(self) -> Result<T, JsValue>;
}

impl<T> OrThrow<T> for userspan::Result<T> {
    fn or_throw(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js(&e))
    }
}
