//! The hot path, as raw Node-API callbacks (no class wrapping, no per-call registry lookups).
//!
//! A frame (what the TypeScript layer's `Frame` points at) is a [`FrameInner`] in one of two
//! places:
//! - a **slot** of this thread's slab while a synchronous capture's span is open (`startSlot` …
//!   `endSlot`): no GC-tracked native object per capture, and it is freed the moment the capture
//!   ends. Node-API's `External` with a finalizer (a weak global handle, V8's weak processing,
//!   Node's finalizer queue) was about a fifth of a capture's cost;
//! - a JS **External** owning it, freed by V8's finalizer: attribute scopes, manual captures
//!   (`startCapture`), captures whose function returned a promise or an async iterable (`detach`
//!   moves their slot there), and ended slot captures that async work started inside them still
//!   reaches (`revive` rebuilds those from the options and span ids the TypeScript layer kept).
//!
//! JS signatures (private; called only by `src/ts/`):
//!
//! - `startIdx(name, outer, traceId, spanId, sampled, mask, v0, v1, ...)` → External: options'
//!   values by position (`vi` is option `optionNames()[i]`, present when bit `i` of `mask` is
//!   set), so no key strings and no property enumeration cross the FFI;
//!   `startSlot(...)` → slot id (see [`slot_id`]: slot index and generation), with the same
//!   arguments;
//!   `start(name, outer, traceId, spanId, sampled, options)` → External (any options value)
//! - `scope(outer, options)` / `scopeIdx(outer, mask, v0, v1, ...)` → External (no span of its own)
//! - `end(frame)`; `endError(frame, typeName, message, stacktrace)` (Externals)
//! - `endSlot(slot)`; `endSlotError(slot, typeName, message, stacktrace)`: end the span, free the
//!   slot and write the span's ids into `ids`
//! - `detach(slot)` → External holding the slot's frame
//! - `revive(outer, i0, …, i6, mask, v0, v1, ...)` → External: an ended slot capture again, from
//!   the ids `endSlot` wrote and the option values it started with
//! - `ids`: an `Int32Array(8)`: trace id as 4 big-endian 32-bit words, span id as 2, trace flags
//!
//! `outer` (a frame: slot id, External, or null) is where the scope merges and the parent
//! comes from; `traceId`/`spanId` (hex) are an OpenTelemetry JS parent or undefined (then the
//! parent is `outer`'s span). Options go through the core's `Attributes`; its errors are thrown as
//! mapped in `errors.rs`.
//!
//! # Safety
//!
//! The `unsafe fn`s here share `convert`'s contract: `env` (and `info`, for a callback body) are
//! those of the Node-API call running now on this thread, and every `napi_value` belongs to that
//! call (an argument, or created through `env` during it), so it lives in the handle scope Node
//! closes only after the call returns. Node keeps that contract for the raw callbacks: `register`
//! makes them with `napi_create_function`, and Node only ever calls them, on the JS thread of the
//! module instance that registered them, with the env and callback info of that call. Two more
//! facts hold because the native module is private to the package (only `src/ts/` calls it):
//! - an External passed in was made by [`new_frame`], so its data is a live `Box<FrameInner>`;
//! - the `ids` buffer is never transferred or detached, so its backing store stays where
//!   `register` found it.

use crate::{convert, errors};
use napi::sys;
use opentelemetry::trace::SpanContext;
use slab::Slab;
use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;
use userspan::{Attributes, ErrorInfo, KeyStyle, OptionValue, Scope, SpanHandle};

/// What the TypeScript layer keeps in its `AsyncLocalStorage` (through a `Frame`): the merged
/// scope and the current span.
pub(crate) struct FrameInner {
    scope: Option<Scope>,
    span: FrameSpan,
}

enum FrameSpan {
    /// An attribute scope outside any capture.
    None,
    /// A capture's own span (ended by `end`).
    Own(SpanHandle),
    /// The enclosing capture's span (an attribute scope inside it).
    Outer(SpanHandle),
    /// A capture that has ended, by its ids (trace, span, sampled): a revived frame.
    Ended(u128, u64, bool),
}

