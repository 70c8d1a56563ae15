//! The one place core errors become JavaScript exceptions (same classes and codes as the Node
//! package).
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

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// The `code` property for a core error kind.
fn code(kind: &str) -> &'static str {
    match kind {
        "type" => "USERSPAN_INVALID_TYPE",
        "unknown_option" => "USERSPAN_UNKNOWN_OPTION",
        "value" => "USERSPAN_INVALID_VALUE",
        _ => "USERSPAN_CONFIG",
    }
}

/// The JS exception for `e`.
pub(crate) fn to_js(e: &userspan::Error) -> JsValue {
    let message = e.to_string();
    let err: JsValue = match e.kind() {
        "type" | "unknown_option" => js_sys::TypeError::new(&message).into(),
        "value" => js_sys::RangeError::new(&message).into(),
        _ => js_sys::Error::new(&message).into(),
    };
    let field = e.field().map(JsValue::from_str).unwrap_or(JsValue::NULL);
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code(e.kind())));
    let _ = Reflect::set(&err, &JsValue::from_str("field"), &field);
    err
}

/// `Result` adapter: core error → JS exception.
pub(crate) trait OrThrow<T> {
    fn or_throw(self) -> Result<T, JsValue>;
}

impl<T> OrThrow<T> for userspan::Result<T> {
    fn or_throw(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js(&e))
    }
}
