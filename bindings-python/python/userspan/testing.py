"""Test helpers for apps: a pytest plugin with the fixture ``userspan_receiver`` (loaded
automatically once ``userspan`` is installed: entry point ``pytest11``).

.. code-block:: python

    def test_every_llm_call_is_attributed(userspan_receiver):
        userspan_receiver.init(instrument=True)      # or the app's own userspan.init(...)
        handle_request(user_id="u-42")               # the app's code: capture(...) + LLM calls
        row = userspan_receiver.user("u-42")
        assert row["llm_calls"] == 2

The fixture starts the reference receiver (``userspan serve --db :memory: --listen 127.0.0.1:0
--grpc-listen off``) for one test, points ``userspan.init`` at it (it calls ``init(endpoint=...)``
and sets ``OTEL_EXPORTER_OTLP_ENDPOINT`` for the test, so an ``init()`` made by the app's code
reaches it too), and stops both afterwards (``userspan.shutdown()``, then the process).

The receiver binary: ``USERSPAN_RECEIVER_BIN`` when set, else the ``userspan`` command of the
installed ``userspan-receiver`` package (this interpreter's scripts directory, then ``PATH``).
Without one the fixture fails (never skips) saying how to get one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any, Optional

import pytest

import userspan

__all__ = ["Receiver", "find_receiver", "userspan_receiver"]

#: Environment variable naming the receiver binary (wins over the installed ``userspan`` command).
RECEIVER_BIN_ENV = "USERSPAN_RECEIVER_BIN"
#: How long the receiver may take to print its address, in seconds.
START_TIMEOUT_SECS = 30.0
#: The variables cleared for the test so that nothing but the fixture decides where spans go.
_ENDPOINT_VARS = (
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_TRACES_EXPORTER",
    "USERSPAN_EXPORTER",
    "USERSPAN_API_KEY",
    "OTEL_SDK_DISABLED",
)


def find_receiver() -> str:
    """The receiver binary's path (see the module docstring).

    Raises:
        RuntimeError: no binary found, or ``USERSPAN_RECEIVER_BIN`` names no executable file.
    """
    configured = os.environ.get(RECEIVER_BIN_ENV)
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise RuntimeError(f"{RECEIVER_BIN_ENV}={configured!r} is not an executable file")
        return configured
    scripts = sysconfig.get_path("scripts")
    for candidate in (os.path.join(scripts, "userspan"), shutil.which("userspan")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "userspan_receiver needs the reference receiver: `pip install userspan-receiver` (gives the "
        f"`userspan` command), or set {RECEIVER_BIN_ENV} to a `userspan` binary "
        "(`cargo build -p userspan-receiver --bin userspan`)"
    )


class Receiver:
    """A running ``userspan serve --db :memory:`` on a free loopback port.

    Every reader first flushes userspan's pipeline (and the global OpenTelemetry SDK provider,
    when the app installed one with its own exporter), then returns the API's JSON as parsed.
    """

    def __init__(self, binary: Optional[str] = None) -> None:
        self.binary = binary or find_receiver()
        env = {k: v for k, v in os.environ.items() if not k.startswith("USERSPAN_") or k == RECEIVER_BIN_ENV}
        self._proc = subprocess.Popen(
            [self.binary, "serve", "--db", ":memory:", "--listen", "127.0.0.1:0", "--grpc-listen", "off"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self._banner: list[str] = []
        #: Base URL, e.g. ``http://127.0.0.1:40123`` (OTLP/HTTP at ``/v1/traces``, API at ``/api``).
        self.url = self._wait_for_url()
        # Keep draining the output so the receiver never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for_url(self) -> str:
        prefix = "userspan receiver listening on "
        result: list[str] = []

        def read() -> None:
            assert self._proc.stdout is not None
            for line in self._proc.stdout:
                self._banner.append(line)
                if line.startswith(prefix):
                    result.append(line[len(prefix) :].strip())
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(START_TIMEOUT_SECS)
        if not result:
            self.stop()
            raise RuntimeError(f"{self.binary} serve did not start: {''.join(self._banner)[-2000:]}")
        return result[0]

    def _drain(self) -> None:
        if self._proc.stdout is not None:
            for _ in self._proc.stdout:
                pass

    def init(self, **options: Any) -> list[str]:
        """``userspan.init(endpoint=self.url, **options)`` (a short batch delay unless given);
        returns what ``init`` returns (the instrumentations enabled)."""
        options.setdefault("scheduled_delay_ms", 100)
        return userspan.init(endpoint=self.url, **options)

    def flush(self) -> None:
        """Exports every finished span (userspan's pipeline, then the global OTel SDK provider's
        processors); fails the test when the export did not complete."""
        ok = userspan.flush()
        try:
            from opentelemetry import trace

            provider: Any = trace.get_tracer_provider()
            if hasattr(provider, "force_flush"):
                ok = bool(provider.force_flush()) and ok
        except ImportError:
            pass
        if not ok:
            raise AssertionError(f"spans were not all exported to {self.url}: userspan.stats() = {userspan.stats()}")

    def get(self, path: str, **query: Any) -> Any:
        """``GET {url}{path}?{query}`` after :meth:`flush`: the parsed JSON; ``None`` for 404."""
        self.flush()
        q = {k: v for k, v in query.items() if v is not None}
        url = self.url + path + ("?" + urllib.parse.urlencode(q) if q else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def users(self, **query: Any) -> list[dict[str, Any]]:
        """``GET /api/users`` (``limit`` 1000 unless given): the ``users`` rows."""
        query.setdefault("limit", 1000)
        return list(self.get("/api/users", **query)["users"])

    def user(self, user_id: str, **query: Any) -> Optional[dict[str, Any]]:
        """``GET /api/users/{user_id}``: the user's detail, or ``None`` when the receiver has no
        such user."""
        return self.get("/api/users/" + urllib.parse.quote(user_id, safe=""), **query)  # type: ignore[no-any-return]

    def traces(self, user_id: str, **query: Any) -> list[dict[str, Any]]:
        """``GET /api/users/{user_id}/traces`` (``limit`` 1000 unless given): the ``traces``
        rows (``[]`` for an unknown user)."""
        query.setdefault("limit", 1000)
        page = self.get("/api/users/" + urllib.parse.quote(user_id, safe="") + "/traces", **query)
        return [] if page is None else list(page["traces"])

    def stop(self) -> None:
        """Stops the receiver (SIGTERM, then SIGKILL after 10 s). Idempotent."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __repr__(self) -> str:
        return f"Receiver(url={self.url!r})"


@pytest.fixture
def userspan_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A fresh reference receiver for one test, with ``userspan.init`` pointed at it (see the
    module docstring). Offers ``url``, ``init(**options)``, ``flush()``, ``users()``,
    ``user(id)``, ``traces(user_id)`` and ``get(path, **query)``."""
    receiver = Receiver()
    try:
        for var in _ENDPOINT_VARS:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        receiver.init()
        yield receiver
    finally:
        userspan.shutdown()
        receiver.stop()
