"""What ``userspan.init(otel=..., instrument=...)`` does beyond building the core pipeline: the
Python OpenTelemetry tracer provider whose spans leave through the core, and the LLM
instrumentations it enables (``docs/design.md``, "OpenTelemetry interop").

Rules:

- ``otel=True`` (default) and ``opentelemetry-sdk`` importable: the OTel API's global tracer
  provider gets one :class:`userspan.otel.UserspanSpanProcessor` (stamps at start, exports through
  the core at end). No provider set yet: a new SDK ``TracerProvider`` is made global. The app's
  own SDK provider: the processor is added to it (said once through ``warnings``); its own
  processors and exporters are kept. Another kind of provider: a warning, nothing added.
- Once added, the processor stays (OTel Python refuses to replace a global provider); a later
  ``init`` changes only what it exports to, and ``init(otel=False)`` switches it off.
- Where the app's OTel spans cannot reach an exporter (``opentelemetry-api`` without the SDK, or a
  provider userspan cannot add to), one ``RuntimeWarning`` says so.
- ``instrument``: ``True`` enables every installed instrumentor of :data:`INSTRUMENTORS` (OTel's
  ``openai-v2`` only when OpenInference's ``openai`` is not installed: both would trace each call),
  a list enables those names (unknown name: ``UserspanValueError`` naming the allowed ones; a known
  one that is not installed: skipped and logged). Never fails for a missing package.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import warnings
from collections.abc import Sequence
from typing import Any, Optional, Union

from . import _native

log = logging.getLogger("userspan")

#: Instrumentation name → (module, class) of its ``BaseInstrumentor``, in the order ``True`` tries
#: them. OpenInference's packages (``openinference-instrumentation-<name>``) and OpenTelemetry's
#: ``opentelemetry-instrumentation-openai-v2``.
INSTRUMENTORS: dict[str, tuple[str, str]] = {
    "openai": ("openinference.instrumentation.openai", "OpenAIInstrumentor"),
    "openai-agents": ("openinference.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
    "anthropic": ("openinference.instrumentation.anthropic", "AnthropicInstrumentor"),
    "langchain": ("openinference.instrumentation.langchain", "LangChainInstrumentor"),
    "llama-index": ("openinference.instrumentation.llama_index", "LlamaIndexInstrumentor"),
    "bedrock": ("openinference.instrumentation.bedrock", "BedrockInstrumentor"),
    "mistralai": ("openinference.instrumentation.mistralai", "MistralAIInstrumentor"),
    "groq": ("openinference.instrumentation.groq", "GroqInstrumentor"),
    "litellm": ("openinference.instrumentation.litellm", "LiteLLMInstrumentor"),
    "vertexai": ("openinference.instrumentation.vertexai", "VertexAIInstrumentor"),
    "google-genai": ("openinference.instrumentation.google_genai", "GoogleGenAIInstrumentor"),
    "dspy": ("openinference.instrumentation.dspy", "DSPyInstrumentor"),
    "crewai": ("openinference.instrumentation.crewai", "CrewAIInstrumentor"),
    "haystack": ("openinference.instrumentation.haystack", "HaystackInstrumentor"),
    "openai-v2": ("opentelemetry.instrumentation.openai_v2", "OpenAIInstrumentor"),
}

_lock = threading.Lock()
#: The processor ``init`` added (None until then), and the provider it was added to.
_processor: Optional[Any] = None
_provider: Optional[Any] = None
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken install
        return False


def _sdk_available() -> bool:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def setup_otel(otel: bool) -> Optional[Any]:
    """Installs (or switches) the host processor; returns the SDK provider it is on, or None."""
    global _processor, _provider
    with _lock:
        if not otel:
            if _processor is not None:
                _processor.enabled = False
            return None
        if not _sdk_available():
            if _installed("opentelemetry.trace"):
                _warn_once(
                    "no-sdk",
                    "userspan: opentelemetry-api is installed but opentelemetry-sdk is not, so spans of "
                    "OpenTelemetry instrumentations are not recorded or exported; "
                    "install it with `pip install 'userspan[otel]'`",
                )
            return None
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        from .otel import UserspanSpanProcessor

        if _processor is not None:
            _processor.enabled = True
            return _provider
        current = trace.get_tracer_provider()
        processor = UserspanSpanProcessor()
        if isinstance(current, TracerProvider):
            current.add_span_processor(processor)
            _warn_once(
                "app-provider",
                "userspan.init: the app already set an OpenTelemetry SDK TracerProvider; userspan added its "
                "processor to it (spans are stamped with the current user scope and also exported through "
                "userspan's pipeline; the provider's own exporters are kept). Pass otel=False to opt out.",
            )
            provider = current
        elif isinstance(current, trace.ProxyTracerProvider):  # none set yet
            provider = TracerProvider()
            provider.add_span_processor(processor)
            trace.set_tracer_provider(provider)
            if trace.get_tracer_provider() is not provider:  # set by another thread meanwhile
                _warn_once(
                    "not-set",
                    "userspan.init: another OpenTelemetry tracer provider was set at the same time; "
                    "OpenTelemetry spans are not exported through userspan",
                )
                return None
        else:
            _warn_once(
                "foreign-provider",
                f"userspan.init: the global OpenTelemetry tracer provider is a {type(current).__qualname__}, "
                "not an SDK TracerProvider, so userspan cannot add its processor: OpenTelemetry spans are "
                "not stamped with the user scope nor exported through userspan",
            )
            return None
        _processor, _provider = processor, provider
        # Capture spans become OTel's current span, so instrumentation spans nest under them.
        from . import _context

        _context.bridge()
        return provider


def _allowed() -> str:
    return ", ".join(f'"{n}"' for n in INSTRUMENTORS)


def check_names(which: Any) -> None:
    """Raises ``UserspanTypeError`` unless ``which`` is a list of names, ``UserspanValueError``
    naming the allowed ones for a name that is not in :data:`INSTRUMENTORS`."""
    if isinstance(which, str) or not isinstance(which, Sequence):
        raise _native.type_error("instrument", "True, False or a list of instrumentation names", which)
    for i, n in enumerate(which):
        if n not in INSTRUMENTORS:
            raise _native.value_error(f"instrument[{i}]", _allowed(), n)


def instrument(which: Union[bool, Sequence[str], None]) -> list[str]:
    """Enables the instrumentors ``which`` names (see the module docstring); returns the names
    enabled now or before, in :data:`INSTRUMENTORS` order."""
    if which is None or which is False:
        return []
    if which is True:
        names = [n for n, (mod, _) in INSTRUMENTORS.items() if _installed(mod)]
        if "openai" in names and "openai-v2" in names:
            names.remove("openai-v2")
        explicit = False
    else:
        check_names(which)
        names = [n for n in INSTRUMENTORS if n in which]
        explicit = True
    enabled: list[str] = []
    for name in names:
        module, cls = INSTRUMENTORS[name]
        if not _installed(module):
            log.info("userspan: instrumentation %r is not installed (%s); skipped", name, module)
            if explicit:
                _warn_once(
                    f"missing-{name}", f"userspan.init: instrumentation {name!r} is not installed ({module}); skipped"
                )
            continue
        try:
            instrumentor = getattr(importlib.import_module(module), cls)()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument()
        except Exception as e:  # a broken or incompatible package: say so, never fail init
            _warn_once(f"failed-{name}", f"userspan.init: instrumentation {name!r} could not be enabled: {e}")
            continue
        enabled.append(name)
    if enabled:
        log.info("userspan: enabled instrumentations: %s", ", ".join(enabled))
    return enabled
