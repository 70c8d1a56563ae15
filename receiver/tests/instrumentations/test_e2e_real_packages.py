"""End to end (issue 17 §2): real Python instrumentations → ``userspan serve`` → per-user numbers.

Run by ``scripts/test-instrumentations``, which starts ``userspan serve --db :memory:`` and the fake
OpenAI server of ``harness.py`` and passes their URLs as ``USERSPAN_URL`` and ``FAKE_OPENAI_URL``.
For each package, ``e2e_app.py`` (one process: instrumentors patch ``openai`` globally) runs the
real ``openai`` client instrumented by it, each turn inside ``userspan.capture`` for that package's
own user; the test then reads ``GET /api/users`` and ``GET /api/users/{id}`` and checks the user's
traces, LLM calls, tokens, list-price cost and model/provider breakdowns.

The expected cost is computed here, independently of the receiver, from the published list price of
the model the fake server answers with (``gpt-4o-mini-2024-07-18``, a dated alias of
``gpt-4o-mini``): USD 0.15 per million input tokens, 0.075 per million cached input tokens, 0.60 per
million output tokens (OpenAI's API pricing page, standard tier; the same figures are in the
``genai-prices`` 0.2.1 data the receiver bundles, ``data/prices.json``, provider ``openai``, model
``gpt-4o-mini``: ``input_mtok 0.15``, ``cache_read_mtok 0.075``, ``output_mtok 0.6``, and the
``service_tier: default`` variant changes nothing). OpenAI's ``prompt_tokens`` include the cached
ones and ``completion_tokens`` the reasoning ones (billed as output). A package that does not report
the cached count (openai-v2 2.4b0, see the fixtures' README) is priced with all input uncached:
the receiver can only price what the span says.

Without ``USERSPAN_URL`` (e.g. collected by another suite) the module is skipped, saying why; with
``USERSPAN_E2E_REQUIRED=1`` (set by the suite script) a missing URL or package fails instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402  (stdlib-only module beside this file)

REQUIRED = os.environ.get("USERSPAN_E2E_REQUIRED") == "1"
USERSPAN_URL = os.environ.get("USERSPAN_URL")
FAKE_OPENAI_URL = os.environ.get("FAKE_OPENAI_URL")
if not (USERSPAN_URL and FAKE_OPENAI_URL):
    if REQUIRED:
        raise RuntimeError("USERSPAN_URL and FAKE_OPENAI_URL must be set (scripts/test-instrumentations sets them)")
    pytest.skip(
        "needs a running userspan serve and fake OpenAI server: run scripts/test-instrumentations",
        allow_module_level=True,
    )

#: USD per million tokens, gpt-4o-mini standard tier (sources in the module docstring).
PRICE_INPUT_MTOK = Decimal("0.15")
PRICE_CACHED_INPUT_MTOK = Decimal("0.075")
PRICE_OUTPUT_MTOK = Decimal("0.60")

#: Chat calls per turn (one capture = one trace each), ``s`` = streaming (include_usage): 3 traces,
#: 4 LLM calls per user.
TURNS = ["1", "2", "s1"]
CALLS = sum(int(t.lstrip("s")) for t in TURNS)

#: package → (user, module to import, does it report the cached input tokens)
PACKAGES = {
    "openinference": ("oi-user", "openinference.instrumentation.openai", True),
    "openai-v2": ("v2-user", "opentelemetry.instrumentation.openai_v2", False),
    "openllmetry": ("ollm-user", "opentelemetry.instrumentation.openai", True),
}


def list_price_micros(input_tokens: int, cached_tokens: int, output_tokens: int) -> int:
    """One call's list price in integer micro-USD, rounded half up (docs/design.md, Cost).

    USD = tokens * price-per-million / 10^6, so micro-USD = tokens * price-per-million.
    """
    micros = (
        (input_tokens - cached_tokens) * PRICE_INPUT_MTOK
        + cached_tokens * PRICE_CACHED_INPUT_MTOK
        + output_tokens * PRICE_OUTPUT_MTOK
    )
    return int(micros.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _get(path: str) -> Any:
    with urllib.request.urlopen(f"{USERSPAN_URL}{path}", timeout=10) as r:
        return json.loads(r.read())


def _user_row(user: str) -> dict[str, Any] | None:
    rows = _get("/api/users?" + urllib.parse.urlencode({"q": user, "limit": 1000}))["users"]
    return next((r for r in rows if r["user_id"] == user), None)


def _wait_for_traces(user: str, traces: int) -> dict[str, Any]:
    """The user's row once all its traces are in (exports answer after commit; polled briefly)."""
    deadline = time.monotonic() + 15
    row = _user_row(user)
    while (row is None or row["traces"] < traces) and time.monotonic() < deadline:
        time.sleep(0.2)
        row = _user_row(user)
    assert row is not None, f"no row for {user}"
    return row


