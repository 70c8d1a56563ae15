"""``userspan.init(otel=..., instrument=...)``: the app's Python OpenTelemetry spans (real
``openai`` client, real OpenInference instrumentation, against a local fake OpenAI server) are
stamped with the current scope and exported through the core's pipeline to the real reference
receiver, read back through its JSON API with the ``userspan_receiver`` fixture (the pytest plugin
``userspan.testing``).

Tests that change the global OpenTelemetry tracer provider in ways a process allows only once run
in a child interpreter; the parent's ``userspan_receiver`` is where the child sends its spans.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import textwrap
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import userspan
from userspan.testing import Receiver

from .conftest import PYTHON, REPO, python_env

NO_OTEL = os.environ.get("USERSPAN_TEST_NO_OTEL") == "1"
needs_otel = pytest.mark.skipif(NO_OTEL, reason="needs OpenTelemetry (this run blocks it)")


def _load_harness() -> ModuleType:
    """The fake OpenAI server of the instrumentation fixtures (stdlib only): the real Chat
    Completions response shape, with usage ``harness.USAGE``."""
    path = os.path.join(REPO, "receiver", "tests", "instrumentations", "harness.py")
    spec = importlib.util.spec_from_file_location("userspan_fake_openai_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


@pytest.fixture
def fake_openai(tmp_path: Path) -> Iterator[str]:
    """A fake OpenAI API on 127.0.0.1: its base URL (``.../v1``)."""
    server = harness.serve(tmp_path / "fake-openai")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _api(receiver: Receiver, path: str) -> Any:
    """``GET`` without the fixture's flush: what the receiver holds right now."""
    with urllib.request.urlopen(receiver.url + path, timeout=30) as r:
        return json.loads(r.read())


def _users(receiver: Receiver) -> dict[str, dict[str, Any]]:
    return {u["user_id"]: u for u in _api(receiver, "/api/users?limit=1000")["users"]}


