"""Python OpenTelemetry's runtime context with the current ``userspan.capture`` span folded in
(imported only once ``opentelemetry.trace`` is; installed by ``_context._LazyBridge``)."""

from __future__ import annotations

from contextvars import Token
from typing import Any, Optional

from opentelemetry.context.context import _RuntimeContext

from . import _native
from ._context import anchor_get, anchor_reset, anchor_set, span_get


class _AttachToken:
    __slots__ = ("anchor", "ctx")

    def __init__(self, ctx: object, anchor: Token[Optional[_native.Span]]) -> None:
        self.ctx = ctx
        self.anchor = anchor


class UserspanRuntimeContext(_RuntimeContext):
    """Python OpenTelemetry's runtime context (the object behind ``opentelemetry.context.attach``,
    ``detach`` and ``get_current``) with the current ``userspan.capture`` span folded in.

    It keeps OTel's contexts in the runtime context OTel had loaded (``inner``: contextvars by
    default, or what ``OTEL_PYTHON_CONTEXT`` chose) and adds one ContextVar, the *anchor*: the
    capture span current at the last ``attach``. ``get_current()`` returns inner's context, except
    while a capture that began after that attach is current: then a copy of it whose current span
    is the capture span. Tokens from before the wrapping are detached by ``inner`` as they were.
    """

    def __init__(self, inner: Any, with_span: Any) -> None:
        self.inner = inner
        self._with_span = with_span

    # OTel types the token as a contextvars Token, but treats it as opaque: what ``attach`` returns
    # only ever comes back to ``detach``. Ours also carries the anchor's token.
    def attach(self, context: Any) -> _AttachToken:  # type: ignore[override]
        return _AttachToken(self.inner.attach(context), anchor_set(span_get()))

    def get_current(self) -> Any:
        ctx = self.inner.get_current()
        span = span_get()
        if span is None or anchor_get() is span:
            return ctx
        return self._with_span(ctx, span)

    def detach(self, token: Any) -> None:
        if type(token) is not _AttachToken:
            self.inner.detach(token)  # attached before userspan wrapped the runtime context
            return
        try:
            self.inner.detach(token.ctx)
        finally:
            anchor_reset(token.anchor)
