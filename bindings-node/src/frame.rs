//! The hot path, as raw Node-API callbacks (no class wrapping, no per-call registry lookups):
//! a frame is a JS `External` owning a [`FrameInner`], freed by V8's finalizer.
//!
//! JS signatures (private; called only by `src/ts/index.ts`):
//!
//! - `start(name, outer, traceId, spanId, sampled, options)` → frame
//! - `startIdx(name, outer, traceId, spanId, sampled, mask, v0, v1, ...)` → frame: the same with
//!   the options' values passed by position (`vi` is option `optionNames()[i]`, present when bit
//!   `i` of `mask` is set), so no key strings and no property enumeration cross the FFI
//! - `scope(outer, options)` / `scopeIdx(outer, mask, v0, v1, ...)` → frame (no span of its own)
//! - `end(frame)`; `endError(frame, typeName, message, stacktrace)`
//!
//! `outer` is a frame or null; `traceId`/`spanId` (hex) are an OpenTelemetry JS parent or
//! undefined (then the parent is `outer`'s span). Options go through the core's
//! `Attributes::from_options`; its errors are thrown as mapped in `errors.rs`.

use crate::{convert, errors};
use napi::sys;
use std::ffi::c_void;
use std::ptr;
use userspan::{Attributes, ErrorInfo, KeyStyle, OptionValue, Scope, SpanHandle};

/// What the TypeScript layer keeps in its `AsyncLocalStorage`: the merged scope and the current
/// span (this frame's own for a capture, the outer one for an attribute scope).
pub(crate) struct FrameInner {
    pub scope: Option<Scope>,
    pub span: Option<SpanHandle>,
    pub owns_span: bool,
}

/// Frees a frame once V8 collected its External. A span never ended (an abandoned `startCapture`
/// handle, an async iterable nobody finished) is ended by the OpenTelemetry SDK on drop.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if !data.is_null() {
        let frame = unsafe { Box::from_raw(data.cast::<FrameInner>()) };
        // Never unwind into Node.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(frame)));
    }
}

unsafe fn new_frame(env: sys::napi_env, inner: FrameInner) -> sys::napi_value {
    let data = Box::into_raw(Box::new(inner));
    let mut out = ptr::null_mut();
    let status = unsafe { sys::napi_create_external(env, data.cast(), Some(finalize), ptr::null_mut(), &mut out) };
    if status != sys::Status::napi_ok {
        drop(unsafe { Box::from_raw(data) });
        unsafe { sys::napi_throw_error(env, ptr::null(), c"userspan: cannot allocate a frame".as_ptr()) };
        return ptr::null_mut();
    }
    out
}

/// The frame behind a JS value, `None` for null/undefined/anything that is not an External.
///
/// # Safety
/// Externals only come from [`new_frame`]: the native module is private to the package.
pub(crate) unsafe fn frame<'a>(env: sys::napi_env, v: sys::napi_value) -> Option<&'a FrameInner> {
    let mut data: *mut c_void = ptr::null_mut();
    let status = unsafe { sys::napi_get_value_external(env, v, &mut data) };
    if status != sys::Status::napi_ok || data.is_null() {
        return None;
    }
    Some(unsafe { &*data.cast::<FrameInner>() })
}

unsafe fn args<const N: usize>(env: sys::napi_env, info: sys::napi_callback_info) -> [sys::napi_value; N] {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    unsafe { sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
    let mut undefined = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut undefined) };
    for a in argv.iter_mut().skip(argc) {
        *a = undefined;
    }
    argv
}

unsafe fn is_nullish(env: sys::napi_env, v: sys::napi_value) -> bool {
    matches!(unsafe { convert::type_of(env, v) }, Ok(sys::ValueType::napi_undefined | sys::ValueType::napi_null))
}

/// Validated attributes from an options object (generic path).
unsafe fn attrs_from_object(env: sys::napi_env, options: sys::napi_value) -> Result<Attributes, Thrown> {
    let entries = match unsafe { convert::option_value(env, options, 0) }.map_err(|e| Thrown::napi(env, e))? {
        OptionValue::Null => return Ok(Attributes::new()),
        OptionValue::Map(entries) => entries,
        other => {
            return Err(Thrown::core(
                env,
                &userspan::Error::InvalidType {
                    field: "options".into(),
                    expected: "an object".into(),
                    got: crate::describe(&other),
                },
            ))
        }
    };
    Attributes::from_options(entries, KeyStyle::Camel).map_err(|e| Thrown::core(env, &e))
}

