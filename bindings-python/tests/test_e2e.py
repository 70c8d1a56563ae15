"""End to end: real OTLP/HTTP export from Python processes to a running `userspan serve`, checked
through its HTTP API (GET /api/users) and its `userspan users` command.

The receiver binary is found at $USERSPAN_BIN, else $CARGO_TARGET_DIR/debug/userspan (built with
`cargo build -p userspan-receiver` when missing). Skipped, loudly, only when the receiver crate
does not exist in this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import PYTHON, REPO, python_env


def _receiver_binary() -> str:
    explicit = os.environ.get("USERSPAN_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    binary = os.path.join(target, "debug", "userspan")
    if os.path.exists(binary):
        return binary
    if not os.path.exists(os.path.join(REPO, "receiver", "Cargo.toml")):
        pytest.skip(
            "END-TO-END TEST SKIPPED: the receiver crate (receiver/, binary `userspan`) does not exist "
            "in this checkout, so there is no `userspan serve` to export to"
        )
    cargo = shutil.which("cargo")
    assert cargo, "cargo is needed to build the receiver for the end-to-end test"
    subprocess.run([cargo, "build", "-p", "userspan-receiver"], cwd=REPO, check=True, timeout=1800)
    assert os.path.exists(binary), f"`cargo build -p userspan-receiver` did not produce {binary}"
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, binary: str, db: str) -> None:
        self.binary = binary
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--db", db],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/healthz")
                return
            except OSError as e:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.proc.stdout.read() if self.proc.stdout else ""
                    raise RuntimeError(f"userspan serve did not come up: {out}") from e
                time.sleep(0.05)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def users(self) -> dict[str, dict[str, Any]]:
        return {u["user_id"]: u for u in self.get("/api/users?limit=1000")["users"]}

    def wait_for_users(self, ids: list[str], timeout: float = 15) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            users = self.users()
            if all(i in users for i in ids) or time.monotonic() > deadline:
                return users
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def binary() -> str:
    return _receiver_binary()


@pytest.fixture(scope="module")
def receiver(binary: str) -> Iterator[Receiver]:
    r = Receiver(binary, ":memory:")
    yield r
    r.stop()


def run_python(code: str, endpoint: str, extra_env: dict[str, str] | None = None) -> str:
    env = python_env()
    env.update(extra_env or {})
    out = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code), endpoint], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_captured_turns_reach_the_users_api(receiver: Receiver) -> None:
    run_python(
        """
        import sys, asyncio, userspan
        userspan.init(sys.argv[1], service_name="e2e-python")

        def turn(fail=False):
            userspan.capture("chat gpt-x", lambda: None, {"attributes": {
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-x",
                "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}})
            if fail:
                raise RuntimeError("tool failed")

        for i in range(3):
            userspan.capture("support-agent-turn", turn,
                             {"user_id": "py-ada", "user_email": "ada@example.com", "session_id": "py-s1"})
        try:
            userspan.capture("support-agent-turn", lambda: turn(fail=True),
                             {"user_id": "py-bob", "user_id_type": "custom", "session_id": "py-s2"})
        except RuntimeError:
            pass

        async def main():
            async def work():
                await asyncio.sleep(0)
                turn()
            await asyncio.gather(*(userspan.capture("async-turn", work, {"user_id": f"py-async-{i}"})
                                   for i in range(5)))
        asyncio.run(main())
        assert userspan.flush(10), userspan.stats()
        s = userspan.stats()
        assert s["spans_exported"] == s["spans_started"] == 18 and s["export_errors"] == 0, s
        """,
        receiver.url,
    )
    users = receiver.wait_for_users(["py-ada", "py-bob"] + [f"py-async-{i}" for i in range(5)])
    ada, bob = users["py-ada"], users["py-bob"]
    assert ada["traces"] == 3 and ada["sessions"] == 1 and ada["errored_traces"] == 0
    assert ada["user_email"] == "ada@example.com"
    assert ada["llm_calls"] == 3 and ada["input_tokens"] == 30 and ada["output_tokens"] == 15
    assert bob["traces"] == 1 and bob["errored_traces"] == 1 and bob["user_id_type"] == "custom"
    for i in range(5):
        assert users[f"py-async-{i}"]["traces"] == 1


def test_atexit_flush_delivers_without_an_explicit_flush(receiver: Receiver) -> None:
    run_python(
        """
        import sys, userspan
        # A long batch delay: only the exit-time flush can send this span.
        userspan.init(sys.argv[1], scheduled_delay_ms=600000)
        userspan.capture("last-turn", lambda: None, {"user_id": "py-atexit"})
        """,
        receiver.url,
    )
    assert "py-atexit" in receiver.wait_for_users(["py-atexit"])


def test_environment_configuration(receiver: Receiver) -> None:
    run_python(
        """
        import userspan
        userspan.init()  # endpoint and service name from the standard OTel variables
        userspan.capture("env-turn", lambda: None, {"user_id": "py-env"})
        assert userspan.flush(10)
        """,
        "",
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "from-env"},
    )
    assert "py-env" in receiver.wait_for_users(["py-env"])


def test_receiver_down_never_breaks_the_app(binary: str) -> None:
    out = run_python(
        """
        import sys, time, userspan
        userspan.init(sys.argv[1], export_timeout_ms=500, scheduled_delay_ms=50)
        t = time.monotonic()
        for i in range(200):
            assert userspan.capture("turn", lambda: i, {"user_id": "nobody"}) == i
        took = time.monotonic() - t
        userspan.flush(2)
        print(took < 2, userspan.stats()["spans_exported"] == 0)
        """,
        f"http://127.0.0.1:{_free_port()}",
    )
    assert out.split() == ["True", "True"]


def test_example_support_agent_shows_up_in_userspan_users(binary: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "userspan.db")
        r = Receiver(binary, db)
        try:
            example = os.path.join(REPO, "examples", "python", "support_agent.py")
            out = subprocess.run(
                [PYTHON, example, "--endpoint", r.url],
                env=python_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 0, out.stdout + out.stderr
            assert "exported: True" in out.stdout
            users = r.wait_for_users(["user-ada", "user-grace", "user-linus"])
            assert users["user-ada"]["user_email"] == "ada@example.com"
            assert users["user-ada"]["llm_calls"] > 0 and users["user-ada"]["cost_usd"] > 0
            assert any(u["errored_traces"] > 0 for u in users.values())
        finally:
            r.stop()
        table = subprocess.run([binary, "users", "--db", db], capture_output=True, text=True, timeout=60)
        assert table.returncode == 0, table.stderr
        for user in ("user-ada", "user-grace", "user-linus"):
            assert user in table.stdout