impl FrameInner {
    /// The merged scope, if any option was ever set.
    pub(crate) fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// The span a child started here is parented on.
    pub(crate) fn span_context(&self) -> Option<SpanContext> {
        match &self.span {
            FrameSpan::Own(h) | FrameSpan::Outer(h) => Some(h.span_context()),
            FrameSpan::Ended(t, s, sampled) => Some(userspan::parent_context(*t, *s, *sampled)),
            FrameSpan::None => None,
        }
    }

    /// The current span while it can still take attributes.
    pub(crate) fn span(&self) -> Option<&SpanHandle> {
        match &self.span {
            FrameSpan::Own(h) | FrameSpan::Outer(h) => Some(h),
            _ => None,
        }
    }

    /// The span of an attribute scope opened inside this frame.
    fn inherited_span(&self) -> FrameSpan {
        match &self.span {
            FrameSpan::Own(h) | FrameSpan::Outer(h) => FrameSpan::Outer(h.clone()),
            FrameSpan::Ended(t, s, sampled) => FrameSpan::Ended(*t, *s, *sampled),
            FrameSpan::None => FrameSpan::None,
        }
    }

    /// Ends this frame's own span (not an enclosing capture's); idempotent.
    fn end(&self, error: Option<&ErrorInfo>) {
        if let FrameSpan::Own(h) = &self.span {
            h.end(error);
        }
    }
}

/// This thread's slab of open sync capture frames. Each entry keeps the generation it was
/// taken with: a slot index is reused as soon as its capture ends, so an id the JS side kept
/// from an earlier capture (a stale id) must not resolve to the frame that took its index later.
struct Slots {
    slab: Slab<(u32, FrameInner)>,
    /// Generation of the next slot taken (wraps at `GEN_MASK`).
    next_gen: u32,
}

thread_local! {
    /// Frames of this thread's synchronous captures whose span is open, by slot (each Node
    /// worker runs on its own thread).
    static SLOTS: RefCell<Slots> = const { RefCell::new(Slots { slab: Slab::new(), next_gen: 0 }) };
}

/// Bits of a slot id that are the slab index; the bits above them (up to bit 29) are the
/// generation. 2^14 = 16384 sync captures open at once (nested) on one thread, far past the
/// depth a JS stack reaches; a capture beyond it gets an External instead of a slot.
const INDEX_BITS: u32 = 14;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// Generations wrap after 2^16: an id kept stale across exactly a multiple of 65536 slot
/// captures started on one thread would alias (the TypeScript layer never keeps one at all: it
/// forgets a slot id when the capture ends; this check makes a slip there harmless instead of a
/// frame of another capture, and another user).
const GEN_MASK: u32 = (1 << 16) - 1;

/// The id JS gets for slab index `index` taken with generation `gen`: below 2^30, so V8 keeps it
/// as a small integer (no heap number).
fn slot_id(index: usize, gen: u32) -> u32 {
    (gen << INDEX_BITS) | index as u32
}

/// `(index, generation)` of a slot id.
fn slot_parts(id: u32) -> (usize, u32) {
    ((id & INDEX_MASK) as usize, (id >> INDEX_BITS) & GEN_MASK)
}

impl Slots {
    /// The live frame of slot id `id` (none when its capture ended, even if its index was
    /// taken again since).
    fn get(&self, id: u32) -> Option<&FrameInner> {
        let (index, gen) = slot_parts(id);
        match self.slab.get(index) {
            Some((g, f)) if *g == gen => Some(f),
            _ => None,
        }
    }

    /// Takes slot id `id`'s frame out (none for a stale id: the slot's present frame stays).
    fn remove(&mut self, id: u32) -> Option<FrameInner> {
        let (index, gen) = slot_parts(id);
        match self.slab.get(index) {
            Some((g, _)) if *g == gen => self.slab.try_remove(index).map(|(_, f)| f),
            _ => None,
        }
    }

    /// Puts `frame` in a free slot and returns its id, or gives `frame` back when every index
    /// is taken.
    fn insert(&mut self, frame: FrameInner) -> Result<u32, FrameInner> {
        let entry = self.slab.vacant_entry();
        if entry.key() > INDEX_MASK as usize {
            return Err(frame);
        }
        let gen = self.next_gen;
        self.next_gen = (gen + 1) & GEN_MASK;
        let id = slot_id(entry.key(), gen);
        entry.insert((gen, frame));
        Ok(id)
    }
}

