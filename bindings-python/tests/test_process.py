"""Process-level behaviour: fork() rebuilds the pipeline, signal handlers are left alone, the GIL is
released while flush waits, the bridge is off without OpenTelemetry."""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

import userspan

from .conftest import PYTHON, python_env


def test_signal_handlers_are_not_touched() -> None:
    code = textwrap.dedent(
        """
        import signal
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        import userspan
        userspan.init(exporter="memory")
        userspan.capture("x", lambda: None)
        userspan.flush(1)
        after = {s: signal.getsignal(s) for s in before}
        assert before == after, (before, after)
        print("ok")
        """
    )
    out = subprocess.run([PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_child_gets_a_working_pipeline(spans: Any) -> None:
    userspan.capture("parent-before", lambda: None)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        status = 1
        try:
            userspan.clear_finished_spans()
            userspan.capture("in-child", lambda: None, {"user_id": "child"})
            names = [s["name"] for s in userspan.get_finished_spans()]
            os.write(write_fd, repr(names).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    data = os.read(read_fd, 4096).decode()
    os.close(read_fd)
    assert os.WEXITSTATUS(status) == 0
    assert data == "['in-child']"
    # The parent's pipeline is unaffected.
    userspan.capture("parent-after", lambda: None)
    assert spans.names() == ["parent-before", "parent-after"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_with_the_batching_exporter_does_not_hang() -> None:
    code = textwrap.dedent(
        """
        import os, time, userspan
        userspan.init(endpoint="http://127.0.0.1:9", scheduled_delay_ms=50, export_timeout_ms=200)
        userspan.capture("parent", lambda: None)
        pid = os.fork()
        if pid == 0:
            userspan.capture("child", lambda: None, {"user_id": "c"})
            t = time.monotonic()
            userspan.flush(1)
            userspan.shutdown(1)
            os._exit(0 if time.monotonic() - t < 5 else 3)
        _, status = os.waitpid(pid, 0)
        userspan.shutdown(1)
        print(os.WEXITSTATUS(status))
        """
    )
    out = subprocess.run([PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_flush_releases_the_gil() -> None:
    """While flush() waits on an export to a server that never answers, other threads run."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    try:
        userspan.init(endpoint=f"http://127.0.0.1:{port}", export_timeout_ms=3000, scheduled_delay_ms=60000)
        userspan.capture("waits", lambda: None)
        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.05)
        start_count = counter[0]
        began = time.monotonic()
        userspan.flush(0.5)
        waited = time.monotonic() - began
        during = counter[0] - start_count
        stop.set()
        t.join()
        assert waited >= 0.4
        assert during > 10_000, f"the spinning thread barely ran during flush ({during} increments)"
        userspan.shutdown(0.2)
        userspan.shutdown(0.2)  # idempotent
    finally:
        stop.set()
        server.close()
        userspan.init(exporter="memory")


def test_shutdown_then_spans_are_not_exported(spans: Any) -> None:
    userspan.shutdown()
    userspan.capture("after-shutdown", lambda: "still runs")
    assert userspan.get_finished_spans() == []
    userspan.init(exporter="memory")


def test_capture_before_init_runs_the_work() -> None:
    code = "import userspan; print(userspan.capture('x', lambda: 41 + 1, {'user_id': 'u'}))"
    out = subprocess.run([PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr


@pytest.mark.skipif(os.environ.get("USERSPAN_TEST_NO_OTEL") != "1", reason="only in the run without OpenTelemetry")
def test_bridge_is_off_without_opentelemetry(spans: Any) -> None:
    from userspan import _context

    assert "opentelemetry.trace" not in sys.modules
    assert _context.bridge() is None
    userspan.capture("outer", lambda: userspan.capture("inner", lambda: None))
    assert spans.named("inner")["parent_span_id"] == spans.named("outer")["span_id"]


def test_console_exporter_prints_json_lines() -> None:
    code = "import userspan; userspan.init(exporter='console'); userspan.capture('c', lambda: None, {'user_id': 'u'})"
    out = subprocess.run([PYTHON, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    [line] = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert line["name"] == "c" and line["attributes"]["user.id"] == "u"


def test_child_process_python_is_this_one() -> None:
    assert sys.executable == PYTHON
    assert signal.SIGINT  # keep the import used on every platform


def test_flush_and_shutdown_wait_the_cores_default_timeout() -> None:
    # One default for every binding: the core's DEFAULT_FLUSH_TIMEOUT (30 s), in seconds here.
    assert userspan.DEFAULT_FLUSH_TIMEOUT_SECS == 30.0
    for fn in (userspan.flush, userspan.shutdown):
        assert inspect.signature(fn).parameters["timeout_secs"].default == userspan.DEFAULT_FLUSH_TIMEOUT_SECS
