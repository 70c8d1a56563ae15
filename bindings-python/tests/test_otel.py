"""Interop with a real opentelemetry-sdk TracerProvider: a Python OTel span current at capture start
becomes the parent; inside capture, Python OTel sees the capture span as current (spans of
existing instrumentations nest under it); UserAttributesSpanProcessor stamps them."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry import (
    baggage,
    trace,
)
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import userspan
from userspan.otel import UserAttributesSpanProcessor

from .conftest import PYTHON, python_env


@pytest.fixture
def otel() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    """A Python SDK provider (not the global one) with our processor first and an in-memory exporter."""
    provider = TracerProvider()
    provider.add_span_processor(UserAttributesSpanProcessor())
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("app"), exporter
    provider.shutdown()


def hex_trace(span: Any) -> str:
    return format(span.context.trace_id, "032x")


def hex_span(span_id: int) -> str:
    return format(span_id, "016x")


def test_python_spans_nest_under_capture_and_are_stamped(spans: Any, otel: Any) -> None:
    tracer, exporter = otel

    def agent() -> str:
        # What OpenInference / OpenLLMetry instrumentations do.
        with tracer.start_as_current_span("openai.chat") as llm:
            llm.set_attribute("gen_ai.request.model", "gpt-x")
            with tracer.start_as_current_span("http.post"):
                pass
        return "ok"

    assert userspan.capture("turn", agent, {"user_id": "u-1", "session_id": "s-1", "tags": ["t"]}) == "ok"
    turn = spans.named("turn")
    py = {s.name: s for s in exporter.get_finished_spans()}
    chat, post = py["openai.chat"], py["http.post"]
    assert hex_trace(chat) == turn["trace_id"] == hex_trace(post)
    assert hex_span(chat.parent.span_id) == turn["span_id"]
    assert post.parent.span_id == chat.context.span_id
    for s in (chat, post):
        assert s.attributes["user.id"] == "u-1"
        assert s.attributes["session.id"] == "s-1"
        assert tuple(s.attributes["tag.tags"]) == ("t",)
    assert chat.attributes["gen_ai.request.model"] == "gpt-x"


def test_python_span_current_at_capture_start_is_the_parent(spans: Any, otel: Any) -> None:
    tracer, exporter = otel
    with tracer.start_as_current_span("http.request") as request:
        userspan.capture("turn", lambda: userspan.capture("inner", lambda: None), {"user_id": "u"})
    turn, inner = spans.named("turn"), spans.named("inner")
    assert turn["trace_id"] == hex_trace(request)
    assert turn["parent_span_id"] == hex_span(request.get_span_context().span_id)
    assert inner["parent_span_id"] == turn["span_id"]
    # The request span started outside any scope: not stamped.
    [req] = exporter.get_finished_spans()
    assert "user.id" not in (req.attributes or {})


def test_capture_nested_inside_a_python_span_inside_capture(spans: Any, otel: Any) -> None:
    tracer, exporter = otel

    def outer() -> None:
        with tracer.start_as_current_span("retriever"):
            userspan.capture("inner", lambda: None)

    userspan.capture("outer", outer, {"user_id": "u"})
    [retriever] = exporter.get_finished_spans()
    inner, outer_span = spans.named("inner"), spans.named("outer")
    assert hex_span(retriever.parent.span_id) == outer_span["span_id"]
    assert inner["parent_span_id"] == hex_span(retriever.context.span_id)
    assert inner["trace_id"] == outer_span["trace_id"]


def test_current_span_inside_capture_writes_to_the_capture_span(spans: Any) -> None:
    def work() -> None:
        current = trace.get_current_span()
        assert current.get_span_context().is_valid
        assert current.is_recording()
        current.set_attribute("gen_ai.usage.input_tokens", 10)
        current.set_attributes({"gen_ai.usage.output_tokens": 5, "gen_ai.request.model": "m"})
        current.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.score.label": "pass"})
        current.set_attribute("bad", {"nested": 1})  # warned and ignored, like the OTel API does
        current.end()  # no-op: capture owns the span

    userspan.capture("t", work)
    span = spans.named("t")
    assert span["attributes"] == {
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.request.model": "m",
    }
    assert span["events"][0]["attributes"] == {"gen_ai.evaluation.score.label": "pass"}
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_use_span_error_handling_on_the_capture_span(spans: Any) -> None:
    def work() -> None:
        with trace.use_span(trace.get_current_span(), end_on_exit=False):
            raise ValueError("via use_span")

    with pytest.raises(ValueError, match="via use_span"):
        userspan.capture("u", work)
    span = spans.named("u")
    assert span["status"] == {"code": "ERROR", "message": "via use_span"}


def test_set_status_through_the_otel_api(spans: Any) -> None:
    userspan.capture("ok", lambda: trace.get_current_span().set_status(StatusCode.OK))
    assert spans.named("ok")["status"]["code"] == "OK"


def test_using_attributes_stamps_python_spans_without_capture(otel: Any) -> None:
    tracer, exporter = otel
    with userspan.using_attributes(user_id="scoped", user_metadata={"plan": "pro"}):
        with tracer.start_as_current_span("plain"):
            pass
    [plain] = exporter.get_finished_spans()
    assert plain.attributes["user.id"] == "scoped"
    assert plain.attributes["user.metadata"] == '{"plan":"pro"}'
    assert plain.parent is None


def test_processor_hashing(otel: Any) -> None:
    provider = TracerProvider()
    provider.add_span_processor(UserAttributesSpanProcessor(user_id_hashing="replace", hash_key="secret"))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with userspan.using_attributes(user_id="ada@example.com", user_email="ada@example.com"):
        with provider.get_tracer("t").start_as_current_span("hashed"):
            pass
    [s] = exporter.get_finished_spans()
    assert s.attributes["user.id"] == s.attributes["user.id.hash"] != "ada@example.com"
    assert len(s.attributes["user.id"]) == 64
    assert "user.email" not in s.attributes
    with pytest.raises(userspan.ConfigError):
        UserAttributesSpanProcessor(user_id_hashing="add")


def test_processor_follows_the_pipeline_hashing_mode(otel: Any) -> None:
    tracer, exporter = otel
    userspan.init(exporter="memory", user_id_hashing="add", hash_key="secret")
    try:
        with userspan.using_attributes(user_id="u-1"), tracer.start_as_current_span("hashed"):
            pass
        [s] = exporter.get_finished_spans()
        # Same HMAC as the conformance vector "hashing mode add".
        assert s.attributes["user.id.hash"] == "8a756f7a5508f73fdfa425b9e762443bcfcfe5f372ab3643a890ddcd2433f599"
    finally:
        userspan.init(exporter="memory")


def test_processor_without_options_follows_init_replace_and_shutdown() -> None:
    # A processor given no options renders with the core's current privacy mode
    # (userspan::current_privacy), read at each span start: the one init configured, and after
    # shutdown the environment's (unset here: no hashing).
    import hashlib
    import hmac

    provider = TracerProvider()
    provider.add_span_processor(UserAttributesSpanProcessor())
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("plain")
    digest = hmac.new(b"k-replace", b"ada@example.com", hashlib.sha256).hexdigest()
    userspan.init(exporter="memory", user_id_hashing="replace", hash_key="k-replace")
    try:
        with userspan.using_attributes(user_id="ada@example.com", user_email="ada@example.com"):
            with tracer.start_as_current_span("after-init"), tracer.start_as_current_span("child"):
                pass
        spans = exporter.get_finished_spans()
        assert len(spans) == 2
        for s in spans:
            assert s.attributes["user.id"] == digest
            assert s.attributes["user.id.hash"] == digest
            assert "user.email" not in s.attributes
            assert "ada@example.com" not in [str(v) for v in s.attributes.values()]
    finally:
        userspan.shutdown()
    exporter.clear()
    with userspan.using_attributes(user_id="ada@example.com"), tracer.start_as_current_span("after-shutdown"):
        pass
    [s] = exporter.get_finished_spans()
    assert s.attributes["user.id"] == "ada@example.com"
    assert "user.id.hash" not in s.attributes
    provider.shutdown()
    userspan.init(exporter="memory")


def test_async_and_generators_keep_python_spans_nested(spans: Any, otel: Any, caplog: Any) -> None:
    tracer, exporter = otel
    caplog.set_level(logging.DEBUG)

    async def agent() -> None:
        await asyncio.sleep(0)
        with tracer.start_as_current_span("async.llm"):
            await asyncio.sleep(0)

    def stream() -> Iterator[int]:
        for i in range(5):
            with tracer.start_as_current_span(f"chunk-{i}"):
                yield i

    async def main() -> None:
        await asyncio.gather(
            userspan.capture("a", agent, {"user_id": "ua"}),
            userspan.capture("b", agent, {"user_id": "ub"}),
        )

    asyncio.run(main())
    for x in userspan.capture("g", stream, {"user_id": "ug"}):
        if x == 2:
            break
    py = exporter.get_finished_spans()
    llms = [s for s in py if s.name == "async.llm"]
    assert sorted(s.attributes["user.id"] for s in llms) == ["ua", "ub"]
    for s in llms:
        parent = spans.named("a" if s.attributes["user.id"] == "ua" else "b")
        assert hex_span(s.parent.span_id) == parent["span_id"]
    g = spans.named("g")
    chunks = [s for s in py if s.name.startswith("chunk-")]
    assert chunks and all(hex_span(s.parent.span_id) == g["span_id"] for s in chunks)
    assert all(s.attributes["user.id"] == "ug" for s in chunks)
    assert "Failed to detach context" not in caplog.text
    assert otel_context.get_current() == {} or trace.get_current_span() is trace.INVALID_SPAN


def test_unsampled_python_parent_is_respected(spans: Any) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("off")
    with tracer.start_as_current_span("dropped"):
        userspan.capture("child-of-unsampled", lambda: None)
    assert spans.all() == []


def test_sync_capture_attaches_nothing_to_otel_until_otel_code_asks(spans: Any) -> None:
    from userspan._otel_runtime import UserspanRuntimeContext

    userspan.capture("first", lambda: None)  # the bridge is on from the first capture
    runtime = otel_context._RUNTIME_CONTEXT
    assert isinstance(runtime, UserspanRuntimeContext)
    before = runtime.inner.get_current()
    seen = {}

    def work() -> None:
        seen["inner"] = runtime.inner.get_current()  # OTel's own store: untouched by capture
        seen["span"] = trace.get_current_span().get_span_context()  # ...yet OTel sees the capture

    userspan.capture("lazy", work)
    assert seen["inner"] is before
    assert format(seen["span"].span_id, "016x") == spans.named("lazy")["span_id"]


def test_contexts_attached_inside_capture_keep_the_capture_span(spans: Any, otel: Any) -> None:
    tracer, exporter = otel

    def work() -> None:
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            assert baggage.get_baggage("tenant") == "acme"
            with tracer.start_as_current_span("after-baggage"):
                assert baggage.get_baggage("tenant") == "acme"
        finally:
            otel_context.detach(token)
        assert baggage.get_baggage("tenant") is None

    userspan.capture("turn", work, {"user_id": "u"})
    [child] = exporter.get_finished_spans()
    assert hex_span(child.parent.span_id) == spans.named("turn")["span_id"]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_python_span_inside_a_generator_step_does_not_leak_into_the_caller(spans: Any, otel: Any) -> None:
    tracer, exporter = otel

    def stream() -> Iterator[int]:
        for i in range(3):
            with tracer.start_as_current_span(f"chunk-{i}"):
                yield i

    seen = []
    for _ in userspan.capture("g", stream, {"user_id": "ug"}):
        seen.append(trace.get_current_span())
    assert seen == [trace.INVALID_SPAN] * 3
    g = spans.named("g")
    assert sorted(hex_span(s.parent.span_id) for s in exporter.get_finished_spans()) == [g["span_id"]] * 3


def _run_child(code: str) -> str:
    out = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)], env=python_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "Failed to detach context" not in out.stderr, out.stderr
    return out.stdout.strip()


CHILD_PRELUDE = """
    from opentelemetry import context, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import userspan
    from userspan import _context

    # otel=False: the app's own provider below, and the bridge made lazily (init(otel=True) makes it).
    userspan.init(exporter="memory", otel=False)
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("app")

    def nest():
        # an OTel span around a capture around an OTel span around a capture
        def inner():
            with tracer.start_as_current_span("py-inner"):
                userspan.capture("us-inner", lambda: None)
        with tracer.start_as_current_span("py-outer"):
            userspan.capture("us-outer", inner)
        py = {s.name: s for s in exporter.get_finished_spans()}
        us = {s["name"]: s for s in userspan.get_finished_spans()}
        hexs = lambda i: format(i, "016x")
        assert us["us-outer"]["parent_span_id"] == hexs(py["py-outer"].context.span_id)
        assert hexs(py["py-inner"].parent.span_id) == us["us-outer"]["span_id"]
        assert us["us-inner"]["parent_span_id"] == hexs(py["py-inner"].context.span_id)
        assert trace.get_current_span() is trace.INVALID_SPAN
