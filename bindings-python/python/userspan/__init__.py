"""userspan: attribute LLM-app OpenTelemetry traces to your end users.

Wrap a unit of work in :func:`capture` (Latitude's shape) or open an attribute scope with
:func:`using_attributes` (Future AGI / OpenInference's shape); every span started inside carries
the user's identity as OTel semantic-convention attributes (``user.id``, ``user.email``,
``session.id``, ``tag.tags``, ``metadata``, ...). Spans leave over OTLP to the reference receiver
(``userspan serve``) or any OTLP backend.

.. code-block:: python

    import userspan

    userspan.init(service_name="support-bot")
    reply = userspan.capture(
        "support-agent-turn",
        lambda: agent.run(user_message),
        {"user_id": user.id, "user_email": user.email, "session_id": conversation.id},
    )

All behaviour (validation, merge rules, truncation, hashing, export) lives in the Rust core; this
package keeps the current scope in a ``ContextVar`` and crosses into Rust once per span start and
once per span end. Contract: ``docs/design.md`` in the repository.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import inspect
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Literal, Optional, Protocol, TypeVar, Union, cast, overload

from . import _context as _cx
from . import _native, _setup
from ._native import ConfigError, UserspanError, UserspanTypeError, UserspanValueError

__all__ = [
    "DEFAULT_FLUSH_TIMEOUT_SECS",
    "CaptureHandle",
    "ConfigError",
    "UserspanError",
    "UserspanTypeError",
    "UserspanValueError",
    "capture",
    "clear_finished_spans",
    "copy_context_to_thread",
    "flush",
    "get_attributes",
    "get_current_span",
    "get_finished_spans",
    "init",
    "shutdown",
    "stats",
    "using_attributes",
    "using_metadata",
    "using_session",
    "using_tags",
    "using_user",
    "wrap",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
#: Options of ``capture`` / ``using_attributes``: ``user_id``, ``user_email``, ``user_id_type``
#: (``"email"|"phone"|"uuid"|"custom"``), ``user_id_hash``, ``user_metadata`` (dict),
#: ``session_id``, ``tags`` (list of str), ``metadata`` (dict), ``attributes`` (dict of extra span
#: attributes). ``None`` / ``""`` mean unset.
Options = Mapping[str, Any]

_start = _native.start
_scope_get = _cx.scope_get
_scope_set = _cx.scope_set
_scope_reset = _cx.scope_reset
_span_get = _cx.span_get
_span_set = _cx.span_set
_span_reset = _cx.span_reset
_current_parent = _cx.current_parent
_SPECIAL = _cx.special_results()
_OTEL_TRACE = "opentelemetry.trace"
_modules = sys.modules

# --- configuration ----------------------------------------------------------------------------

_hooks_installed = False
_hooks_lock = threading.Lock()
#: How long :func:`flush` and :func:`shutdown` wait by default, in seconds: the core's one default
#: for every binding (30 s, OpenTelemetry SDKs' ``forceFlush`` default).
DEFAULT_FLUSH_TIMEOUT_SECS: float = _native.DEFAULT_FLUSH_TIMEOUT_SECS
#: How long the exit-time flush waits for the last export, in seconds (shorter than
#: :data:`DEFAULT_FLUSH_TIMEOUT_SECS` so a dead collector cannot hold interpreter exit for long;
#: the Node package's ``beforeExit`` flush waits as long).
EXIT_FLUSH_TIMEOUT_SECS = 5.0


def _at_exit() -> None:
    with contextlib.suppress(Exception):  # never break interpreter shutdown
        _native.flush(EXIT_FLUSH_TIMEOUT_SECS)


def _after_fork_in_child() -> None:
    try:
        _native.reinit_after_fork()
    except Exception as e:  # the child keeps running without telemetry
        import warnings

        # The core's message unchanged, then what it means here.
        warnings.warn(f"{e} (after fork(): the child process runs without telemetry)", RuntimeWarning, stacklevel=2)


def _install_process_hooks() -> None:
    """``atexit`` flush and ``fork()`` handling, once. Signal handlers are never touched."""
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        atexit.register(_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
        _hooks_installed = True


#: A file path as ``init`` accepts it: ``str`` or ``os.PathLike[str]`` (``pathlib.Path``).
_StrPath = Union[str, os.PathLike[str]]


def _path(p: Optional[_StrPath]) -> Any:
    """``os.fspath(p)`` for a path-like; anything else unchanged (the core reports a wrong type)."""
    return os.fspath(p) if isinstance(p, os.PathLike) else p


def init(
    endpoint: Optional[str] = None,
    *,
    api_key: Optional[str] = None,
    project: Optional[str] = None,
    service_name: Optional[str] = None,
    protocol: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    exporter: Optional[str] = None,
    user_id_hashing: Optional[str] = None,
    hash_key: Optional[str] = None,
    propagate_baggage: Optional[list[str]] = None,
    max_queue_size: Optional[int] = None,
    scheduled_delay_ms: Optional[int] = None,
    max_export_batch_size: Optional[int] = None,
    export_timeout_ms: Optional[int] = None,
    compression: Optional[str] = None,
    certificate: Optional[_StrPath] = None,
    client_certificate: Optional[_StrPath] = None,
    client_key: Optional[_StrPath] = None,
    sampler: Optional[str] = None,
    sampler_arg: Optional[float] = None,
    resource_attributes: Optional[Mapping[str, str]] = None,
    disabled: Optional[bool] = None,
    compat: Optional[Sequence[str]] = None,
    otel: bool = True,
    instrument: Union[bool, Sequence[str], None] = None,
) -> list[str]:
    """Builds the export pipeline (call once at start-up; calling again replaces it), makes
    Python OpenTelemetry's spans leave through it, and enables the LLM instrumentations asked for.
    Returns the names of the instrumentations enabled (``[]`` without ``instrument``).

    One-call set-up of an instrumented app::

        userspan.init(instrument=True)            # every installed LLM instrumentation
        userspan.capture("turn", lambda: client.chat.completions.create(...), {"user_id": uid})

    - ``otel`` (default ``True``; needs ``opentelemetry-sdk``, ``pip install 'userspan[otel]'``):
      the OpenTelemetry API's global tracer provider becomes an SDK ``TracerProvider`` with one
      :class:`userspan.otel.UserspanSpanProcessor`: each span is stamped with the current scope at
      start and, when it ends, handed to this pipeline (same endpoint, headers, batch queue, drop
      counting and resource, so the same ``service.name``; no second exporter or thread). When the
      app already set an SDK provider, the processor is added to it instead (its exporters are
      kept; a ``RuntimeWarning`` says so once). ``False`` leaves OpenTelemetry alone.
    - ``instrument``: ``True`` enables every installed instrumentor of OpenInference (``openai``,
      ``openai-agents``, ``anthropic``, ``langchain``, ``llama-index``, ``bedrock``, ``mistralai``,
      ``groq``, ``litellm``, ``vertexai``, ``google-genai``, ``dspy``, ``crewai``, ``haystack``)
      and OpenTelemetry's ``openai-v2`` (only when OpenInference's ``openai`` is not installed); a
      list enables the names it gives. A name that is not installed is skipped (logged on the
      ``userspan`` logger; a warning when listed explicitly); an instrumentation is never a reason
      for ``init`` to fail.

    Every argument left as ``None`` comes from the environment, then the default:

    - ``endpoint``: OTLP base URL (``/v1/traces`` is appended for HTTP). ``OTEL_EXPORTER_OTLP_ENDPOINT``
      (or ``..._TRACES_ENDPOINT``), default ``http://127.0.0.1:4318`` (the reference receiver).
    - ``api_key``: sent as ``Authorization: Bearer <key>``. ``USERSPAN_API_KEY``.
    - ``project``: resource attribute ``userspan.project``. ``USERSPAN_PROJECT``.
    - ``service_name``: resource ``service.name``. ``OTEL_SERVICE_NAME``.
    - ``protocol``: ``"http/protobuf"`` (default) | ``"http/json"`` | ``"grpc"`` (grpc needs a
      build with the core's ``grpc`` feature). ``OTEL_EXPORTER_OTLP_PROTOCOL``.
    - ``headers``: extra export headers. ``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``).
    - ``exporter``: ``"otlp"`` (default, batched on a background thread) | ``"memory"`` (tests:
      read spans with :func:`get_finished_spans`) | ``"console"`` (one JSON line per span on
      stdout) | ``"none"``. ``USERSPAN_EXPORTER``.
    - ``user_id_hashing``: ``"off"`` (default) | ``"add"`` (also send ``user.id.hash`` = hex
      HMAC-SHA256(hash_key, id)) | ``"replace"`` (send the hash as ``user.id``, drop ``user.email``).
      ``USERSPAN_USER_ID_HASHING``; ``hash_key`` from ``USERSPAN_HASH_KEY``.
    - ``propagate_baggage``: keys (``user.id``, ``session.id``) mirrored to W3C baggage; off
      by default. ``USERSPAN_PROPAGATE_BAGGAGE``.
    - ``max_queue_size`` (spans, default 2048), ``scheduled_delay_ms`` (default 5000),
      ``max_export_batch_size`` (spans, default 512): ``OTEL_BSP_*``.
    - ``export_timeout_ms``: deadline of one export including retries, in milliseconds (default
      10000). ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT``, then ``OTEL_EXPORTER_OTLP_TIMEOUT``, then
      ``OTEL_BSP_EXPORT_TIMEOUT``.
    - ``compression``: ``"gzip"`` (request body gzip-compressed, ``Content-Encoding: gzip``; gRPC's
      ``gzip`` encoding) | ``"none"`` (default). ``OTEL_EXPORTER_OTLP_TRACES_COMPRESSION``, then
      ``OTEL_EXPORTER_OTLP_COMPRESSION``.
    - ``certificate``: path (``str`` or ``os.PathLike``) of a PEM CA bundle trusted for an
      ``https://`` endpoint *instead of* the default roots (the platform's trust store plus
      Mozilla's). ``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE``, then ``OTEL_EXPORTER_OTLP_CERTIFICATE``.
    - ``client_certificate`` / ``client_key``: paths of the PEM client certificate chain and its
      private key, for mTLS (give both). ``OTEL_EXPORTER_OTLP_(TRACES_)CLIENT_CERTIFICATE`` /
      ``OTEL_EXPORTER_OTLP_(TRACES_)CLIENT_KEY``. The three files are read here, only for the
      ``otlp`` exporter; a server that rejects the certificate is an export error, counted in
      :func:`stats` (``export_errors``, ``spans_dropped``), never raised.
    - ``sampler``: ``"parentbased_always_on"`` (default) | ``"always_on"`` | ``"always_off"`` |
      ``"traceidratio"`` | ``"parentbased_always_off"`` | ``"parentbased_traceidratio"`` (the
      OpenTelemetry SDK samplers). ``OTEL_TRACES_SAMPLER``. A sampled-out span is neither stamped,
      counted nor exported: per-user numbers count what is sampled in.
    - ``sampler_arg``: ratio of the ``traceidratio`` samplers, 0.0 to 1.0 (default 1.0).
      ``OTEL_TRACES_SAMPLER_ARG``.
    - ``resource_attributes``: extra resource attributes (str to str), merged over
      ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, percent-decoded); a key given here wins, and
      ``service_name`` wins over a ``service.name`` here.
    - ``disabled``: ``True`` records and sends nothing; :func:`capture` still runs the function and
      returns its result. ``OTEL_SDK_DISABLED`` (``true`` / ``false``).
    - ``compat``: back ends whose own attribute keys are emitted beside the OTel ones; only
      ``"langfuse"`` (also ``langfuse.user.id``, ``langfuse.session.id``, ``langfuse.trace.tags``,
      ``langfuse.trace.metadata.<key>``). ``USERSPAN_COMPAT`` (comma separated).

    The exporter itself (``exporter`` / ``USERSPAN_EXPORTER``) also comes from the standard
    ``OTEL_TRACES_EXPORTER`` (``otlp`` | ``console`` | ``none``); ``USERSPAN_EXPORTER`` wins.
    Variable names and meanings: the OpenTelemetry SDK configuration specification
    (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and
    https://opentelemetry.io/docs/specs/otel/protocol/exporter/); each ``..._TRACES_...`` variant
    wins over the generic one. Recipes for hosted back ends: ``docs/recipes.md``.

    Also registers an ``atexit`` flush (at most :data:`EXIT_FLUSH_TIMEOUT_SECS`, 5 s) and rebuilds
    the pipeline in a ``fork()``ed child. Signal handlers are not touched.

    Raises:
        UserspanTypeError: an argument has the wrong type.
        UserspanValueError: a value outside what is allowed (``exporter="file"``, an
            ``instrument`` name not listed above: the message names the allowed ones).
        ConfigError: the configuration is unusable (endpoint not ``http(s)://``, hashing without a
            key, ``grpc`` not compiled in, a TLS file that cannot be read or parsed, a client
            certificate without its key), or an environment variable has a bad value (the message
            names the variable and what is allowed). Nothing is changed on error.
    """
    options: dict[str, Any] = {
        "endpoint": endpoint,
        "api_key": api_key,
        "project": project,
        "service_name": service_name,
        "protocol": protocol,
        "headers": dict(headers) if headers is not None else None,
        "exporter": exporter,
        "user_id_hashing": user_id_hashing,
        "hash_key": hash_key,
        "propagate_baggage": list(propagate_baggage) if propagate_baggage is not None else None,
        "max_queue_size": max_queue_size,
        "scheduled_delay_ms": scheduled_delay_ms,
        "max_export_batch_size": max_export_batch_size,
        "export_timeout_ms": export_timeout_ms,
        "compression": compression,
        "certificate": _path(certificate),
        "client_certificate": _path(client_certificate),
        "client_key": _path(client_key),
        "sampler": sampler,
        "sampler_arg": sampler_arg,
        "resource_attributes": dict(resource_attributes) if resource_attributes is not None else None,
        "disabled": disabled,
        # A bare string stays a string, for the core's "must be a list of strings".
        "compat": list(compat) if compat is not None and not isinstance(compat, str) else compat,
    }
    if not isinstance(otel, bool):
        raise _native.type_error("otel", "a bool", otel)
    if instrument is not None and not isinstance(instrument, bool):
        _setup.check_names(instrument)  # before anything changes
    _native.init(options)
    _install_process_hooks()
    _setup.setup_otel(otel)
    return _setup.instrument(instrument)


def flush(timeout_secs: float = DEFAULT_FLUSH_TIMEOUT_SECS) -> bool:
    """Exports every finished span now; waits at most ``timeout_secs`` seconds (default
    :data:`DEFAULT_FLUSH_TIMEOUT_SECS`, 30 s; the GIL is released meanwhile). Returns True when
    everything was exported in time. Never raises for telemetry failures: they are counted in
    :func:`stats`."""
    return bool(_native.flush(float(timeout_secs)))


def shutdown(timeout_secs: float = DEFAULT_FLUSH_TIMEOUT_SECS) -> None:
    """Flushes (at most ``timeout_secs`` seconds, default :data:`DEFAULT_FLUSH_TIMEOUT_SECS`, 30 s;
    GIL released) and stops the pipeline; spans after this are not exported. Idempotent."""
    _native.shutdown(float(timeout_secs))


def stats() -> dict[str, int]:
    """Process-wide counters since start: ``spans_started``, ``spans_exported``, ``spans_dropped``
    (queue full or export failed after retries), ``export_errors``, ``values_truncated`` (ids and
    session over 256 characters, metadata over 4 KiB of JSON)."""
    return _native.stats()


def get_finished_spans() -> list[dict[str, Any]]:
    """Spans finished so far with ``exporter="memory"`` (else ``[]``), oldest first, as plain dicts:
    ``name``, ``trace_id`` (32 hex), ``span_id`` (16 hex), ``parent_span_id`` (16 hex or None),
    ``kind``, ``start_time_unix_nano``, ``end_time_unix_nano``, ``attributes`` (wire keys),
    ``status`` (``{"code": "UNSET"|"OK"|"ERROR", "message": str}``), ``events``
    (``[{"name", "time_unix_nano", "attributes"}]``), ``resource``."""
    return _native.finished_spans()


def clear_finished_spans() -> None:
    """Forgets the memory exporter's spans."""
    _native.clear_finished_spans()


# --- capture ----------------------------------------------------------------------------------


def _begin(
    name: str, attrs: Any, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, _native.Span, Optional[_native.Scope]]:
    """Starts the span and calls ``func`` (a generator / async-generator function) in the scope to
    create the generator object; returns ``(gen, span, scope)``."""
    span, scope = _start(name, attrs, _scope_get(), _current_parent())
    tokens = _cx.enter(span, scope)
    try:
        gen = func(*args, **kwargs)
    except BaseException as exc:
        span.end(exc)
        raise
    finally:
        _cx.exit(tokens)
    return gen, span, scope


def _decorate(name: str, attrs: Any, func: F) -> F:
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            agen, span, scope = _begin(name, attrs, func, args, kwargs)
            send: Any = None
            thrown: Optional[BaseException] = None
            while True:
                done, value = await _cx.agen_step(agen, span, scope, send, thrown)
                if done:
                    return
                try:
                    send = yield value
                    thrown = None
                except GeneratorExit:
                    await _cx.agen_close(agen, span, scope)
                    raise
                except BaseException as exc:
                    send, thrown = None, exc

        return cast(F, agen_wrapper)

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            gen, span, scope = _begin(name, attrs, func, args, kwargs)
            return (yield from _cx.drive_generator(gen, span, scope))

        return cast(F, gen_wrapper)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def coro_wrapper(*args: Any, **kwargs: Any) -> Any:
            span, scope = _start(name, attrs, _scope_get(), _current_parent())
            tokens = _cx.enter(span, scope)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                _cx.end(span, exc)
                raise
            finally:
                _cx.exit(tokens)
            span.end()
            return result

        return cast(F, coro_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _capture(name, func, attrs, args, kwargs)

    return cast(F, wrapper)


class CaptureHandle:
    """A span started by ``capture.start(name, options)``; end it with :meth:`end`.

    Starting does not change the current context (like OpenTelemetry's ``start_span``); use the
    handle as a context manager (``with capture.start(...) as h:``) to make its span and scope
    current for a block. A handle that is garbage-collected without ``end()`` is ended then.
    """

    __slots__ = ("_scope", "_span", "_tokens")

    def __init__(self, span: _native.Span, scope: Optional[_native.Scope]) -> None:
        self._span = span
        self._scope = scope
        self._tokens: list[_cx.Tokens] = []

    @property
    def trace_id(self) -> str:
        """Trace id, 32 lower-case hex characters."""
        return self._span.trace_id

    @property
    def span_id(self) -> str:
        """Span id, 16 lower-case hex characters."""
        return self._span.span_id

    def set_attribute(self, key: str, value: Any) -> None:
        """Sets one span attribute (str, bool, int, float, or a homogeneous list of those).

        Raises:
            UserspanTypeError: for any other value type.
        """
        self._span.set_attribute(key, value)

    def end(self, error: Optional[BaseException] = None) -> None:
        """Ends the span; with ``error``, first records it (``exception`` event, status ERROR with
        ``str(error)``, ``error.type``). Idempotent."""
        self._span.end(error)

    def __enter__(self) -> CaptureHandle:
        self._tokens.append(_cx.enter(self._span, self._scope))
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> Literal[False]:
        _cx.exit(self._tokens.pop())
        _cx.end(self._span, exc)
        return False

    def __repr__(self) -> str:
        return f"CaptureHandle(trace_id={self.trace_id}, span_id={self.span_id})"


def _capture_start(name: str, options: Optional[Options] = None) -> CaptureHandle:
    span, scope = _start(name, options, _scope_get(), _current_parent())
    return CaptureHandle(span, scope)


def _capture(
    name: str, fn: Any = None, options: Optional[Options] = None, _args: Any = None, _kwargs: Any = None
) -> Any:
    # The one capture path: start (validates, before ``fn`` runs), run ``fn`` in the scope, end.
    # Kept in this one frame: it is the hot path. ``_args`` / ``_kwargs`` carry the call arguments
    # of the decorators' sync wrapper (private, left out of the public signature below; positional
    # because keyword-only defaults make every call of the function slower).
    if not callable(fn):
        return _capture_decorator(name, fn, options)
    if _args is not None and type(_kwargs) is not dict:
        raise TypeError(f"capture() takes at most 3 positional arguments (name, fn, options), got {_args!r} too")
    b = _cx._bridge
    if b is None and _OTEL_TRACE in _modules:
        b = _cx.bridge()
    span, scope = _start(name, options, _scope_get(), _span_get() if b is None else b.parent())
    ts = _scope_set(scope)
    tp = _span_set(span)
    to = b.enter(span) if b is not None and b.run_enters else None
    try:
        result = fn() if _args is None else fn(*_args, **_kwargs)
    except BaseException as exc:
        span.end(exc)
        raise
    finally:
        if to is not None:
            # `to` is set only when `b` is not None; mypy cannot see it, and this path is kept lean.
            b.exit(to)  # type: ignore[union-attr]
        _span_reset(tp)
        _scope_reset(ts)
    handler = _SPECIAL.get(type(result))
    if handler is not None:
        return handler(result, span, scope)
    span.end_ok()
    return result


def _capture_decorator(name: str, fn: Any, options: Optional[Options]) -> Callable[[F], F]:
    # Decorator: capture(name), capture(name, options), capture(name, options=...).
    if fn is not None:
        if options is not None:
            raise _native.type_error("fn", "a callable", fn)
        options = fn
    attrs = _native.Attributes(options)  # validated now, before any call

    def decorator(func: F) -> F:
        return _decorate(name, attrs, func)

    return decorator


class _CaptureFunction(Protocol):
    @overload
    def __call__(self, name: str, fn: Callable[[], T], options: Optional[Options] = None) -> T: ...

    @overload
    def __call__(self, name: str, fn: Optional[Options] = None, options: None = None) -> Callable[[F], F]: ...

    def __call__(self, name: str, fn: Any = None, options: Any = None) -> Any: ...

    def start(self, name: str, options: Optional[Options] = None) -> CaptureHandle: ...


# Function attributes mypy does not model on a plain function; callers see them through
# _CaptureFunction (``capture.start``) and inspect (``__signature__``).
_capture.start = _capture_start  # type: ignore[attr-defined]
_capture.__name__ = _capture.__qualname__ = "capture"
_sig = inspect.signature(_capture)
_capture.__signature__ = _sig.replace(  # type: ignore[attr-defined]
    parameters=[p for p in _sig.parameters.values() if not p.name.startswith("_")]
)
del _sig
_capture.__doc__ = """Runs ``fn`` in a span ``name`` with ``options`` as the attribute scope; returns
``fn``'s result unchanged.

Forms::

    capture(name, fn, options=None)       # call: fn() runs now (Latitude's shape)
    @capture(name) / @capture(name, options)  # decorator for def, async def, generator and
                                          # async-generator functions
    capture.start(name, options=None)     # manual: a CaptureHandle with .end(error=None)

The span is a child of the current span (userspan's or a Python OpenTelemetry span; same trace),
and the scope — ``options`` merged over the current one (scalars: inner wins; ``tags``: union;
``metadata``/``user_metadata``: shallow merge) — is current for the whole of ``fn``: until the
coroutine it returns settles, or until the generator / async generator it returns is exhausted
or closed. Inside, Python OpenTelemetry sees the capture span as the current span.

``fn`` may be a plain function, an ``async def`` (or a lambda returning a coroutine: capture then
returns an awaitable), or return a generator / async generator (capture returns one yielding the
same items) or an asyncio future (returned unchanged; the span ends when it is done).

An exception (any ``BaseException``) is recorded on the span (``exception`` event, status ERROR
with ``str(exc)``, ``error.type`` = the class name) and re-raised unchanged (same object).

Options: ``user_id``, ``user_email``, ``user_id_type`` (``"email"|"phone"|"uuid"|"custom"``),
``user_id_hash``, ``user_metadata`` (dict), ``session_id``, ``tags`` (list of str), ``metadata``
(dict), ``attributes`` (dict of extra span attributes). ``None``/``""`` mean unset. Ids, e-mail,
session and tags over 256 characters are truncated (and counted in ``stats()``), metadata over
4 KiB of JSON too.

Raises (before ``fn`` runs; for the decorator, when decorating):
    UserspanTypeError: unknown option (``.code == "USERSPAN_UNKNOWN_OPTION"``) or wrong type
        (``.code == "USERSPAN_INVALID_TYPE"``); ``.field`` names the option (``"tags[1]"``,
        ``"attributes.k"``).
    UserspanValueError: ``user_id_type`` outside the enum (``.code == "USERSPAN_INVALID_VALUE"``).
    TypeError: a fourth positional argument (as Python raises for any call with too many).

Every :class:`UserspanError` has ``.code`` (the core's stable code, the same in the JS
packages), ``.field`` and ``.kind`` (the short kind name ``"type"`` / ``"unknown_option"`` /
``"value"`` / ``"config"``, kept as a compatibility alias of ``.code``).
"""

#: See the docstring: ``capture(name, fn, options)``, ``@capture(name, options)``, ``capture.start``.
capture: _CaptureFunction = cast(_CaptureFunction, _capture)


# --- attribute scopes -------------------------------------------------------------------------


class using_attributes:  # noqa: N801 - lower case like the OpenInference context manager it mirrors
    """Opens an attribute scope: every span started inside carries these attributes.

    A context manager (``with`` / ``async with``) and a decorator (for ``def``, ``async def``,
    generator and async-generator functions)::

        with using_attributes(user_id="u-42", session_id="conv-7", tags=["beta"]):
            client.chat.completions.create(...)

    Keys: as :func:`capture`'s options. Nested scopes merge (scalars: inner wins; ``tags``: union
    in order; ``metadata`` / ``user_metadata``: shallow merge, inner key wins); leaving restores
    the outer scope exactly. Follows ``contextvars``: asyncio tasks get a copy, plain threads
    start empty (use :func:`wrap`).

    Raises (at construction, before the block runs):
        UserspanTypeError, UserspanValueError: as :func:`capture`.
    """

    __slots__ = ("_attrs", "_tokens")

    def __init__(self, **options: Any) -> None:
        self._attrs = _native.Attributes(options)
        self._tokens: list[Any] = []

    def _enter(self) -> None:
        self._tokens.append(_scope_set(_native.nest(_scope_get(), self._attrs)))

    def _exit(self) -> None:
        _scope_reset(self._tokens.pop())

    def __enter__(self) -> using_attributes:
        self._enter()
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self._exit()
        return False

    async def __aenter__(self) -> using_attributes:
        self._enter()
        return self

    async def __aexit__(self, *exc: Any) -> Literal[False]:
        self._exit()
        return False

    def __call__(self, func: F) -> F:
        attrs = self._attrs

        def scope_now() -> Any:
            return _native.nest(_scope_get(), attrs)

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                scope = scope_now()
                tokens = _cx.enter(None, scope)
                try:
                    agen = func(*args, **kwargs)
                finally:
                    _cx.exit(tokens)
                send: Any = None
                thrown: Optional[BaseException] = None
                while True:
                    done, value = await _cx.agen_step(agen, None, scope, send, thrown)
                    if done:
                        return
                    try:
                        send = yield value
                        thrown = None
                    except GeneratorExit:
                        await _cx.agen_close(agen, None, scope)
                        raise
                    except BaseException as exc:
                        send, thrown = None, exc

            return cast(F, agen_wrapper)

        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                scope = scope_now()
                tokens = _cx.enter(None, scope)
                try:
                    gen = func(*args, **kwargs)
                finally:
                    _cx.exit(tokens)
                return (yield from _cx.drive_generator(gen, None, scope))

            return cast(F, gen_wrapper)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def coro_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = _scope_set(scope_now())
                try:
                    return await func(*args, **kwargs)
                finally:
                    _scope_reset(token)

            return cast(F, coro_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _scope_set(scope_now())
            try:
                return func(*args, **kwargs)
            finally:
                _scope_reset(token)

        return cast(F, wrapper)

    def __repr__(self) -> str:
        return f"using_attributes({self._attrs.to_options()!r})"


def using_user(
    user_id: Optional[str],
    *,
    user_email: Optional[str] = None,
    user_id_type: Optional[str] = None,
    user_id_hash: Optional[str] = None,
    user_metadata: Optional[Mapping[str, Any]] = None,
) -> using_attributes:
    """Scope with the end user's identity (``user.id``, ``user.email``, ``user.id.type``,
    ``user.id.hash``, ``user.metadata``). See :class:`using_attributes`."""
    return using_attributes(
        user_id=user_id,
        user_email=user_email,
        user_id_type=user_id_type,
        user_id_hash=user_id_hash,
        user_metadata=user_metadata,
    )


def using_session(session_id: Optional[str]) -> using_attributes:
    """Scope with ``session.id`` (groups traces into a conversation). See :class:`using_attributes`."""
    return using_attributes(session_id=session_id)


def using_metadata(metadata: Optional[Mapping[str, Any]]) -> using_attributes:
    """Scope with ``metadata`` (JSON object text, OpenInference); merges shallowly with outer metadata."""
    return using_attributes(metadata=metadata)


def using_tags(tags: Optional[list[str]]) -> using_attributes:
    """Scope with ``tag.tags`` (OpenInference); the union with outer tags, in order, no duplicates."""
    return using_attributes(tags=tags)


def get_attributes() -> dict[str, Any]:
    """The current scope's merged options as a dict with the option names (``user_id``,
    ``session_id``, ``tags``, ``metadata`` ...); ``{}`` outside any scope."""
    scope = _scope_get()
    return {} if scope is None else scope.to_options()


def get_current_span() -> Optional[_native.Span]:
    """The innermost current ``capture`` span (has ``set_attribute``, ``add_event``,
    ``set_status``, ``trace_id``, ``span_id``), or None."""
    return _cx.span_get()


# --- threads and executors --------------------------------------------------------------------


def wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """Returns a callable that runs ``fn`` in a copy of the *current* context (scope, capture
    span, Python OpenTelemetry context), taken now. A plain ``threading.Thread`` or executor
    worker starts with an empty context (``contextvars`` rules); hand them ``wrap(fn)``::

        executor.submit(userspan.wrap(work), arg)
        threading.Thread(target=userspan.wrap(work)).start()

    Each call runs in its own copy, so the result may be called many times, concurrently.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context


#: Alias of :func:`wrap`.
copy_context_to_thread = wrap