/// How many slots are taken: sync captures running on this thread (the tests check that every
/// way out of a capture frees its slot).
pub(crate) fn open_slots() -> usize {
    SLOTS.with(|s| s.borrow().slab.len())
}

/// Frees a frame once V8 collected its External. A span never ended (an abandoned `startCapture`
/// handle, an async iterable nobody finished) is ended by the OpenTelemetry SDK on drop.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if !data.is_null() {
        // SAFETY: Node calls this once per External made by `new_frame`, after V8 collected it, with
        // the `data` given there: the `Box<FrameInner>` that `Box::into_raw` leaked, which nothing
        // else frees. No `&FrameInner` into it is alive: `with_frame` lends one only while its
        // caller holds a handle to the External, and a handle keeps the External from collection.
        let frame = unsafe { Box::from_raw(data.cast::<FrameInner>()) };
        // Never unwind into Node.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(frame)));
    }
}

/// Throws a JS `Error` with `message` (no `code`).
///
/// # Safety
/// `env` is the running call's (module contract).
unsafe fn throw_error(env: sys::napi_env, message: &std::ffi::CStr) {
    // SAFETY: `env` per this fn's contract; a null `code` is allowed; `message` is NUL-terminated
    // and napi copies it before returning.
    unsafe { sys::napi_throw_error(env, ptr::null(), message.as_ptr()) };
}

/// An External owning `inner`, freed by [`finalize`] (null, with a JS exception thrown, if napi
/// cannot make one).
///
/// # Safety
/// `env` is the running call's (module contract).
unsafe fn new_frame(env: sys::napi_env, inner: FrameInner) -> sys::napi_value {
    let data = Box::into_raw(Box::new(inner));
    let mut out = ptr::null_mut();
    // SAFETY: `env` per this fn's contract; `data` is a live heap pointer the External owns from
    // here on, `finalize` matches `napi_finalize` and frees it; `out` is a local out-slot.
    let status = unsafe { sys::napi_create_external(env, data.cast(), Some(finalize), ptr::null_mut(), &mut out) };
    if status != sys::Status::napi_ok {
        // SAFETY: napi fails here only in its entry checks (an exception already pending, a bad
        // argument), before it makes the External or registers `finalize`: `data` is ours alone.
        drop(unsafe { Box::from_raw(data) });
        // SAFETY: `env` per this fn's contract.
        unsafe { throw_error(env, c"userspan: cannot allocate a frame") };
        return ptr::null_mut();
    }
    out
}

/// Calls `f` with the frame behind a JS value: a slot id (`None` once its capture ended), an
/// External from [`new_frame`], or anything else (null/undefined: `None`). `f` must not start or end slot frames (the slab is
/// borrowed meanwhile) and must not call into JS.
///
/// # Safety
/// `env` and `v` meet the module contract, and an External `v` was made by [`new_frame`] (the
/// native module is private to the package).
pub(crate) unsafe fn with_frame<R>(
    env: sys::napi_env,
    v: sys::napi_value,
    f: impl FnOnce(Option<&FrameInner>) -> R,
) -> R {
    // SAFETY: `env` and `v` per this fn's contract.
    match unsafe { convert::type_of(env, v) } {
        Ok(sys::ValueType::napi_number) => {
            let mut slot = 0u32;
            // SAFETY: `env` and `v` (a number) per this fn's contract; `slot` is a local out-slot.
            unsafe { sys::napi_get_value_uint32(env, v, &mut slot) };
            SLOTS.with(|s| f(s.borrow().get(slot)))
        }
        Ok(sys::ValueType::napi_external) => {
            let mut data: *mut c_void = ptr::null_mut();
            // SAFETY: `env` and `v` (an External) per this fn's contract; `data` is a local out-slot.
            let status = unsafe { sys::napi_get_value_external(env, v, &mut data) };
            if status != sys::Status::napi_ok || data.is_null() {
                return f(None);
            }
            // SAFETY: the External was made by `new_frame` (this fn's contract), so `data` is its
            // `Box<FrameInner>`: non-null (checked), aligned and initialised. `v` is a live handle
            // for this whole call, so V8 cannot collect the External and `finalize` cannot free the
            // box while `f` runs; frames are never mutated after creation, so no `&mut` aliases it.
            f(Some(unsafe { &*data.cast::<FrameInner>() }))
        }
        _ => f(None),
    }
}