"""


def test_otel_context_attached_before_the_bridge_is_detached_cleanly() -> None:
    code = (
        CHILD_PRELUDE
        + """
    with tracer.start_as_current_span("request") as request:  # attached before userspan wraps OTel
        userspan.capture("first", lambda: None)
        assert type(_context._bridge).__name__ == "_LazyBridge"
    [first] = userspan.get_finished_spans()
    assert first["parent_span_id"] == format(request.get_span_context().span_id, "016x")
    assert trace.get_current_span() is trace.INVALID_SPAN
    nest()
    print("ok")
    """
    )
    assert _run_child(code) == "ok"


def test_a_runtime_context_that_cannot_be_wrapped_gets_the_eager_bridge() -> None:
    code = (
        CHILD_PRELUDE
        + """
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    class DuckRuntime:  # not an OTel _RuntimeContext: userspan leaves it alone
        def __init__(self):
            self.inner = ContextVarsRuntimeContext()
        def attach(self, c):
            return self.inner.attach(c)
        def get_current(self):
            return self.inner.get_current()
        def detach(self, t):
            self.inner.detach(t)

    duck = context._RUNTIME_CONTEXT = DuckRuntime()
    nest()
    assert type(_context._bridge).__name__ == "_EagerBridge" and context._RUNTIME_CONTEXT is duck
    print("ok")
    """
    )
    assert _run_child(code) == "ok"
