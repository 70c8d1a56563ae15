//! JS values → [`userspan::OptionValue`], and nothing more: every check (unknown option, wrong
//! type, enum values, truncation) happens in the core's `from_options`.
//!
//! null / undefined → `Null`; boolean → `Bool`; an integer-valued number in i64 range → `Int`;
//! any other number → `Float`; string → `Str`; Array → `List`; a plain object (prototype
//! `Object.prototype` or `null`) → `Map` of its own enumerable string keys, in order; anything
//! else (function, symbol, bigint, Date, Map, class instance, ...) → `Other(type name)`.

use napi::{sys, Error, Result, Status};
use std::ptr;
use userspan::OptionValue;

/// Objects nested deeper than this (or cyclic) are reported as `Other` instead of recursing.
const MAX_DEPTH: u32 = 32;

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(Status::from(status), format!("userspan: reading {what} failed")))
    }
}

/// `typeof value` as napi reports it.
pub(crate) unsafe fn type_of(env: sys::napi_env, v: sys::napi_value) -> Result<i32> {
    let mut t = 0;
    check(unsafe { sys::napi_typeof(env, v, &mut t) }, "a value's type")?;
    Ok(t)
}

/// A JS string as a Rust `String` (lone surrogates become U+FFFD, as napi does).
pub(crate) unsafe fn string(env: sys::napi_env, v: sys::napi_value) -> Result<String> {
    let mut len = 0usize;
    check(unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) }, "a string")?;
    let mut buf: Vec<u8> = Vec::with_capacity(len + 1);
    let mut written = 0usize;
    check(
        unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut written) },
        "a string",
    )?;
    unsafe { buf.set_len(written) };
    // napi writes valid UTF-8.
    Ok(String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

unsafe fn prototype(env: sys::napi_env, v: sys::napi_value) -> Result<sys::napi_value> {
    let mut p = ptr::null_mut();
    check(unsafe { sys::napi_get_prototype(env, v, &mut p) }, "a prototype")?;
    Ok(p)
}

/// `value.constructor.name` (for error messages), else "object".
unsafe fn constructor_name(env: sys::napi_env, v: sys::napi_value) -> String {
    let get = |obj: sys::napi_value, name: &std::ffi::CStr| -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        (unsafe { sys::napi_get_named_property(env, obj, name.as_ptr(), &mut out) } == sys::Status::napi_ok)
            .then_some(out)
    };
    get(v, c"constructor")
        .filter(|c| unsafe { type_of(env, *c) }.ok() == Some(sys::ValueType::napi_function))
        .and_then(|c| get(c, c"name"))
        .filter(|n| unsafe { type_of(env, *n) }.ok() == Some(sys::ValueType::napi_string))
        .and_then(|n| unsafe { string(env, n) }.ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "object".into())
}

/// Own enumerable string-keyed entries of an object, in property order.
pub(crate) unsafe fn entries(
    env: sys::napi_env,
    obj: sys::napi_value,
    depth: u32,
) -> Result<Vec<(String, OptionValue)>> {
    let mut names = ptr::null_mut();
    check(
        unsafe {
            sys::napi_get_all_property_names(
                env,
                obj,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        },
        "an object's keys",
    )?;
    let mut len = 0u32;
    check(unsafe { sys::napi_get_array_length(env, names, &mut len) }, "an object's keys")?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut key = ptr::null_mut();
        check(unsafe { sys::napi_get_element(env, names, i, &mut key) }, "an object key")?;
        let mut value = ptr::null_mut();
        check(unsafe { sys::napi_get_property(env, obj, key, &mut value) }, "an object property")?;
        let key = unsafe { string(env, key) }?;
        out.push((key, unsafe { option_value(env, value, depth + 1) }?));
    }
    Ok(out)
}

/// Translates one JS value.
pub(crate) unsafe fn option_value(env: sys::napi_env, v: sys::napi_value, depth: u32) -> Result<OptionValue> {
    use sys::ValueType as T;
    Ok(match unsafe { type_of(env, v) }? {
        T::napi_undefined | T::napi_null => OptionValue::Null,
        T::napi_boolean => {
            let mut b = false;
            check(unsafe { sys::napi_get_value_bool(env, v, &mut b) }, "a boolean")?;
            OptionValue::Bool(b)
        }
        T::napi_number => {
            let mut f = 0f64;
            check(unsafe { sys::napi_get_value_double(env, v, &mut f) }, "a number")?;
            // 2^63 is exactly representable; anything below it with no fraction fits in i64.
            if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
                OptionValue::Int(f as i64)
            } else {
                OptionValue::Float(f)
            }
        }
        T::napi_string => OptionValue::Str(unsafe { string(env, v) }?.into()),
        T::napi_object => {
            if depth > MAX_DEPTH {
                return Ok(OptionValue::Other("object nested too deeply (or cyclic)".into()));
            }
            let mut is_array = false;
            check(unsafe { sys::napi_is_array(env, v, &mut is_array) }, "an array")?;
            if is_array {
                let mut len = 0u32;
                check(unsafe { sys::napi_get_array_length(env, v, &mut len) }, "an array")?;
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let mut item = ptr::null_mut();
                    check(unsafe { sys::napi_get_element(env, v, i, &mut item) }, "an array item")?;
                    items.push(unsafe { option_value(env, item, depth + 1) }?);
                }
                return Ok(OptionValue::List(items));
            }
            // Plain object: its prototype is null, or a prototype whose own prototype is null
            // (Object.prototype of this or another realm).
            let proto = unsafe { prototype(env, v) }?;
            let plain = unsafe { type_of(env, proto) }? == T::napi_null
                || unsafe { type_of(env, prototype(env, proto)?) }? == T::napi_null;
            if plain {
                OptionValue::Map(unsafe { entries(env, v, depth) }?)
            } else {
                OptionValue::Other(unsafe { constructor_name(env, v) })
            }
        }
        T::napi_function => OptionValue::Other("function".into()),
        T::napi_symbol => OptionValue::Other("symbol".into()),
        T::napi_bigint => OptionValue::Other("bigint".into()),
        _ => OptionValue::Other("external".into()),
    })
}

/// [`option_value`] with a fast path for strings (one napi call for strings under 252 bytes; napi
/// cuts at a character boundary, so a result that leaves 4 spare bytes is complete).
pub(crate) unsafe fn option_value_fast(env: sys::napi_env, v: sys::napi_value) -> Result<OptionValue> {
    let mut buf = [0u8; 256];
    let mut written = 0usize;
    let status = unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), buf.len(), &mut written) };
    if status == sys::Status::napi_ok && written + 4 < buf.len() {
        // Straight from the stack buffer into the shared string the core keeps (one copy).
        let s = std::str::from_utf8(&buf[..written])
            .unwrap_or_else(|e| std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default());
        return Ok(OptionValue::Str(s.into()));
    }
    unsafe { option_value(env, v, 1) }
}

/// A string argument the TypeScript layer passes (span name, hex ids): one napi call when short.
pub(crate) unsafe fn key(env: sys::napi_env, v: sys::napi_value) -> Result<String> {
    let mut buf = [0u8; 128];
    let mut written = 0usize;
    let status = unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), buf.len(), &mut written) };
    if status == sys::Status::napi_ok && written + 4 < buf.len() {
        if let Ok(s) = std::str::from_utf8(&buf[..written]) {
            return Ok(s.to_owned());
        }
    }
    unsafe { string(env, v) }
}