/// The call's first `N` arguments (missing ones `undefined`) and the callback's data pointer.
///
/// # Safety
/// `env` and `info` are the running callback's (module contract).
unsafe fn args_data<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> ([sys::napi_value; N], *mut c_void) {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    let mut data = ptr::null_mut();
    let mut undefined = ptr::null_mut();
    // SAFETY: `env` and `info` per this fn's contract. `argc = N` is `argv`'s length, and napi
    // writes at most that many values there (and the real count into `argc`); `data` and
    // `undefined` are local out-slots; `this` is not asked for (null).
    unsafe {
        sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data);
        sys::napi_get_undefined(env, &mut undefined);
    }
    for a in argv.iter_mut().skip(argc) {
        *a = undefined;
    }
    (argv, data)
}

/// [`args_data`] without the data pointer (same contract).
unsafe fn args<const N: usize>(env: sys::napi_env, info: sys::napi_callback_info) -> [sys::napi_value; N] {
    // SAFETY: `env` and `info` per this fn's contract, which is `args_data`'s.
    unsafe { args_data::<N>(env, info) }.0
}

/// `v` is `null` or `undefined` (module contract for `env`/`v`).
unsafe fn is_nullish(env: sys::napi_env, v: sys::napi_value) -> bool {
    // SAFETY: `env` and `v` per this fn's contract.
    matches!(unsafe { convert::type_of(env, v) }, Ok(sys::ValueType::napi_undefined | sys::ValueType::napi_null))
}

