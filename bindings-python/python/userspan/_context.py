"""Context plumbing: the ContextVars that hold the current scope and span, the optional bridge to
Python OpenTelemetry's context, and the drivers that keep a scope current around a coroutine,
generator or async generator step by step.

Rules (``docs/design.md``, "Scope semantics", in Python terms):

- the current scope is a frozen native ``Scope`` in a ``ContextVar``; entering a scope sets a new
  merged one, leaving resets the token, so the outer scope is restored exactly;
- every ContextVar token is set and reset inside the same synchronous step (one ``send`` of a
  generator, one ``asend`` of an async generator, one run of a coroutine inside its task), so a
  generator closed early, from another task or by the garbage collector never resets a token
  created in another ``Context`` (no "Failed to detach context" errors).
"""

from __future__ import annotations

import sys
import types
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import _native

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

    #: What :func:`enter` returns and :func:`exit` takes: the scope token, the span token (None
    #: when no span was entered), the bridge and its token (None without Python OpenTelemetry).
    Tokens: TypeAlias = tuple[
        Token[Optional[_native.Scope]], Optional[Token[Optional[_native.Span]]], "Optional[_Bridge]", object
    ]

_scope_var: ContextVar[Optional[_native.Scope]] = ContextVar("userspan.scope", default=None)
_span_var: ContextVar[Optional[_native.Span]] = ContextVar("userspan.span", default=None)

scope_get = _scope_var.get
scope_set = _scope_var.set
scope_reset = _scope_var.reset
span_get = _span_var.get
span_set = _span_var.set
span_reset = _span_var.reset

_modules = sys.modules


class _Bridge:
    """Python OpenTelemetry interop, switched on once ``opentelemetry.trace`` has been imported
    (before that, no Python OTel span can exist, so there is nothing to bridge).

    Two kinds, chosen once: :class:`_LazyBridge` when OTel's runtime context can be wrapped (the
    usual case), :class:`_EagerBridge` otherwise. Both give the same answers to Python OTel code."""

    __slots__ = ("bridge_span", "context_class", "run_enters", "span_class", "span_key")

    def __init__(self) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace as otel_trace

        from ._otel_span import make_bridge_span_class

        self.context_class = otel_context.Context
        # The context key OTel keeps the current span under, found through the public API.
        [self.span_key] = otel_trace.set_span_in_context(otel_trace.INVALID_SPAN, otel_context.Context()).keys()
        self.span_class = otel_trace.Span
        self.bridge_span = make_bridge_span_class()
        # Whether a sync ``capture`` must call enter/exit around ``fn`` (generators, coroutines and
        # ``CaptureHandle`` always do).
        self.run_enters = True

    def parent(self) -> Any:
        """The parent a span started now gets (see :meth:`parent_of`)."""
        raise NotImplementedError

    def enter(self, span: _native.Span) -> Any:
        """Makes ``span`` OTel's current span as far as this bridge needs; the token for :meth:`exit`."""
        raise NotImplementedError

    def exit(self, token: Any) -> None:
        """Undoes :meth:`enter`."""
        raise NotImplementedError

    def parent_of(self, current: Any) -> Any:
        """The parent a span started now gets when OTel's current span ``current`` (not None) is
        the newest: our own span when it is one, else a Python OTel span's ``(trace_id, span_id,
        sampled)``, else our current span (or None)."""
        if type(current) is self.bridge_span:
            return current._userspan
        if isinstance(current, self.span_class):
            sc = current.get_span_context()
            if sc.is_valid:
                return (sc.trace_id, sc.span_id, sc.trace_flags.sampled)
        return span_get()

    def with_span(self, ctx: Any, span: _native.Span) -> Any:
        """``ctx`` with ``span`` as OTel's current span (what ``trace.set_span_in_context`` does)."""
        values = dict(ctx)
        values[self.span_key] = self.bridge_span(span)
        return self.context_class(values)


class _EagerBridge(_Bridge):
    """Attaches an OTel context holding the capture span at every capture start, detaches it at the
    end. Used only when OTel's runtime context is not the documented ``_RuntimeContext`` object."""

    __slots__ = ("attach", "detach", "get_current")

    def __init__(self) -> None:
        super().__init__()
        from opentelemetry import context as otel_context

        self.get_current = otel_context.get_current
        self.attach = otel_context.attach
        self.detach = otel_context.detach

    def parent(self) -> Any:
        current = self.get_current().get(self.span_key)
        return span_get() if current is None else self.parent_of(current)

    def enter(self, span: _native.Span) -> Token[Any]:
        """Makes ``span`` OTel's current span; returns the token for :meth:`exit`."""
        return self.attach(self.with_span(self.get_current(), span))

    def exit(self, token: Token[Any]) -> None:
        self.detach(token)