/// The core's option names (camelCase), in the core's order: position `i` of the indexed fast
/// path is option `option_names()[i]`. The list lives in the core only; the TypeScript layer gets
/// it through `optionNames()`.
pub(crate) fn option_names() -> &'static [&'static str] {
    KeyStyle::Camel.option_name_list()
}

/// Most options the indexed fast path carries (the rest of the arguments are ignored).
pub(crate) const MAX_INDEXED: usize = 12;

/// Validated attributes from option values passed by position (fast path): bit `i` of `mask`
/// says `values[i]` (option `option_names()[i]`) is present.
unsafe fn attrs_from_indexed(env: sys::napi_env, mask: sys::napi_value, values: &[sys::napi_value]) -> Result<Attributes, Thrown> {
    let mut bits = 0u32;
    unsafe { sys::napi_get_value_uint32(env, mask, &mut bits) };
    if bits == 0 {
        return Ok(Attributes::new());
    }
    let mut attrs = Attributes::new();
    for (i, v) in values.iter().enumerate().take(option_names().len()) {
        if bits & (1 << i) != 0 {
            let value = unsafe { convert::option_value_fast(env, *v) }.map_err(|e| Thrown::napi(env, e))?;
            attrs.set_option(i, value, KeyStyle::Camel).map_err(|e| Thrown::core(env, &e))?;
        }
    }
    Ok(attrs)
}

/// An exception already thrown into JS.
pub(crate) struct Thrown;

impl Thrown {
    fn core(env: sys::napi_env, e: &userspan::Error) -> Thrown {
        errors::throw(env, e);
        Thrown
    }
    fn napi(env: sys::napi_env, e: napi::Error) -> Thrown {
        let msg = std::ffi::CString::new(e.reason).unwrap_or_default();
        unsafe { sys::napi_throw_error(env, ptr::null(), msg.as_ptr()) };
        Thrown
    }
}

/// The scope a frame opened with `attrs` inside `outer` holds (no new scope when nothing is set).
fn scope_for(outer: Option<&FrameInner>, attrs: Attributes) -> Option<Scope> {
    let outer_scope = outer.and_then(|f| f.scope.as_ref());
    if attrs.is_empty() {
        outer_scope.cloned()
    } else {
        Some(Scope::nested(outer_scope, attrs))
    }
}

unsafe fn start_with(env: sys::napi_env, argv: &[sys::napi_value], attrs: Result<Attributes, Thrown>) -> sys::napi_value {
    let Ok(attrs) = attrs else { return ptr::null_mut() };
    let name = match unsafe { convert::key(env, argv[0]) } {
        Ok(n) => n,
        Err(e) => {
            Thrown::napi(env, e);
            return ptr::null_mut();
        }
    };
    let outer = unsafe { frame(env, argv[1]) };
    let scope = scope_for(outer, attrs);
    let parent = if unsafe { is_nullish(env, argv[2]) } {
        outer.and_then(|f| f.span.as_ref()).map(SpanHandle::span_context)
    } else {
        let ids = unsafe { (convert::key(env, argv[2]), convert::key(env, argv[3])) };
        let mut sampled = false;
        unsafe { sys::napi_get_value_bool(env, argv[4], &mut sampled) };
        match ids {
            (Ok(t), Ok(s)) => match (u128::from_str_radix(&t, 16), u64::from_str_radix(&s, 16)) {
                (Ok(t), Ok(s)) => Some(userspan::parent_context(t, s, sampled)),
                _ => outer.and_then(|f| f.span.as_ref()).map(SpanHandle::span_context),
            },
            _ => outer.and_then(|f| f.span.as_ref()).map(SpanHandle::span_context),
        }
    };
    let span = userspan::start_span(name, parent.as_ref(), scope.as_ref());
    unsafe { new_frame(env, FrameInner { scope, span: Some(span), owns_span: true }) }
}

