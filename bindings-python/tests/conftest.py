"""Shared fixtures: every test runs against a fresh in-memory pipeline and reads real spans."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List

import pytest

if os.environ.get("USERSPAN_TEST_NO_OTEL") == "1":
    # Second pass of the suite (scripts/test-python): as if OpenTelemetry were not installed, so
    # capture runs without the Python OTel bridge.
    import importlib.abc

    class _BlockOpenTelemetry(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"{name} is blocked for this test run (USERSPAN_TEST_NO_OTEL=1)")
            return None

    sys.meta_path.insert(0, _BlockOpenTelemetry())

import userspan  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Spans:
    """The memory exporter's finished spans, looked up by name."""

    def all(self) -> List[Dict[str, Any]]:
        return userspan.get_finished_spans()

    def named(self, name: str) -> Dict[str, Any]:
        found = [s for s in self.all() if s["name"] == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s['name'] for s in self.all()]}"
        return found[0]

    def names(self) -> List[str]:
        return [s["name"] for s in self.all()]


@pytest.fixture
def spans() -> Spans:
    userspan.init(exporter="memory")
    userspan.clear_finished_spans()
    return Spans()


def python_env() -> Dict[str, str]:
    """Environment for child Python processes: this interpreter, this package."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


PYTHON = sys.executable