class _LazyBridge(_Bridge):
    """Wraps OTel's runtime context (``opentelemetry.context._RUNTIME_CONTEXT``) in
    ``_otel_runtime.UserspanRuntimeContext``, so a sync capture costs OTel nothing: the capture
    span is folded into ``opentelemetry.context.get_current()`` only when OTel code asks for it."""

    __slots__ = ("inner", "inner_get_current")

    def __init__(self, otel_context: Any) -> None:
        super().__init__()
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

        from ._otel_runtime import UserspanRuntimeContext

        current = otel_context._RUNTIME_CONTEXT
        if isinstance(current, UserspanRuntimeContext):
            self.inner = current.inner
        else:
            self.inner = current
            otel_context._RUNTIME_CONTEXT = UserspanRuntimeContext(current, self.with_span)
        self.inner_get_current = self.inner.get_current
        var = getattr(self.inner, "_current_context", None)
        if type(self.inner) is ContextVarsRuntimeContext and isinstance(var, ContextVar):
            # OTel's default runtime context is a ContextVar behind a Python method; reading the
            # ContextVar directly is the same value without a Python frame per capture.
            self.inner_get_current = var.get
        self.run_enters = False

    def parent(self) -> Any:
        span = span_get()
        if span is not None and anchor_get() is not span:
            return span  # our span began after OTel's current context was attached: it is newer
        current = self.inner_get_current().get(self.span_key)
        return span if current is None else self.parent_of(current)

    def enter(self, span: _native.Span) -> tuple[object, Token[Optional[_native.Span]]]:
        """Saves OTel's current context, so what a generator step or coroutine attaches and leaves
        attached is undone at :meth:`exit` (as for a sync ``fn``, nothing needs attaching)."""
        inner = self.inner
        return (inner.attach(inner.get_current()), anchor_set(anchor_get()))

    def exit(self, token: tuple[object, Token[Optional[_native.Span]]]) -> None:
        t_ctx, t_anchor = token
        try:
            self.inner.detach(t_ctx)
        finally:
            anchor_reset(t_anchor)


# The userspan span that was current when OTel's current context was last attached (through
# _otel_runtime.UserspanRuntimeContext). When it is not the current userspan span, a capture
# began after that attach, so the capture span is the newer one.
_anchor_var: ContextVar[Optional[_native.Span]] = ContextVar("userspan.otel_anchor", default=None)
anchor_get = _anchor_var.get
anchor_set = _anchor_var.set
anchor_reset = _anchor_var.reset


def _new_bridge() -> _Bridge:
    from opentelemetry import context as otel_context
    from opentelemetry.context.context import _RuntimeContext

    if isinstance(getattr(otel_context, "_RUNTIME_CONTEXT", None), _RuntimeContext):
        return _LazyBridge(otel_context)
    return _EagerBridge()


_bridge: Optional[_Bridge] = None
_bridge_failed = False


def bridge() -> Optional[_Bridge]:
    """The OTel bridge, or None while Python OpenTelemetry is not in use."""
    global _bridge, _bridge_failed
    if _bridge is not None:
        return _bridge
    if _bridge_failed or "opentelemetry.trace" not in _modules:
        return None
    try:
        _bridge = _new_bridge()
    except Exception:  # an unusable opentelemetry-api install: run without interop
        _bridge_failed = True
        return None
    return _bridge


def current_parent() -> Any:
    b = _bridge if _bridge is not None else bridge()
    return span_get() if b is None else b.parent()


def enter(span: Optional[_native.Span], scope: Optional[_native.Scope]) -> Tokens:
    """Makes ``scope`` (and ``span``, when given) current; returns the tokens for :func:`exit`."""
    ts = scope_set(scope)
    if span is None:
        return (ts, None, None, None)
    tp = span_set(span)
    b = _bridge if _bridge is not None else bridge()
    return (ts, tp, b, b.enter(span) if b is not None else None)


def exit(tokens: Tokens) -> None:
    ts, tp, b, to = tokens
    try:
        if b is not None:
            b.exit(to)
        if tp is not None:
            span_reset(tp)
    finally:
        scope_reset(ts)


