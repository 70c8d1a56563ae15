"""OpenTelemetry SDK interop for apps that own a Python ``TracerProvider``.

.. code-block:: python

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from userspan.otel import UserAttributesSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(UserAttributesSpanProcessor())   # add it first
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

Every span the provider starts while a userspan scope is current (``capture`` or
``using_attributes``) is stamped with the scope's attributes (``user.id``, ``session.id``, ...),
exactly as the Rust core stamps its own spans (same keys, merge rules and hashing).

:class:`UserspanSpanProcessor` also exports each span through the pipeline ``userspan.init``
built (what ``init`` adds to the global provider; ``docs/design.md``, "OpenTelemetry interop").

Requires ``opentelemetry-sdk`` (``pip install 'userspan[otel]'``).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from opentelemetry.sdk.trace import SpanProcessor

from . import _context, _native

_log = logging.getLogger("userspan")

__all__ = ["UserAttributesSpanProcessor", "UserspanSpanProcessor"]


class UserAttributesSpanProcessor(SpanProcessor):
    """Stamps the current userspan scope's attributes on every span at start.

    Args:
        user_id_hashing: ``"off"`` | ``"add"`` | ``"replace"``; with ``hash_key``. Default: the
            mode of the pipeline ``userspan.init`` built, else ``USERSPAN_USER_ID_HASHING`` /
            ``USERSPAN_HASH_KEY``, else ``"off"``.
        hash_key: HMAC key for ``add`` / ``replace``.

    Raises:
        userspan.UserspanValueError: unknown hashing mode.
        userspan.ConfigError: ``add`` / ``replace`` without a key.
    """

    def __init__(self, user_id_hashing: Optional[str] = None, hash_key: Optional[str] = None) -> None:
        self._privacy = (
            _native.Privacy(user_id_hashing, hash_key) if user_id_hashing is not None or hash_key is not None else None
        )
        # From now on capture spans are OTel's current span, so Python spans nest under them.
        _context.bridge()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        scope = _context.scope_get()
        if scope is not None:
            span.set_attributes(scope.span_attributes(self._privacy))

    def on_end(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class UserspanSpanProcessor(UserAttributesSpanProcessor):
    """Stamps the current scope at span start (as :class:`UserAttributesSpanProcessor`) and, at
    span end, hands the finished span to the pipeline ``userspan.init`` built: the same exporter,
    endpoint, headers, batch queue, drop counting and resource (``service.name``) as capture spans.
    No Python exporter and no Python thread: the span is translated in Rust and queued there.

    ``userspan.init()`` installs one on the global tracer provider (or adds it to the app's own
    SDK provider); add one yourself only to a provider that ``init`` does not see. Spans that end
    before ``init`` or after ``userspan.shutdown()`` are counted in ``stats()["spans_started"]``
    and not exported. :meth:`force_flush` flushes the core pipeline (``userspan.flush``).
    """

    def __init__(self, user_id_hashing: Optional[str] = None, hash_key: Optional[str] = None) -> None:
        super().__init__(user_id_hashing, hash_key)
        #: False: neither stamps nor exports (``init(otel=False)`` after an ``init`` that added it).
        self.enabled = True

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.enabled:
            scope = _context.scope_get()
            if scope is not None:
                span.set_attributes(scope.span_attributes(self._privacy))

    def on_end(self, span: Any) -> None:
        if self.enabled:
            try:
                _native.export_otel_span(span)
            except Exception as e:  # not shaped like an SDK ReadableSpan: telemetry never raises
                _log.debug("userspan: span %r not exported: %s", getattr(span, "name", span), e)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(_native.flush(timeout_millis / 1000.0))
