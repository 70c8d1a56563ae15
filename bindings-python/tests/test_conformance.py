"""The shared conformance vectors (tests/conformance/*.json), run through the public Python API."""

from __future__ import annotations

import glob
import json
import os
from typing import Any

import pytest

import userspan

from .conftest import CODES, REPO

FILES = sorted(glob.glob(os.path.join(REPO, "tests", "conformance", "*.json")))


def load_cases(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        cases: list[dict[str, Any]] = json.load(f)["cases"]
    return cases


CASES = [(os.path.basename(f), c) for f in FILES for c in load_cases(f)]


def test_vectors_exist() -> None:
    assert FILES, "no conformance vectors found in tests/conformance/"
    assert len(CASES) >= 10


class CaseFailedError(Exception):
    """The `fail` step's exception."""


class OtelHost:
    """A plain opentelemetry-sdk provider the runner owns (not the pipeline's) with the host's
    `UserAttributesSpanProcessor()` (no options) and an in-memory exporter: the `otel_span` steps.
    One for the whole module, so each case also checks that the processor follows the new `init`."""

    instance: OtelHost | None = None

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from userspan.otel import UserAttributesSpanProcessor

        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(UserAttributesSpanProcessor())
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("plain-otel-library")

    @classmethod
    def get(cls) -> OtelHost:
        if cls.instance is None:
            cls.instance = OtelHost()
        return cls.instance


def uses_otel(steps: list[dict[str, Any]]) -> bool:
    return any("otel_span" in s or uses_otel(s.get("do", [])) for s in steps)


def run_steps(steps: list[dict[str, Any]]) -> None:
    for step in steps:
        if "otel_span" in step:
            with OtelHost.get().tracer.start_as_current_span(step["otel_span"]):
                pass
            continue
        if "capture" in step:
            nested = step.get("do", [])
            userspan.capture(step["capture"], lambda nested=nested: run_steps(nested), step.get("options"))
        elif "scope" in step:
            with userspan.using_attributes(**step["scope"]):
                run_steps(step.get("do", []))
        elif "span" in step:
            userspan.capture(step["span"], lambda: None)
        elif "fail" in step:
            raise CaseFailedError(step["fail"])
        else:  # pragma: no cover - a vector this runner does not understand
            raise AssertionError(f"unknown step {step}")


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[f"{f}:{c['name']}" for f, c in CASES])
def test_conformance(case: dict[str, Any]) -> None:
    if uses_otel(case["steps"]):
        pytest.importorskip("opentelemetry.sdk.trace")
        OtelHost.get().exporter.clear()
    userspan.init(exporter="memory", **case.get("init", {}))
    userspan.clear_finished_spans()
    expect = case["expect"]
    truncated_before = userspan.stats()["values_truncated"]

    raised: BaseException | None = None
    try:
        run_steps(case["steps"])
    except (CaseFailedError, userspan.UserspanError) as e:
        raised = e

    if "error" in expect:
        assert isinstance(raised, userspan.UserspanError), f"expected an error, got {raised!r}"
        kind = expect["error"]["kind"]
        assert raised.kind == kind
        assert raised.code == CODES[kind]
        assert raised.field == expect["error"]["field"]
        assert isinstance(raised, TypeError if kind in ("type", "unknown_option") else ValueError)
    else:
        assert not isinstance(raised, userspan.UserspanError), raised

    spans = userspan.get_finished_spans()
    by_id = {s["span_id"]: s for s in spans}
    assert sorted(s["name"] for s in spans) == sorted(e["name"] for e in expect["spans"])
    for want in expect["spans"]:
        [got] = [s for s in spans if s["name"] == want["name"]]
        parent = by_id.get(got["parent_span_id"]) if got["parent_span_id"] else None
        assert (parent["name"] if parent else None) == want["parent"], want["name"]
        if parent is not None:
            assert parent["trace_id"] == got["trace_id"]
        attrs = dict(got["attributes"])
        error_type = attrs.pop("error.type", None)
        assert attrs == want["attributes"], want["name"]
        assert got["status"]["code"] == want["status"], want["name"]
        if want["status"] == "ERROR":
            assert error_type, "error.type must be set on an ERROR span"
            assert got["status"]["message"] == want["status_message"]
            events = [e for e in got["events"] if e["name"] == "exception"]
            assert events and events[0]["attributes"]["exception.message"] == want["status_message"]
        else:
            assert error_type is None

    if "otel_spans" in expect:
        otel = OtelHost.get().exporter.get_finished_spans()
        assert sorted(s.name for s in otel) == sorted(e["name"] for e in expect["otel_spans"])
        for want in expect["otel_spans"]:
            [got] = [s for s in otel if s.name == want["name"]]
            attrs = {k: list(v) if isinstance(v, tuple) else v for k, v in (got.attributes or {}).items()}
            assert attrs == want["attributes"], want["name"]

    if "values_truncated" in expect:
        assert userspan.stats()["values_truncated"] - truncated_before == expect["values_truncated"]
