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


def run_steps(steps: list[dict[str, Any]]) -> None:
    for step in steps:
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

    if "values_truncated" in expect:
        assert userspan.stats()["values_truncated"] - truncated_before == expect["values_truncated"]
