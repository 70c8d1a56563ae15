//! JS values → [`userspan::OptionValue`], and nothing more: every check (unknown option, wrong
//! type, enum values, truncation) happens in the core's `from_options`.
//!
//! null / undefined → `Null`; boolean → `Bool`; an integer-valued number in i64 range → `Int`;
//! any other number → `Float`; string → `Str`; Array → `List`; a plain object (prototype
//! `Object.prototype` or `null`) → `Map` of its own enumerable string keys, in order; anything
//! else (function, symbol, bigint, Date, Map, class instance, ...) → `Other(type name)`.
//!
//! # Safety
//!
//! Every `unsafe fn` here has the same contract: `env` is the `napi_env` of the Node-API call
//! running now on this thread (a raw callback of `frame.rs`, a `#[napi]` function or the module's
//! registration), and every `napi_value` passed in belongs to that call: an argument of it, or
//! created through `env` during it. Such a value lives in the handle scope Node opened for the
//! call and closes only after it returns; the values made here (key lists, keys, properties,
//! prototypes, elements) are created in that same scope. Within that contract a napi getter is
//! sound whatever the JS type of the value (a wrong type is a non-`napi_ok` status, which `check`
//! turns into an error, not undefined behaviour), and each out-pointer below is a local of exactly
//! the type napi writes, so it is aligned, writable and outlives the call.

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
    // SAFETY: `env` and `v` meet the module contract; `t` is a local `napi_valuetype` (i32).
    check(unsafe { sys::napi_typeof(env, v, &mut t) }, "a value's type")?;
    Ok(t)
}

/// A JS string as a Rust `String` (lone surrogates become U+FFFD, as napi does).
pub(crate) unsafe fn string(env: sys::napi_env, v: sys::napi_value) -> Result<String> {
    let mut len = 0usize;
    // SAFETY: module contract for `env`/`v`. A null buffer asks only for the length in bytes
    // (without the NUL), written to the local `len`.
    check(unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) }, "a string")?;
    let mut buf: Vec<u8> = Vec::with_capacity(len + 1);
    let mut written = 0usize;
    check(
        // SAFETY: module contract for `env`/`v`; `buf` has `len + 1` bytes of capacity, so napi may
        // write the whole string and its NUL there, and it reports the bytes copied (without the NUL)
        // in the local `written`.
        unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut written) },
        "a string",
    )?;
    // SAFETY: the call above succeeded, so napi initialised `buf[..written]`; it copies at most
    // `bufsize - 1 = len` bytes (JS strings are immutable), so `written` is within the capacity.
    unsafe { buf.set_len(written) };
    // napi writes valid UTF-8.
    Ok(String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

unsafe fn prototype(env: sys::napi_env, v: sys::napi_value) -> Result<sys::napi_value> {
    let mut p = ptr::null_mut();
    // SAFETY: module contract for `env`/`v`; `p` is a local `napi_value` out-slot.
    check(unsafe { sys::napi_get_prototype(env, v, &mut p) }, "a prototype")?;
    Ok(p)
}

/// `value.constructor.name` (for error messages), else "object".
unsafe fn constructor_name(env: sys::napi_env, v: sys::napi_value) -> String {
    let get = |obj: sys::napi_value, name: &std::ffi::CStr| -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: module contract for `env`; `obj` is `v` or a property read from it in this call;
        // `name` is a NUL-terminated `CStr` that outlives the call; `out` is a local out-slot.
        (unsafe { sys::napi_get_named_property(env, obj, name.as_ptr(), &mut out) } == sys::Status::napi_ok)
            .then_some(out)
    };
    get(v, c"constructor")
        // SAFETY: `c` is `v.constructor`, just read through `env` in this call (module contract).
        .filter(|c| unsafe { type_of(env, *c) }.ok() == Some(sys::ValueType::napi_function))
        .and_then(|c| get(c, c"name"))
        // SAFETY: `n` is `v.constructor.name`, just read through `env` in this call.
        .filter(|n| unsafe { type_of(env, *n) }.ok() == Some(sys::ValueType::napi_string))
        // SAFETY: as above; `n` is that same name, checked to be a string.
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
        // SAFETY: module contract for `env`/`obj` (a non-object is a status, not UB); the mode,
        // filter and conversion are constants of napi's enums; `names` is a local out-slot.
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
    // SAFETY: `names` is the key array napi just created through `env` in this call; `len` is a
    // local `u32` out-slot.
    check(unsafe { sys::napi_get_array_length(env, names, &mut len) }, "an object's keys")?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut key = ptr::null_mut();
        // SAFETY: `names` as above and `i < len`; `key` is a local out-slot.
        check(unsafe { sys::napi_get_element(env, names, i, &mut key) }, "an object key")?;
        let mut value = ptr::null_mut();
        // SAFETY: `obj` meets the contract, `key` was just created through `env` in this call (same
        // handle scope); `value` is a local out-slot.
        check(unsafe { sys::napi_get_property(env, obj, key, &mut value) }, "an object property")?;
        // SAFETY: `key` as above (a string: numeric keys were converted).
        let key = unsafe { string(env, key) }?;
        // SAFETY: `value` was just read through `env` in this call, so it meets the contract.
        out.push((key, unsafe { option_value(env, value, depth + 1) }?));
    }
    Ok(out)
}

