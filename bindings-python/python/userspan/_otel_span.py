"""The Python OpenTelemetry view of a userspan span (imported only once ``opentelemetry.trace`` is).

Inside ``capture(...)``, ``opentelemetry.trace.get_current_span()`` returns one of these: a
``NonRecordingSpan`` subclass whose ``SpanContext`` carries our trace and span ids, so spans from
existing instrumentations (OpenInference, OpenLLMetry, ``tracer.start_as_current_span``) nest
under the capture span, and whose ``set_attribute`` / ``add_event`` / ``set_status`` /
``record_exception`` write to the real (Rust) span. ``end()`` is a no-op: ``capture`` owns the
span's lifetime.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

_log = logging.getLogger("userspan")


def make_bridge_span_class() -> type[Any]:
    from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

    sampled_flags = TraceFlags(TraceFlags.SAMPLED)
    default_flags = TraceFlags(TraceFlags.DEFAULT)

    class UserspanOtelSpan(NonRecordingSpan):
        """OpenTelemetry's view of the current ``userspan.capture`` span."""

        __slots__ = ("_lazy_context", "_userspan")

        def __init__(self, span: Any) -> None:  # no super().__init__(): the SpanContext is built lazily
            self._userspan = span
            self._lazy_context: Optional[SpanContext] = None

        def get_span_context(self) -> SpanContext:
            ctx = self._lazy_context
            if ctx is None:
                trace_id, span_id, sampled = self._userspan.ids()
                ctx = SpanContext(
                    trace_id=trace_id,
                    span_id=span_id,
                    is_remote=False,
                    trace_flags=sampled_flags if sampled else default_flags,
                )
                self._lazy_context = ctx
            return ctx

        def is_recording(self) -> bool:
            return bool(self._userspan.is_recording())

        def set_attribute(self, key: str, value: Any) -> None:
            try:
                self._userspan.set_attribute(key, value)
            except (TypeError, ValueError) as e:  # OTel API semantics: warn, don't raise
                _log.warning("userspan: attribute %r ignored: %s", key, e)

        def set_attributes(self, attributes: Any) -> None:
            for k, v in dict(attributes).items():
                self.set_attribute(k, v)

        def add_event(self, name: str, attributes: Any = None, timestamp: Optional[int] = None) -> None:
            try:
                self._userspan.add_event(name, dict(attributes) if attributes else None)
            except (TypeError, ValueError) as e:
                _log.warning("userspan: event %r ignored: %s", name, e)

        def set_status(self, status: Any, description: Optional[str] = None) -> None:
            code = getattr(status, "status_code", status)
            if description is None:
                description = getattr(status, "description", None)
            name = {StatusCode.OK: "OK", StatusCode.ERROR: "ERROR"}.get(code, "UNSET")
            self._userspan.set_status(name, description)

        def record_exception(
            self,
            exception: BaseException,
            attributes: Any = None,
            timestamp: Optional[int] = None,
            escaped: bool = False,
        ) -> None:
            self._userspan.record_exception(exception)

        def update_name(self, name: str) -> None:
            self._userspan.update_name(name)

        def end(self, end_time: Optional[int] = None) -> None:
            """No-op: the span ends when its ``capture`` does."""

        def __repr__(self) -> str:
            return f"UserspanOtelSpan({self._userspan!r})"

    return UserspanOtelSpan
