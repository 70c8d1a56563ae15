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

Requires ``opentelemetry-sdk`` (``pip install 'userspan[otel]'``).
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry.sdk.trace import SpanProcessor

from . import _context, _native

__all__ = ["UserAttributesSpanProcessor"]


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