def end(span: Optional[_native.Span], error: Optional[BaseException] = None) -> None:
    if span is not None:
        # Closing a generator / coroutine early is not a failure of the work.
        span.end(None if isinstance(error, GeneratorExit) else error)


# --- coroutines -------------------------------------------------------------------------------


async def run_coroutine(coro: Any, span: Optional[_native.Span], scope: Optional[_native.Scope]) -> Any:
    """Awaits ``coro`` with the scope current; ends ``span`` when it settles."""
    tokens = enter(span, scope)
    try:
        result = await coro
    except BaseException as exc:
        end(span, exc)
        raise
    finally:
        exit(tokens)
    end(span)
    return result


# --- generators -------------------------------------------------------------------------------


def gen_step(gen: Any, span: Any, scope: Any, send: Any, thrown: Optional[BaseException]) -> tuple[bool, Any]:
    """Resumes ``gen`` once with the scope current. Returns ``(done, item_or_return_value)``."""
    tokens = enter(span, scope)
    try:
        item = gen.send(send) if thrown is None else gen.throw(thrown)
    except StopIteration as stop:
        end(span)
        return True, stop.value
    except BaseException as exc:
        end(span, exc)
        raise
    finally:
        exit(tokens)
    return False, item


def gen_close(gen: Any, span: Any, scope: Any) -> None:
    tokens = enter(span, scope)
    try:
        gen.close()
    except BaseException as exc:
        end(span, exc)
        raise
    finally:
        exit(tokens)
    end(span)


def drive_generator(gen: Any, span: Any, scope: Any) -> Any:
    """A generator yielding what ``gen`` yields, with the scope current during each step. The span
    ends when ``gen`` is exhausted, raises, or is closed (``close()``, ``break`` + GC)."""
    send: Any = None
    thrown: Optional[BaseException] = None
    while True:
        done, value = gen_step(gen, span, scope, send, thrown)
        if done:
            return value
        try:
            send = yield value
            thrown = None
        except GeneratorExit:
            gen_close(gen, span, scope)
            raise
        except BaseException as exc:
            send, thrown = None, exc


# --- async generators -------------------------------------------------------------------------


async def agen_step(agen: Any, span: Any, scope: Any, send: Any, thrown: Optional[BaseException]) -> tuple[bool, Any]:
    tokens = enter(span, scope)
    try:
        item = await (agen.asend(send) if thrown is None else agen.athrow(thrown))
    except StopAsyncIteration:
        end(span)
        return True, None
    except BaseException as exc:
        end(span, exc)
        raise
    finally:
        exit(tokens)
    return False, item


async def agen_close(agen: Any, span: Any, scope: Any) -> None:
    tokens = enter(span, scope)
    try:
        await agen.aclose()
    except BaseException as exc:
        end(span, exc)
        raise
    finally:
        exit(tokens)
    end(span)


async def drive_async_generator(agen: Any, span: Any, scope: Any) -> Any:
    """Async twin of :func:`drive_generator`."""
    send: Any = None
    thrown: Optional[BaseException] = None
    while True:
        done, value = await agen_step(agen, span, scope, send, thrown)
        if done:
            return
        try:
            send = yield value
            thrown = None
        except GeneratorExit:
            await agen_close(agen, span, scope)
            raise
        except BaseException as exc:
            send, thrown = None, exc


# --- futures ----------------------------------------------------------------------------------


def end_with_future(fut: Any, span: Any) -> Any:
    """Ends ``span`` when the asyncio future ``fut`` is done; returns ``fut`` unchanged."""

    def done(f: Any) -> None:
        if f.cancelled():
            import asyncio

            span.end(asyncio.CancelledError())
        else:
            span.end(f.exception())

    fut.add_done_callback(done)
    return fut


def special_results() -> dict[type, Callable[[Any, Any, Any], Any]]:
    """Result types that outlive the call: handler(result, span, scope) → what capture returns."""
    handlers: dict[type, Callable[[Any, Any, Any], Any]] = {
        types.CoroutineType: run_coroutine,
        types.GeneratorType: drive_generator,
        types.AsyncGeneratorType: drive_async_generator,
    }
    try:
        import asyncio

        for t in (asyncio.Future, asyncio.Task):
            handlers[t] = lambda fut, span, scope: end_with_future(fut, span)
    except Exception:  # pragma: no cover - asyncio is always there on CPython
        pass
    return handlers