def _run_child(code: str, **env: str) -> str:
    out = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)],
        env={**python_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _chat(client: Any, question: str) -> Any:
    return client.chat.completions.create(
        model=harness.MODEL, messages=[{"role": "user", "content": question}], user="ignored-by-userspan"
    )


# --- the example test: one line of set-up, every LLM call attributed -------------------------


@needs_otel
def test_every_llm_call_of_a_request_is_attributed_to_its_user(userspan_receiver: Receiver, fake_openai: str) -> None:
    import openai

    assert userspan_receiver.init(instrument=True) == ["openai"]
    client = openai.OpenAI(base_url=fake_openai, api_key="sk-test", max_retries=0)

    def handle_request(user_id: str, questions: list[str]) -> list[str]:
        return userspan.capture(
            "support-turn",
            lambda: [_chat(client, q).choices[0].message.content for q in questions],
            {"user_id": user_id, "session_id": f"conv-{user_id}"},
        )

    assert handle_request("u-42", ["where is my order?", "and the invoice?"]) == [harness.REPLY] * 2
    handle_request("u-7", ["hello"])

    row = userspan_receiver.user("u-42")
    assert row is not None
    assert row["llm_calls"] == 2
    assert row["input_tokens"] == 2 * harness.PROMPT_TOKENS
    assert row["output_tokens"] == 2 * harness.COMPLETION_TOKENS
    assert row["total_tokens"] == 2 * harness.TOTAL_TOKENS
    other = userspan_receiver.user("u-7")
    assert other is not None and other["llm_calls"] == 1 and other["input_tokens"] == harness.PROMPT_TOKENS
    # One trace per request: the capture span and its two LLM spans, all the user's.
    [trace] = userspan_receiver.traces("u-42")
    assert trace["llm_calls"] == 2 and trace["spans"] == 3
    stats = userspan.stats()
    assert stats["spans_exported"] >= 5 and stats["spans_dropped"] == 0


@needs_otel
def test_init_returns_the_enabled_instrumentations_again(userspan_receiver: Receiver) -> None:
    # Already instrumented by an earlier init: reported, not instrumented twice.
    assert userspan_receiver.init(instrument=True) == ["openai"]
    assert userspan_receiver.init(instrument=["openai"]) == ["openai"]
    assert userspan_receiver.init() == []


def test_the_fixture_reads_capture_spans(userspan_receiver: Receiver) -> None:
    """Also without OpenTelemetry: the fixture's readers after a flush."""
    userspan.capture("turn", lambda: None, {"user_id": "fixture-user", "session_id": "s"})
    assert [u["user_id"] for u in userspan_receiver.users()] == ["fixture-user"]
    assert userspan_receiver.user("nobody") is None
    assert userspan_receiver.traces("nobody") == []
    [trace] = userspan_receiver.traces("fixture-user")
    assert trace["spans"] == 1


# --- bad input and missing packages ------------------------------------------------------------


def test_unknown_instrumentation_raises_before_anything_changes() -> None:
    userspan.init(exporter="memory")
    userspan.clear_finished_spans()
    with pytest.raises(userspan.UserspanValueError) as e:
        userspan.init(exporter="none", instrument=["openai", "nope"])
    assert e.value.code == "USERSPAN_INVALID_VALUE"
    assert e.value.field == "instrument[1]"
    message = str(e.value)
    for allowed in ('"openai"', '"anthropic"', '"langchain"', '"openai-v2"'):
        assert allowed in message
    assert "'nope'" in message
    # The memory pipeline is still the one in place.
    userspan.capture("still-memory", lambda: None)
    assert [s["name"] for s in userspan.get_finished_spans()] == ["still-memory"]


@pytest.mark.parametrize("bad", ["openai", 3, [1]])
def test_instrument_of_the_wrong_type(bad: Any) -> None:
    with pytest.raises((userspan.UserspanTypeError, userspan.UserspanValueError)) as e:
        userspan.init(exporter="memory", instrument=bad)
    assert e.value.field in ("instrument", "instrument[0]")


def test_otel_of_the_wrong_type() -> None:
    with pytest.raises(userspan.UserspanTypeError) as e:
        userspan.init(exporter="memory", otel="yes")  # type: ignore[arg-type]
    assert e.value.field == "otel"


def test_an_instrumentation_not_installed_is_skipped_with_a_warning() -> None:
    assert importlib.util.find_spec("anthropic") is None  # the test venv has no anthropic
    with pytest.warns(RuntimeWarning, match=r"instrumentation 'anthropic' is not installed"):
        assert userspan.init(exporter="memory", instrument=["anthropic"]) == []


@pytest.mark.skipif(not NO_OTEL, reason="only in the run without OpenTelemetry")
def test_without_opentelemetry_init_says_nothing_and_capture_exports() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert userspan.init(exporter="memory") == []
    userspan.clear_finished_spans()
    userspan.capture("plain", lambda: None, {"user_id": "u"})
    assert [s["name"] for s in userspan.get_finished_spans()] == ["plain"]


# --- the global provider: the app's own, none, or one userspan cannot use ---------------------


@needs_otel
def test_the_apps_own_provider_keeps_its_exporter_and_gains_the_stamps(userspan_receiver: Receiver) -> None:
    out = _run_child(
        f"""
        import json, warnings
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import userspan

        provider = TracerProvider()
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            userspan.init(endpoint={userspan_receiver.url!r}, service_name="own-provider-app")
            userspan.init(endpoint={userspan_receiver.url!r}, service_name="own-provider-app")
        said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert trace.get_tracer_provider() is provider
        tracer = trace.get_tracer("app.llm")
        with userspan.using_attributes(user_id="own-provider-user", session_id="s-own"):
            with tracer.start_as_current_span("chat gpt-x") as span:
                span.set_attributes({{
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-x",
                    "gen_ai.usage.input_tokens": 11,
                    "gen_ai.usage.output_tokens": 4,
                }})
        [mine] = exporter.get_finished_spans()
        ok = userspan.flush()
        print(json.dumps({{"said": said, "ok": ok, "attrs": dict(mine.attributes), "stats": userspan.stats()}}))
        """
    )
    got = json.loads(out)
    assert len(got["said"]) == 1 and "already set an OpenTelemetry SDK TracerProvider" in got["said"][0]
    # The app's exporter got the span, stamped.
    assert got["attrs"]["user.id"] == "own-provider-user" and got["attrs"]["session.id"] == "s-own"
    assert got["attrs"]["gen_ai.usage.input_tokens"] == 11
    # ... and it reached the receiver through userspan's pipeline.
    assert got["ok"] and got["stats"]["spans_exported"] == 1
    row = _users(userspan_receiver)["own-provider-user"]
    assert row["llm_calls"] == 1 and row["input_tokens"] == 11 and row["output_tokens"] == 4


@needs_otel
def test_otel_false_leaves_opentelemetry_alone() -> None:
    out = _run_child(
        """
        import warnings
        from opentelemetry import trace
        import userspan

        before = trace.get_tracer_provider()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert userspan.init(exporter="memory", otel=False) == []
        assert trace.get_tracer_provider() is before
        assert type(before).__name__ == "ProxyTracerProvider"
        with userspan.using_attributes(user_id="u"):
            with trace.get_tracer("t").start_as_current_span("nowhere") as s:
                assert not s.is_recording()
        print(userspan.get_finished_spans(), userspan.stats()["spans_started"])
        """
    )
    assert out == "[] 0"


@needs_otel
def test_otel_false_after_init_switches_the_processor_off() -> None:
    out = _run_child(
        """
        from opentelemetry import trace
        import userspan

        userspan.init(exporter="memory")
        tracer = trace.get_tracer("t")
        with tracer.start_as_current_span("exported"):
            pass
        userspan.init(exporter="memory", otel=False)
        with userspan.using_attributes(user_id="u"):
            with tracer.start_as_current_span("not-exported") as s:
                pass
        userspan.init(exporter="memory")  # on again
        with tracer.start_as_current_span("exported-again"):
            pass
        print([x["name"] for x in userspan.get_finished_spans()], "user.id" in s.attributes)
        """
    )
    # A new memory pipeline forgets earlier spans: only the one after the last init is there.
    assert out == "['exported-again'] False"


@needs_otel
@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            # opentelemetry-api without opentelemetry-sdk
            """
            import importlib.abc, sys
            class NoSdk(importlib.abc.MetaPathFinder):
                def find_spec(self, name, path=None, target=None):
                    if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
                        raise ModuleNotFoundError(name)
            sys.meta_path.insert(0, NoSdk())
            import opentelemetry.trace
            """,
            "opentelemetry-api is installed but opentelemetry-sdk is not",
        ),
        (
            # a provider that is not the SDK's
            """
            from opentelemetry import trace
            trace.set_tracer_provider(trace.NoOpTracerProvider())
            """,
            "is a NoOpTracerProvider, not an SDK TracerProvider",
        ),
    ],
    ids=["api-without-sdk", "foreign-provider"],
)
def test_spans_that_cannot_reach_an_exporter_are_warned_about_once(setup: str, expected: str) -> None:
    out = _run_child(
        textwrap.dedent(setup)
        + textwrap.dedent(
            """
            import json, warnings
            import userspan
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                userspan.init(exporter="memory")
                userspan.init(exporter="memory")
                userspan.capture("still-works", lambda: None, {"user_id": "u"})
            print(json.dumps({
                "said": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
                "where": [w.filename for w in caught],
                "names": [s["name"] for s in userspan.get_finished_spans()],
            }))
            """
        )
    )
    got = json.loads(out)
    assert len(got["said"]) == 1, got["said"]
    assert expected in got["said"][0]
    assert got["where"] == ["<string>"]  # points at the app's init call
    assert got["names"] == ["still-works"]


