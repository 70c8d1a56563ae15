"""Shared fixtures: every test runs against a fresh in-memory pipeline and reads real spans."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .otlp_sink import Pki, Sink

if os.environ.get("USERSPAN_TEST_NO_OTEL") == "1":
    # Second pass of the suite (scripts/test-python): as if OpenTelemetry were not installed, so
    # capture runs without the Python OTel bridge.
    import importlib.abc

    class _BlockOpenTelemetry(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"{name} is blocked for this test run (USERSPAN_TEST_NO_OTEL=1)")

    sys.meta_path.insert(0, _BlockOpenTelemetry())

import userspan

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

#: The core's stable code (``Error::code()``) for each short kind name (``Error::kind()``).
CODES = {
    "type": "USERSPAN_INVALID_TYPE",
    "unknown_option": "USERSPAN_UNKNOWN_OPTION",
    "value": "USERSPAN_INVALID_VALUE",
    "config": "USERSPAN_CONFIG",
}


class Spans:
    """The memory exporter's finished spans, looked up by name."""

    def all(self) -> list[dict[str, Any]]:
        return userspan.get_finished_spans()

    def named(self, name: str) -> dict[str, Any]:
        found = [s for s in self.all() if s["name"] == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s['name'] for s in self.all()]}"
        return found[0]

    def names(self) -> list[str]:
        return [s["name"] for s in self.all()]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA with server and client certificates (trustme), one per test module."""
    from .otlp_sink import Pki

    return Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def sink(pki: Pki) -> Iterator[Sink]:
    """An HTTPS OTLP sink on 127.0.0.1 serving the ``pki`` server certificate."""
    from .otlp_sink import Sink

    s = Sink(pki)
    yield s
    s.stop()


@pytest.fixture
def spans() -> Spans:
    userspan.init(exporter="memory")
    userspan.clear_finished_spans()
    return Spans()


def python_env() -> dict[str, str]:
    """Environment for child Python processes: this interpreter, this package."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


PYTHON = sys.executable