unsafe fn start(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let argv = unsafe { args::<6>(env, info) };
    let attrs = unsafe { attrs_from_object(env, argv[5]) };
    unsafe { start_with(env, &argv, attrs) }
}

unsafe fn start_idx(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let argv = unsafe { args::<{ 6 + MAX_INDEXED }>(env, info) };
    let attrs = unsafe { attrs_from_indexed(env, argv[5], &argv[6..]) };
    unsafe { start_with(env, &argv, attrs) }
}

unsafe fn scope_with(env: sys::napi_env, outer: sys::napi_value, attrs: Result<Attributes, Thrown>) -> sys::napi_value {
    let Ok(attrs) = attrs else { return ptr::null_mut() };
    let outer = unsafe { frame(env, outer) };
    let inner = FrameInner {
        scope: scope_for(outer, attrs),
        span: outer.and_then(|f| f.span.clone()),
        owns_span: false,
    };
    unsafe { new_frame(env, inner) }
}

unsafe fn scope(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let argv = unsafe { args::<2>(env, info) };
    let attrs = unsafe { attrs_from_object(env, argv[1]) };
    unsafe { scope_with(env, argv[0], attrs) }
}

unsafe fn scope_idx(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let argv = unsafe { args::<{ 2 + MAX_INDEXED }>(env, info) };
    let attrs = unsafe { attrs_from_indexed(env, argv[1], &argv[2..]) };
    unsafe { scope_with(env, argv[0], attrs) }
}

unsafe fn end(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let argv = unsafe { args::<1>(env, info) };
    if let Some(f) = unsafe { frame(env, argv[0]) } {
        if let (true, Some(span)) = (f.owns_span, &f.span) {
            span.end(None);
        }
    }
    ptr::null_mut()
}

unsafe fn end_error(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let argv = unsafe { args::<4>(env, info) };
    if let Some(f) = unsafe { frame(env, argv[0]) } {
        if let (true, Some(span)) = (f.owns_span, &f.span) {
            let text = |v| unsafe { convert::string(env, v) }.unwrap_or_default();
            let stacktrace = if unsafe { is_nullish(env, argv[3]) } { None } else { Some(text(argv[3])) };
            span.end(Some(&ErrorInfo { type_name: text(argv[1]), message: text(argv[2]), stacktrace }));
        }
    }
    ptr::null_mut()
}

/// Runs a raw callback body; a Rust panic becomes a JS `Error` instead of unwinding into Node.
unsafe fn guarded(env: sys::napi_env, body: impl FnOnce() -> sys::napi_value) -> sys::napi_value {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            unsafe { sys::napi_throw_error(env, ptr::null(), c"userspan: internal error (panic in the native addon)".as_ptr()) };
            ptr::null_mut()
        }
    }
}

macro_rules! raw_callback {
    ($name:ident => $body:ident) => {
        unsafe extern "C" fn $name(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
            unsafe { guarded(env, || $body(env, info)) }
        }
    };
}

raw_callback!(start_cb => start);
raw_callback!(start_idx_cb => start_idx);
raw_callback!(scope_cb => scope);
raw_callback!(scope_idx_cb => scope_idx);
raw_callback!(end_cb => end);
raw_callback!(end_error_cb => end_error);

/// Adds the raw callbacks to the module's exports.
pub(crate) unsafe fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    type Cb = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;
    let fns: [(&std::ffi::CStr, Cb); 6] = [
        (c"start", start_cb),
        (c"startIdx", start_idx_cb),
        (c"scope", scope_cb),
        (c"scopeIdx", scope_idx_cb),
        (c"end", end_cb),
        (c"endError", end_error_cb),
    ];
    for (name, cb) in fns {
        let mut f = ptr::null_mut();
        let status = unsafe {
            sys::napi_create_function(env, name.as_ptr(), name.to_bytes().len() as isize, Some(cb), ptr::null_mut(), &mut f)
        };
        if status != sys::Status::napi_ok
            || unsafe { sys::napi_set_named_property(env, exports, name.as_ptr(), f) } != sys::Status::napi_ok
        {
            return Err(napi::Error::from_reason(format!("userspan: cannot export {name:?}")));
        }
    }
    Ok(())
}