/// Validated attributes from an options object (generic path; module contract for `env` and
/// `options`).
unsafe fn attrs_from_object(env: sys::napi_env, options: sys::napi_value) -> Result<Attributes, Thrown> {
    // SAFETY: `env` and `options` per this fn's contract.
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
/// says `values[i]` (option `option_names()[i]`) is present. Module contract for `env`, `mask`
/// and each of `values`.
unsafe fn attrs_from_indexed(
    env: sys::napi_env,
    mask: sys::napi_value,
    values: &[sys::napi_value],
) -> Result<Attributes, Thrown> {
    let mut bits = 0u32;
    // SAFETY: `env` and `mask` per this fn's contract; `bits` is a local out-slot (left 0 when
    // `mask` is not a number).
    unsafe { sys::napi_get_value_uint32(env, mask, &mut bits) };
    if bits == 0 {
        return Ok(Attributes::new());
    }
    let mut attrs = Attributes::new();
    for (i, v) in values.iter().enumerate().take(option_names().len()) {
        if bits & (1 << i) != 0 {
            // SAFETY: `env` and `*v` (one of `values`) per this fn's contract.
            let value = unsafe { convert::option_value_fast(env, *v) }.map_err(|e| Thrown::napi(env, e))?;
            attrs.set_option(i, value, KeyStyle::Camel).map_err(|e| Thrown::core(env, &e))?;
        }
    }
    Ok(attrs)
}

/// An exception already thrown into JS.
pub(crate) struct Thrown;

impl Thrown {
    /// Throws the core error `e`; `env` is the running call's (as in every caller here).
    fn core(env: sys::napi_env, e: &userspan::Error) -> Thrown {
        errors::throw(env, e);
        Thrown
    }
    /// Throws a napi failure as a JS `Error`; `env` is the running call's (as in every caller here).
    fn napi(env: sys::napi_env, e: napi::Error) -> Thrown {
        let msg = std::ffi::CString::new(e.reason).unwrap_or_default();
        // SAFETY: only called from this file's `unsafe fn`s, with the `env` of their contract.
        unsafe { throw_error(env, &msg) };
        Thrown
    }
}

/// The scope a frame opened with `attrs` inside `outer` holds (no new scope when nothing is set).
fn scope_for(outer: Option<&FrameInner>, attrs: Attributes) -> Option<Scope> {
    let outer_scope = outer.and_then(FrameInner::scope);
    if attrs.is_empty() {
        outer_scope.cloned()
    } else {
        Some(Scope::nested(outer_scope, attrs))
    }
}

/// The OpenTelemetry JS parent named by `(traceId, spanId, sampled)`, if they are valid ids
/// (module contract for `env` and the three `ids`).
unsafe fn host_parent(env: sys::napi_env, ids: &[sys::napi_value]) -> Option<SpanContext> {
    // SAFETY: `env` and `ids[0]` per this fn's contract.
    if unsafe { is_nullish(env, ids[0]) } {
        return None;
    }
    // SAFETY: `env`, `ids[0]` and `ids[1]` per this fn's contract.
    let (t, s) = unsafe { (convert::key(env, ids[0]).ok()?, convert::key(env, ids[1]).ok()?) };
    let mut sampled = false;
    // SAFETY: `env` and `ids[2]` per this fn's contract; `sampled` is a local out-slot (left false
    // when `ids[2]` is not a boolean).
    unsafe { sys::napi_get_value_bool(env, ids[2], &mut sampled) };
    Some(userspan::parent_context(u128::from_str_radix(&t, 16).ok()?, u64::from_str_radix(&s, 16).ok()?, sampled))
}

/// A capture frame: `argv` = `(name, outer, traceId, spanId, sampled, …)`; the span is a child
/// of the OTel JS parent when one is named, else of `outer`'s span. Module contract for `env`
/// and `argv`, and [`with_frame`]'s for `outer`.
unsafe fn started(
    env: sys::napi_env,
    argv: &[sys::napi_value],
    attrs: Result<Attributes, Thrown>,
) -> Option<FrameInner> {
    let attrs = attrs.ok()?;
    // SAFETY: `env` and `argv[0]` per this fn's contract.
    let name = match unsafe { convert::key(env, argv[0]) } {
        Ok(n) => n,
        Err(e) => {
            Thrown::napi(env, e);
            return None;
        }
    };
    // SAFETY: `env` and `argv[2..5]` per this fn's contract.
    let host = unsafe { host_parent(env, &argv[2..5]) };
    // SAFETY: `env` and `argv[1]` per this fn's contract, which includes `with_frame`'s; the
    // closure neither calls into JS nor starts or ends slot frames.
    let (scope, parent) = unsafe {
        with_frame(env, argv[1], |outer| {
            (scope_for(outer, attrs), host.or_else(|| outer.and_then(FrameInner::span_context)))
        })
    };
    let span = userspan::start_span(name, parent.as_ref(), scope.as_ref());
    Some(FrameInner { scope, span: FrameSpan::Own(span) })
}

/// `frame` as an External (null when there is none: its exception is already thrown).
unsafe fn external(env: sys::napi_env, frame: Option<FrameInner>) -> sys::napi_value {
    match frame {
        // SAFETY: `env` per this fn's contract.
        Some(f) => unsafe { new_frame(env, f) },
        None => ptr::null_mut(),
    }
}

// The callback bodies below (one per JS function, see the module docs) run inside a raw callback
// of `raw_callback!`, so `env` and `info` are the running callback's, and every value they pass on
// is one of its arguments: each body is one unsafe block under the module contract.

unsafe fn start(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    unsafe {
        let argv = args::<6>(env, info);
        let attrs = attrs_from_object(env, argv[5]);
        external(env, started(env, &argv, attrs))
    }
}

unsafe fn start_idx(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    unsafe {
        let argv = args::<{ 6 + MAX_INDEXED }>(env, info);
        let attrs = attrs_from_indexed(env, argv[5], &argv[6..]);
        external(env, started(env, &argv, attrs))
    }
}

unsafe fn start_slot(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    let argv = unsafe { args::<{ 6 + MAX_INDEXED }>(env, info) };
    // SAFETY: as above.
    let attrs = unsafe { attrs_from_indexed(env, argv[5], &argv[6..]) };
    // SAFETY: as above.
    let Some(frame) = (unsafe { started(env, &argv, attrs) }) else { return ptr::null_mut() };
    // Slots are reused, so the slab is as long as the deepest nesting of open sync captures.
    let id = match SLOTS.with(|s| s.borrow_mut().insert(frame)) {
        Ok(id) => id,
        // Every slot index taken: the frame lives in an External (the TypeScript layer treats
        // it as any External frame).
        // SAFETY: `env` is the running callback's.
        Err(frame) => return unsafe { new_frame(env, frame) },
    };
    let mut out = ptr::null_mut();
    // SAFETY: `env` is the running callback's; `out` is a local out-slot.
    unsafe { sys::napi_create_uint32(env, id, &mut out) };
    out
}

/// An attribute scope frame inside `outer` (module contract for `env`, [`with_frame`]'s for
/// `outer`).
unsafe fn scope_with(env: sys::napi_env, outer: sys::napi_value, attrs: Result<Attributes, Thrown>) -> sys::napi_value {
    let Ok(attrs) = attrs else { return ptr::null_mut() };
    // SAFETY: `env` and `outer` per this fn's contract; the closure neither calls into JS nor
    // starts or ends slot frames.
    let inner = unsafe {
        with_frame(env, outer, |outer| FrameInner {
            scope: scope_for(outer, attrs),
            span: outer.map_or(FrameSpan::None, FrameInner::inherited_span),
        })
    };
    // SAFETY: `env` per this fn's contract.
    unsafe { new_frame(env, inner) }
}

unsafe fn scope(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    unsafe {
        let argv = args::<2>(env, info);
        let attrs = attrs_from_object(env, argv[1]);
        scope_with(env, argv[0], attrs)
    }
}

unsafe fn scope_idx(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    unsafe {
        let argv = args::<{ 2 + MAX_INDEXED }>(env, info);
        let attrs = attrs_from_indexed(env, argv[1], &argv[2..]);
        scope_with(env, argv[0], attrs)
    }
}

/// `(typeName, message, stacktrace)` of `endError` / `endSlotError` (module contract for `env`
/// and the three `argv`).
unsafe fn error_info(env: sys::napi_env, argv: &[sys::napi_value]) -> ErrorInfo {
    // SAFETY: `env` per this fn's contract; `v` is one of `argv`.
    let text = |v| unsafe { convert::string(env, v) }.unwrap_or_default();
    // SAFETY: `env` and `argv[2]` per this fn's contract.
    let stacktrace = if unsafe { is_nullish(env, argv[2]) } { None } else { Some(text(argv[2])) };
    ErrorInfo { type_name: text(argv[0]), message: text(argv[1]), stacktrace }
}

unsafe fn end(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract);
    // the closure neither calls into JS nor starts or ends slot frames.
    unsafe {
        let argv = args::<1>(env, info);
        with_frame(env, argv[0], |f| f.map(|f| f.end(None)));
    }
    ptr::null_mut()
}

