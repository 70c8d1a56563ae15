"""The workload both official-exporter tests send (OTLP/HTTP and OTLP/gRPC), and the checks of the
API's numbers against the ones computed here while sending it.

Each user ``u`` has ``u + 1`` sessions of ``turns`` traces; each trace is a root span ``turn`` with
a child ``chat`` LLM span carrying GenAI usage and a reported cost (OTel GenAI semconv keys, the
cost key is Latitude's). Every ``error_every``-th trace's chat span is errored. One extra trace has
no user.
"""

import json
import urllib.parse
import urllib.request

from opentelemetry.trace import Status, StatusCode, Tracer, set_span_in_context

HOUR_NS = 3600 * 10**9
COUNTED = ("traces", "sessions", "errored_sessions", "errored_traces", "input_tokens", "output_tokens", "llm_calls")


def get(url, project, path, **params):
    """GET ``path`` of the API for ``project``; the decoded JSON (asserts a 200)."""
    params["project"] = project
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=30) as r:
        assert r.status == 200
        return json.load(r)


def send(tracer: Tracer, now_ns, prefix, users, turns, usage, error_every, trace_ns):
    """Starts and ends the workload's spans; returns the expected numbers per user id.

    ``usage(u, t)`` gives (input tokens, output tokens, cost in USD) of user ``u``'s turn ``t``;
    every trace lasts ``trace_ns`` ns."""
    expected = {}
    n = 0
    for u in range(users):
        uid = f"{prefix}-user-{u}@example.com"
        e = expected[uid] = dict.fromkeys(COUNTED, 0) | {"cost": 0.0}
        for s in range(u + 1):
            e["sessions"] += 1
            session_errored = False
            for t in range(turns):
                n += 1
                start = now_ns + n * 10**9
                attrs = {"user.id": uid, "user.id.type": "email", "session.id": f"{prefix}-s-{u}-{s}"}
                root = tracer.start_span("turn", attributes=attrs, start_time=start)
                inp, out, cost = usage(u, t)
                chat = tracer.start_span(
                    "chat",
                    context=set_span_in_context(root),
                    start_time=start + 1000,
                    attributes={
                        **attrs,
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": inp,
                        "gen_ai.usage.output_tokens": out,
                        "gen_ai.usage.total_cost": cost,
                    },
                )
                errored = n % error_every == 0
                if errored:
                    chat.set_status(Status(StatusCode.ERROR, "boom"))
                chat.end(end_time=start + 5000)
                root.end(end_time=start + trace_ns)
                e["traces"] += 1
                e["llm_calls"] += 1
                e["input_tokens"] += inp
                e["output_tokens"] += out
                e["cost"] += cost
                e["errored_traces"] += int(errored)
                session_errored |= errored
            e["errored_sessions"] += int(session_errored)
    # One trace without a user.
    tracer.start_span("anonymous", start_time=now_ns).end(end_time=now_ns + 1000)
    return expected


def check_users(get_json, expected, latency_ms):
    """The overview and every user row equal ``expected``; returns the users listing."""
    ov = get_json("/api/overview")
    total = sum(e["traces"] for e in expected.values())
    assert ov["unique_users"] == len(expected)
    assert ov["traces"] == total + 1
    assert ov["traces_with_user"] == total
    assert abs(ov["traces_with_user_share"] - total / (total + 1)) < 1e-9
    listing = get_json("/api/users", limit=100)
    assert listing["total"] == len(expected)
    rows = {r["user_id"]: r for r in listing["users"]}
    for uid, e in expected.items():
        r = rows[uid]
        assert r["user_id_type"] == "email"
        for k in COUNTED:
            assert r[k] == e[k], (uid, k, r[k], e[k])
        assert abs(r["cost_usd"] - e["cost"]) < 1e-6
        assert abs(r["error_rate"] - e["errored_sessions"] / e["sessions"]) < 1e-9
        assert r["total_tokens"] == e["input_tokens"] + e["output_tokens"]
        assert abs(r["avg_latency_ms"] - latency_ms) < 1e-9
    assert abs(listing["rollups"]["traces"]["sum"] - total) < 1e-9
    return listing