/// Translates one JS value.
pub(crate) unsafe fn option_value(env: sys::napi_env, v: sys::napi_value, depth: u32) -> Result<OptionValue> {
    use sys::ValueType as T;
    // SAFETY: `env` and `v` meet this function's (the module's) contract.
    Ok(match unsafe { type_of(env, v) }? {
        T::napi_undefined | T::napi_null => OptionValue::Null,
        T::napi_boolean => {
            let mut b = false;
            // SAFETY: module contract for `env`/`v`; `b` is a local `bool` out-slot.
            check(unsafe { sys::napi_get_value_bool(env, v, &mut b) }, "a boolean")?;
            OptionValue::Bool(b)
        }
        T::napi_number => {
            let mut f = 0f64;
            // SAFETY: module contract for `env`/`v`; `f` is a local `f64` out-slot.
            check(unsafe { sys::napi_get_value_double(env, v, &mut f) }, "a number")?;
            // 2^63 is exactly representable; anything below it with no fraction fits in i64.
            if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
                OptionValue::Int(f as i64)
            } else {
                OptionValue::Float(f)
            }
        }
        // SAFETY: `env` and `v` meet the module contract.
        T::napi_string => OptionValue::Str(unsafe { string(env, v) }?.into()),
        T::napi_object => {
            if depth > MAX_DEPTH {
                return Ok(OptionValue::Other("object nested too deeply (or cyclic)".into()));
            }
            let mut is_array = false;
            // SAFETY: module contract for `env`/`v`; `is_array` is a local `bool` out-slot.
            check(unsafe { sys::napi_is_array(env, v, &mut is_array) }, "an array")?;
            if is_array {
                let mut len = 0u32;
                // SAFETY: module contract for `env`/`v` (an array, checked above); `len` is a local out-slot.
                check(unsafe { sys::napi_get_array_length(env, v, &mut len) }, "an array")?;
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let mut item = ptr::null_mut();
                    // SAFETY: module contract for `env`/`v`, `i < len`; `item` is a local out-slot.
                    check(unsafe { sys::napi_get_element(env, v, i, &mut item) }, "an array item")?;
                    // SAFETY: `item` was just read through `env` in this call, so it meets the contract.
                    items.push(unsafe { option_value(env, item, depth + 1) }?);
                }
                return Ok(OptionValue::List(items));
            }
            // Plain object: its prototype is null, or a prototype whose own prototype is null
            // (Object.prototype of this or another realm).
            // SAFETY: `env` and `v` meet the module contract.
            let proto = unsafe { prototype(env, v) }?;
            // SAFETY: `proto` was just read through `env` in this call, and so is its own prototype
            // read inside the second block: both meet the module contract.
            let plain = unsafe { type_of(env, proto) }? == T::napi_null
                // SAFETY: see the comment above `plain`.
                || unsafe { type_of(env, prototype(env, proto)?) }? == T::napi_null;
            if plain {
                // SAFETY: `env` and `v` meet the module contract.
                OptionValue::Map(unsafe { entries(env, v, depth) }?)
            } else {
                // SAFETY: `env` and `v` meet the module contract.
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
    // SAFETY: module contract for `env`/`v`; napi writes at most `buf.len()` bytes (string and
    // NUL) into the local `buf` and the count copied into the local `written`.
    let status = unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), buf.len(), &mut written) };
    if status == sys::Status::napi_ok && written + 4 < buf.len() {
        // Straight from the stack buffer into the shared string the core keeps (one copy).
        let s = std::str::from_utf8(&buf[..written])
            .unwrap_or_else(|e| std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default());
        return Ok(OptionValue::Str(s.into()));
    }
    // SAFETY: `env` and `v` meet the module contract.
    unsafe { option_value(env, v, 1) }
}

/// A string argument the TypeScript layer passes (span name, hex ids): one napi call when short.
pub(crate) unsafe fn key(env: sys::napi_env, v: sys::napi_value) -> Result<String> {
    let mut buf = [0u8; 128];
    let mut written = 0usize;
    // SAFETY: as in `option_value_fast`: module contract for `env`/`v`, `buf.len()` bytes of the
    // local `buf`, the count into the local `written`.
    let status = unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), buf.len(), &mut written) };
    if status == sys::Status::napi_ok && written + 4 < buf.len() {
        if let Ok(s) = std::str::from_utf8(&buf[..written]) {
            return Ok(s.to_owned());
        }
    }
    // SAFETY: `env` and `v` meet the module contract.
    unsafe { string(env, v) }
}