unsafe fn end_error(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract);
    // the closure neither calls into JS nor starts or ends slot frames.
    unsafe {
        let argv = args::<4>(env, info);
        let error = error_info(env, &argv[1..]);
        with_frame(env, argv[0], |f| f.map(|f| f.end(Some(&error))));
    }
    ptr::null_mut()
}

/// Takes slot id `v`'s frame out of the slab; none when that capture already ended (module
/// contract for `env` and `v`).
unsafe fn take_slot(env: sys::napi_env, v: sys::napi_value) -> Option<FrameInner> {
    let mut slot = 0u32;
    // SAFETY: `env` and `v` per this fn's contract; `slot` is a local out-slot.
    if unsafe { sys::napi_get_value_uint32(env, v, &mut slot) } != sys::Status::napi_ok {
        return None;
    }
    SLOTS.with(|s| s.borrow_mut().remove(slot))
}

/// The `ids` layout: the trace id as 4 big-endian 32-bit words, the span id as 2, the trace flags.
fn id_words(trace: u128, span: u64, flags: u8) -> [i32; 7] {
    let word = |x: u128, shift: u32| (x >> shift) as u32 as i32;
    let span = u128::from(span);
    [word(trace, 96), word(trace, 64), word(trace, 32), word(trace, 0), word(span, 32), word(span, 0), i32::from(flags)]
}

