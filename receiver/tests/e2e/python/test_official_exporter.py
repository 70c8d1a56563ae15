"""The official OpenTelemetry Python exporter (opentelemetry-exporter-otlp-proto-http) sends spans
carrying user.id / session.id to a running `userspan serve`; the API's numbers must equal the ones
computed here, independently, from the workload the test generated.

Needs USERSPAN_URL (e.g. http://127.0.0.1:4318). Each run uses its own project so runs and the
Node client do not mix.
"""

import json
import os
import time
import urllib.parse
import urllib.request
import uuid

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode, set_span_in_context

URL = os.environ.get("USERSPAN_URL", "http://127.0.0.1:4318")
PROJECT = "e2e-python-" + uuid.uuid4().hex[:8]
HOUR_NS = 3600 * 10**9


def get(path, **params):
    params["project"] = PROJECT
    with urllib.request.urlopen(f"{URL}{path}?{urllib.parse.urlencode(params)}", timeout=30) as r:
        assert r.status == 200
        return json.load(r)


def run_workload():
    """Sends the workload; returns the expected per-user numbers and overview."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": "py-e2e", "userspan.project": PROJECT})
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{URL}/v1/traces"), max_export_batch_size=64)
    )
    tracer = provider.get_tracer("e2e")
    now = time.time_ns() - HOUR_NS
    expected = {}
    n = 0
    for u in range(5):
        uid = f"py-user-{u}@example.com"
        e = expected[uid] = dict(traces=0, sessions=0, errored_sessions=0, errored_traces=0,
                                 input_tokens=0, output_tokens=0, cost=0.0, llm_calls=0)
        for s in range(u + 1):
            session = f"py-s-{u}-{s}"
            e["sessions"] += 1
            session_errored = False
            for t in range(2):
                n += 1
                start = now + n * 10**9
                attrs = {"user.id": uid, "user.id.type": "email", "session.id": session}
                root = tracer.start_span("turn", attributes=attrs, start_time=start)
                ctx = set_span_in_context(root)
                inp, out, cost = 10 * u + t, 5, 0.001 * (u + 1)
                chat = tracer.start_span("chat", context=ctx, start_time=start + 1000, attributes={
                    **attrs,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": inp,
                    "gen_ai.usage.output_tokens": out,
                    "gen_ai.usage.total_cost": cost,
                })
                errored = n % 3 == 0
                if errored:
                    chat.set_status(Status(StatusCode.ERROR, "boom"))
                chat.end(end_time=start + 5000)
                root.end(end_time=start + 10000)
                e["traces"] += 1
                e["llm_calls"] += 1
                e["input_tokens"] += inp
                e["output_tokens"] += out
                e["cost"] += cost
                e["errored_traces"] += int(errored)
                session_errored |= errored
            e["errored_sessions"] += int(session_errored)
    # One trace without a user.
    tracer.start_span("anonymous", start_time=now).end(end_time=now + 1000)
    assert provider.force_flush(30_000)
    provider.shutdown()
    return expected


def test_api_numbers_match_the_workload():
    expected = run_workload()
    ov = get("/api/overview")
    total_traces = sum(e["traces"] for e in expected.values())
    assert ov["unique_users"] == len(expected)
    assert ov["traces"] == total_traces + 1
    assert ov["traces_with_user"] == total_traces
    assert abs(ov["traces_with_user_share"] - total_traces / (total_traces + 1)) < 1e-9
    listing = get("/api/users", limit=100)
    assert listing["total"] == len(expected)
    rows = {r["user_id"]: r for r in listing["users"]}
    for uid, e in expected.items():
        r = rows[uid]
        assert r["user_id_type"] == "email"
        for k in ("traces", "sessions", "errored_sessions", "errored_traces", "input_tokens",
                  "output_tokens", "llm_calls"):
            assert r[k] == e[k], (uid, k, r[k], e[k])
        assert abs(r["cost_usd"] - e["cost"]) < 1e-6
        assert abs(r["error_rate"] - e["errored_sessions"] / e["sessions"]) < 1e-9
        assert r["total_tokens"] == e["input_tokens"] + e["output_tokens"]
        assert abs(r["avg_latency_ms"] - 0.01) < 1e-9  # every trace lasts 10 µs
    assert abs(listing["rollups"]["traces"]["sum"] - total_traces) < 1e-9
    detail = get("/api/users/" + urllib.parse.quote("py-user-4@example.com", safe=""))
    assert detail["sessions"] == 5
    assert detail["models"][0]["model"] == "gpt-4o-mini"
    assert detail["models"][0]["traces"] == 10