# --- the Quick start's second example, flush, shutdown, fork -------------------------------------


@needs_otel
def test_quick_start_init_then_instrumentation_then_using_attributes_exports(
    userspan_receiver: Receiver, fake_openai: str
) -> None:
    out = _run_child(
        f"""
        import json
        import openai
        import userspan
        from userspan import using_attributes
        from openinference.instrumentation.openai import OpenAIInstrumentor

        userspan.init(service_name="support-bot")    # endpoint: OTEL_EXPORTER_OTLP_ENDPOINT
        OpenAIInstrumentor().instrument()
        client = openai.OpenAI(base_url={fake_openai!r}, api_key="sk-test", max_retries=0)
        with using_attributes(user_id="newuser@example.com", session_id="new-session"):
            client.chat.completions.create(model={harness.MODEL!r}, messages=[{{"role": "user", "content": "hi"}}])
        print(json.dumps({{"ok": userspan.flush(), "stats": userspan.stats()}}))
        """,
        OTEL_EXPORTER_OTLP_ENDPOINT=userspan_receiver.url,
    )
    got = json.loads(out)
    assert got["ok"]
    assert got["stats"]["spans_started"] == 1 and got["stats"]["spans_exported"] == 1
    row = _users(userspan_receiver)["newuser@example.com"]
    assert row["llm_calls"] == 1 and row["input_tokens"] == harness.PROMPT_TOKENS
    assert row["sessions"] == 1