/// `(trace id, span id, sampled)` back from [`id_words`].
fn ids_of_words(w: [i32; 7]) -> (u128, u64, bool) {
    let u = |x: i32| u128::from(x as u32);
    let trace = (u(w[0]) << 96) | (u(w[1]) << 64) | (u(w[2]) << 32) | u(w[3]);
    (trace, ((u(w[4]) << 32) | u(w[5])) as u64, w[6] & 1 == 1)
}

/// Ends a slot frame's span, writes its ids where `ids` points (the `ids` Int32Array) and frees
/// the slot. Module contract for `env` and `slot`; `ids` is the callback data `register` gave
/// `endSlot` / `endSlotError` (or null).
unsafe fn end_slot_with(
    env: sys::napi_env,
    slot: sys::napi_value,
    ids: *mut c_void,
    error: Option<ErrorInfo>,
) -> sys::napi_value {
    // SAFETY: `env` and `slot` per this fn's contract.
    let Some(frame) = (unsafe { take_slot(env, slot) }) else { return ptr::null_mut() };
    frame.end(error.as_ref());
    if let (Some(sc), false) = (frame.span_context(), ids.is_null()) {
        let words = id_words(
            u128::from_be_bytes(sc.trace_id().to_bytes()),
            u64::from_be_bytes(sc.span_id().to_bytes()),
            sc.trace_flags().to_u8(),
        );
        // SAFETY: `ids` (non-null, checked) is the backing store of the 32-byte ArrayBuffer that
        // `register` made in this module instance, the only one whose functions get it as data: a
        // reference that is never deleted keeps the buffer alive, and the package never detaches
        // it, so the store stays put. Node allocates it with malloc, aligned for any type; the 7 words
        // written fit its 8, and the source is a local array, so the two do not overlap.
        unsafe { ptr::copy_nonoverlapping(words.as_ptr(), ids.cast::<i32>(), words.len()) };
    }
    ptr::null_mut()
}

unsafe fn end_slot(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract);
    // `ids` is this function's callback data, which `register` set to the ids buffer.
    unsafe {
        let (argv, ids) = args_data::<1>(env, info);
        end_slot_with(env, argv[0], ids, None)
    }
}

unsafe fn end_slot_error(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract);
    // `ids` is this function's callback data, which `register` set to the ids buffer.
    unsafe {
        let (argv, ids) = args_data::<4>(env, info);
        let error = error_info(env, &argv[1..]);
        end_slot_with(env, argv[0], ids, Some(error))
    }
}

/// Moves a slot frame into an External (its capture outlives this call: a promise, an async
/// iterable).
unsafe fn detach(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    unsafe {
        let argv = args::<1>(env, info);
        external(env, take_slot(env, argv[0]))
    }
}

/// An ended slot capture as an External again: `(outer, i0…i6, mask, v0, …)`, the ids `endSlot`
/// wrote and the options the capture started with (valid then, and not long enough to be cut, so
/// nothing is counted or thrown twice).
unsafe fn revive(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: `env`/`info` are the running callback's; `argv` are its arguments (module contract).
    let argv = unsafe { args::<{ 9 + MAX_INDEXED }>(env, info) };
    let mut w = [0i32; 7];
    for (i, word) in w.iter_mut().enumerate() {
        // SAFETY: `env` and `argv[1 + i]` as above; `word` is an element of the local `w`.
        unsafe { sys::napi_get_value_int32(env, argv[1 + i], word) };
    }
    let (trace, span, sampled) = ids_of_words(w);
    // SAFETY: as above.
    let Ok(attrs) = (unsafe { attrs_from_indexed(env, argv[8], &argv[9..]) }) else { return ptr::null_mut() };
    // SAFETY: as above; the closure neither calls into JS nor starts or ends slot frames.
    let scope = unsafe { with_frame(env, argv[0], |outer| scope_for(outer, attrs)) };
    // SAFETY: `env` as above.
    unsafe { new_frame(env, FrameInner { scope, span: FrameSpan::Ended(trace, span, sampled) }) }
}

/// Runs a raw callback body; a Rust panic becomes a JS `Error` instead of unwinding into Node.
/// `env` is the running callback's.
unsafe fn guarded(env: sys::napi_env, body: impl FnOnce() -> sys::napi_value) -> sys::napi_value {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            // SAFETY: `env` per this fn's contract.
            unsafe { throw_error(env, c"userspan: internal error (panic in the native addon)") };
            ptr::null_mut()
        }
    }
}