@pytest.mark.parametrize("package", list(PACKAGES))
def test_real_package_per_user_numbers(package: str) -> None:
    user, module, reports_cached = PACKAGES[package]
    try:
        __import__(module)
        import userspan  # noqa: F401
    except ImportError as e:
        if REQUIRED:
            raise
        pytest.skip(f"{module} or userspan not installed: {e}")
    assert _user_row(user) is None, f"{user} already has data: the test needs a fresh server"

    subprocess.run(
        [
            sys.executable,
            str(HERE / "e2e_app.py"),
            package,
            "--openai",
            str(FAKE_OPENAI_URL),
            "--userspan",
            str(USERSPAN_URL),
            "--user",
            user,
            "--turns",
            ",".join(map(str, TURNS)),
        ],
        check=True,
        timeout=120,
    )

    cached = harness.CACHED_TOKENS if reports_cached else 0
    per_call = list_price_micros(harness.PROMPT_TOKENS, cached, harness.COMPLETION_TOKENS)
    cost_usd = CALLS * per_call / 1e6
    input_tokens = CALLS * harness.PROMPT_TOKENS
    output_tokens = CALLS * harness.COMPLETION_TOKENS

    row = _wait_for_traces(user, len(TURNS))
    assert row["traces"] == len(TURNS)
    assert row["llm_calls"] == CALLS
    # The spans (observations): per trace the capture span and one instrumentation span per call.
    assert row["spans"] == len(TURNS) + CALLS
    assert row["input_tokens"] == input_tokens
    assert row["output_tokens"] == output_tokens
    assert row["total_tokens"] == input_tokens + output_tokens
    assert abs(row["cost_usd"] - cost_usd) <= 1e-6, (row["cost_usd"], cost_usd)
    assert abs(row["estimated_cost_usd"] - cost_usd) <= 1e-6, (row["estimated_cost_usd"], cost_usd)
    assert row["unpriced_llm_calls"] == 0

    detail = _get("/api/users/" + urllib.parse.quote(user, safe=""))
    assert detail["llm_calls"] == CALLS
    assert abs(detail["cost_usd"] - cost_usd) <= 1e-6, (detail["cost_usd"], cost_usd)
    models = detail["models"]
    assert [m["model"] for m in models] == [harness.MODEL], models
    (m,) = models
    assert m["traces"] == len(TURNS)
    assert m["input_tokens"] == input_tokens
    assert m["output_tokens"] == output_tokens
    assert m["total_tokens"] == input_tokens + output_tokens
    assert abs(m["cost_usd"] - cost_usd) <= 1e-6, (m["cost_usd"], cost_usd)
    assert abs(m["estimated_cost_usd"] - cost_usd) <= 1e-6, (m["estimated_cost_usd"], cost_usd)
    assert m["unpriced_calls"] == 0
    assert m["unpriced"] is False
    assert detail["providers"] == [{"name": "openai", "traces": len(TURNS)}], detail["providers"]


def test_list_price_arithmetic() -> None:
    """The independent computation itself: 1000 * 0.15 + 200 * 0.075 + 300 * 0.60 = 345 µUSD."""
    assert list_price_micros(1200, 200, 300) == 345
    assert list_price_micros(1200, 0, 300) == 360
    assert list_price_micros(1, 0, 0) == 0  # 0.15 µUSD rounds down
    assert list_price_micros(10, 0, 0) == 2  # 1.5 µUSD rounds half up
