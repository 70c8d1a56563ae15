//! JS values → [`userspan::OptionValue`], and nothing more: every check (unknown option, wrong
//! type, enum values, truncation) happens in the core's `from_options`.
//!
//! null / undefined → `Null`; boolean → `Bool`; an integer-valued number in i64 range → `Int`;
//! any other number → `Float`; string → `Str`; Array → `List`; a plain object (prototype
//! `Object.prototype` or `null`) → `Map` of its own enumerable string keys, in order; anything
//! else (function, symbol, bigint, Date, Map, class instance, ...) → `Other(type name)`.
//!
//! And back: core JSON (`serde_json`) → JS values through `JSON.parse`.

use js_sys::{Array, Object, Reflect};
use userspan::OptionValue;
use wasm_bindgen::{JsCast, JsValue};

/// Objects nested deeper than this (or cyclic) are reported as `Other` instead of recursing.
const MAX_DEPTH: u32 = 32;

thread_local! {
    static OBJECT_PROTOTYPE: JsValue = Object::get_prototype_of(&Object::new()).into();
}

/// Is `v` an object literal / `Object.create(null)` (not an array, class instance, Date, Map...)?
pub(crate) fn is_plain_object(v: &JsValue) -> bool {
    if !v.is_object() || Array::is_array(v) {
        return false;
    }
    let proto: JsValue = Object::get_prototype_of(v).into();
    proto.is_null() || OBJECT_PROTOTYPE.with(|p| *p == proto)
}

/// The host type name for an error message: `typeof`, or the constructor's name for objects.
fn type_name(v: &JsValue) -> String {
    let t = v.js_typeof().as_string().unwrap_or_default();
    if t != "object" {
        return t;
    }
    Reflect::get(v, &JsValue::from_str("constructor"))
        .ok()
        .filter(|c| c.is_function())
        .and_then(|c| Reflect::get(&c, &JsValue::from_str("name")).ok())
        .and_then(|n| n.as_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "object".into())
}

fn number(n: f64) -> OptionValue {
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    if n.fract() == 0.0 && n >= i64::MIN as f64 && n < i64::MAX as f64 {
        OptionValue::Int(n as i64)
    } else {
        OptionValue::Float(n)
    }
}

/// Translates one JS value.
pub(crate) fn option_value(v: &JsValue) -> OptionValue {
    value_at(v, 0)
}

fn value_at(v: &JsValue, depth: u32) -> OptionValue {
    if v.is_null() || v.is_undefined() {
        return OptionValue::Null;
    }
    if let Some(s) = v.as_string() {
        return OptionValue::Str(s.into());
    }
    if let Some(b) = v.as_bool() {
        return OptionValue::Bool(b);
    }
    if let Some(n) = v.as_f64() {
        return number(n);
    }
    if depth >= MAX_DEPTH {
        return OptionValue::Other("object nested too deeply (or cyclic)".into());
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        return OptionValue::List(a.iter().map(|x| value_at(&x, depth + 1)).collect());
    }
    if is_plain_object(v) {
        return OptionValue::Map(entries_at(v.unchecked_ref(), depth + 1));
    }
    OptionValue::Other(type_name(v))
}

/// Own enumerable string-keyed entries of a plain object, in property order.
pub(crate) fn entries(obj: &Object) -> Vec<(String, OptionValue)> {
    entries_at(obj, 0)
}

fn entries_at(obj: &Object, depth: u32) -> Vec<(String, OptionValue)> {
    let keys = Object::keys(obj);
    let mut out = Vec::with_capacity(keys.length() as usize);
    for k in keys.iter() {
        let value = Reflect::get(obj, &k).unwrap_or(JsValue::UNDEFINED);
        out.push((k.as_string().unwrap_or_default(), value_at(&value, depth)));
    }
    out
}

/// JSON (already produced by the core) → a fresh JS value.
pub(crate) fn to_js(json: &serde_json::Value) -> JsValue {
    let text = serde_json::to_string(json).unwrap_or_else(|_| "null".into());
    js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL)
}