/// A raw napi callback for `$body`: `register` installs it with `napi_create_function`.
macro_rules! raw_callback {
    ($name:ident => $body:ident) => {
        unsafe extern "C" fn $name(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
            // SAFETY: Node calls this function only as the callback `register` made of it, on the
            // module's JS thread, with that call's `env` and `info`: `$body`'s contract.
            unsafe { guarded(env, || $body(env, info)) }
        }
    };
}

raw_callback!(start_cb => start);
raw_callback!(start_idx_cb => start_idx);
raw_callback!(start_slot_cb => start_slot);
raw_callback!(scope_cb => scope);
raw_callback!(scope_idx_cb => scope_idx);
raw_callback!(end_cb => end);
raw_callback!(end_error_cb => end_error);
raw_callback!(end_slot_cb => end_slot);
raw_callback!(end_slot_error_cb => end_slot_error);
raw_callback!(detach_cb => detach);
raw_callback!(revive_cb => revive);

fn ok(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!("userspan: cannot {what}")))
    }
}

/// Adds the raw callbacks and the `ids` buffer to the module's exports.
///
/// # Safety
/// `env` and `exports` are those of the module's registration (`module_exports`) that is running.
pub(crate) unsafe fn register(env: sys::napi_env, exports: sys::napi_value) -> napi::Result<()> {
    // The ids buffer: one per module instance, never collected (a reference holds it), its memory
    // V8's and fixed (an ArrayBuffer's backing store does not move). `endSlot` gets its address
    // as callback data.
    let mut ids: *mut c_void = ptr::null_mut();
    let (mut buffer, mut array, mut held) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: `env` and `exports` per this fn's contract; `buffer`, `array` and `held` are made
    // through `env` in this same call; `ids`, `buffer`, `array` and `held` are local out-slots; the
    // Int32Array's 8 elements from offset 0 fit the 32-byte buffer; `c"ids"` is NUL-terminated.
    unsafe {
        ok(sys::napi_create_arraybuffer(env, 8 * 4, &mut ids, &mut buffer), "allocate the ids buffer")?;
        ok(
            sys::napi_create_typedarray(env, sys::TypedarrayType::int32_array, 8, buffer, 0, &mut array),
            "make the ids array",
        )?;
        ok(sys::napi_create_reference(env, buffer, 1, &mut held), "hold the ids buffer")?;
        ok(sys::napi_set_named_property(env, exports, c"ids".as_ptr(), array), "export ids")?;
    }
    type Cb = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;
    let fns: [(&std::ffi::CStr, Cb, *mut c_void); 11] = [
        (c"start", start_cb, ptr::null_mut()),
        (c"startIdx", start_idx_cb, ptr::null_mut()),
        (c"startSlot", start_slot_cb, ptr::null_mut()),
        (c"scope", scope_cb, ptr::null_mut()),
        (c"scopeIdx", scope_idx_cb, ptr::null_mut()),
        (c"end", end_cb, ptr::null_mut()),
        (c"endError", end_error_cb, ptr::null_mut()),
        (c"endSlot", end_slot_cb, ids),
        (c"endSlotError", end_slot_error_cb, ids),
        (c"detach", detach_cb, ptr::null_mut()),
        (c"revive", revive_cb, ptr::null_mut()),
    ];
    for (name, cb, data) in fns {
        let mut f = ptr::null_mut();
        let what = format!("export {name:?}");
        ok(
            // SAFETY: `env` per this fn's contract; `name` is a static `CStr` whose byte length is
            // passed; `cb` is a raw callback whose contract Node keeps (see `raw_callback!`); `data`
            // is null or the ids buffer; `f` is a local out-slot.
            unsafe {
                sys::napi_create_function(env, name.as_ptr(), name.to_bytes().len() as isize, Some(cb), data, &mut f)
            },
            &what,
        )?;
        // SAFETY: `env` and `exports` per this fn's contract, `f` was just made through `env`;
        // `name` is NUL-terminated.
        ok(unsafe { sys::napi_set_named_property(env, exports, name.as_ptr(), f) }, &what)?;
    }
    Ok(())
}