@needs_otel
def test_flush_and_shutdown_cover_host_spans(userspan_receiver: Receiver) -> None:
    from opentelemetry import trace

    userspan_receiver.init(scheduled_delay_ms=60_000)  # nothing leaves unless flushed
    tracer = trace.get_tracer("app")
    with userspan.using_attributes(user_id="flushed"), tracer.start_as_current_span("llm") as s:
        s.set_attribute("gen_ai.usage.input_tokens", 3)
    assert userspan.flush()
    assert _users(userspan_receiver)["flushed"]["input_tokens"] == 3

    with userspan.using_attributes(user_id="at-shutdown"), tracer.start_as_current_span("llm") as s:
        s.set_attribute("gen_ai.usage.input_tokens", 5)
    userspan.shutdown()
    assert _users(userspan_receiver)["at-shutdown"]["input_tokens"] == 5

    before = userspan.stats()
    with userspan.using_attributes(user_id="after-shutdown"), tracer.start_as_current_span("late"):
        pass
    after = userspan.stats()
    assert after["spans_started"] == before["spans_started"] + 1
    assert after["spans_exported"] == before["spans_exported"]
    assert "after-shutdown" not in _users(userspan_receiver)


@needs_otel
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_exports_its_own_host_spans(userspan_receiver: Receiver) -> None:
    out = _run_child(
        f"""
        import os
        from opentelemetry import trace
        import userspan

        userspan.init(endpoint={userspan_receiver.url!r}, scheduled_delay_ms=60_000)
        tracer = trace.get_tracer("app")
        with userspan.using_attributes(user_id="parent-user"), tracer.start_as_current_span("p"):
            pass
        pid = os.fork()
        if pid == 0:
            with userspan.using_attributes(user_id="child-user"), tracer.start_as_current_span("c") as s:
                s.set_attribute("gen_ai.usage.input_tokens", 9)
            os._exit(0 if userspan.flush(10) else 3)
        _, status = os.waitpid(pid, 0)
        print(os.WEXITSTATUS(status), userspan.flush(10))
        """
    )
    assert out == "0 True"
    users = _users(userspan_receiver)
    assert users["child-user"]["input_tokens"] == 9
    assert "parent-user" in users


# --- what the core receives of a Python SDK span -----------------------------------------------


@needs_otel
def test_a_python_span_reaches_the_core_field_by_field() -> None:
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    userspan.init(exporter="memory", service_name="field-by-field")
    userspan.clear_finished_spans()
    tracer = trace.get_tracer("my.instrumentation", "1.2.3")
    with tracer.start_as_current_span("linked") as linked:
        pass
    with userspan.using_attributes(user_id="fields", tags=["a"]):
        with tracer.start_as_current_span(
            "chat", kind=SpanKind.CLIENT, links=[Link(linked.get_span_context(), {"why": "retry-of"})]
        ) as parent:
            with tracer.start_as_current_span("child") as child:
                child.set_attributes(
                    {
                        "s": "text",
                        "b": True,
                        "i": 42,
                        "f": 0.5,
                        "ls": ["x", "y"],
                        "li": [1, 2],
                        "lf": [1.5],
                        "lb": [True, False],
                    }
                )
                child.add_event("gen_ai.choice", {"index": 0})
                child.set_status(Status(StatusCode.ERROR, "upstream 500"))
    by_name = {s["name"]: s for s in userspan.get_finished_spans()}
    assert set(by_name) == {"linked", "chat", "child"}
    chat, kid = by_name["chat"], by_name["child"]
    assert chat["kind"] == "client" and kid["kind"] == "internal"
    assert chat["trace_id"] == format(parent.get_span_context().trace_id, "032x") == kid["trace_id"]
    assert chat["span_id"] == format(parent.get_span_context().span_id, "016x")
    assert kid["parent_span_id"] == chat["span_id"] and chat["parent_span_id"] is None
    assert kid["start_time_unix_nano"] == child.start_time and kid["end_time_unix_nano"] == child.end_time
    assert kid["attributes"] == {
        "user.id": "fields",
        "tag.tags": ["a"],
        "s": "text",
        "b": True,
        "i": 42,
        "f": 0.5,
        "ls": ["x", "y"],
        "li": [1, 2],
        "lf": [1.5],
        "lb": [True, False],
    }
    assert kid["status"] == {"code": "ERROR", "message": "upstream 500"}
    [event] = kid["events"]
    assert event["name"] == "gen_ai.choice" and event["attributes"] == {"index": 0}
    # The core's resource, not the Python SDK's: one service.name for capture and OTel spans.
    assert kid["resource"]["service.name"] == "field-by-field"


@needs_otel
def test_the_processor_never_raises_into_the_app() -> None:
    from userspan.otel import UserspanSpanProcessor

    userspan.init(exporter="memory")
    UserspanSpanProcessor().on_end(object())  # not a ReadableSpan: not exported, not raised
