"""The official OpenTelemetry Python gRPC exporter (opentelemetry-exporter-otlp-proto-grpc, the
default transport of `opentelemetry-exporter-otlp`) sends spans carrying user.id / session.id to
a running `userspan serve` over OTLP/gRPC (`TraceService/Export`), plain and gzip-compressed; the
HTTP API's numbers must equal the ones computed here, independently, from the generated workload.

Needs USERSPAN_URL (the HTTP API, e.g. http://127.0.0.1:4318) and USERSPAN_GRPC_ENDPOINT (the
OTLP/gRPC endpoint, e.g. http://127.0.0.1:4317). Each run uses its own project.
"""

import json
import os
import time
import urllib.parse
import urllib.request
import uuid

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode, set_span_in_context

URL = os.environ.get("USERSPAN_URL", "http://127.0.0.1:4318")
GRPC = os.environ.get("USERSPAN_GRPC_ENDPOINT", "http://127.0.0.1:4317")
HOUR_NS = 3600 * 10**9


class RecordingExporter(OTLPSpanExporter):
    """The official exporter, remembering what each export call returned."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.results = []

    def export(self, spans, *args, **kw):
        result = super().export(spans, *args, **kw)
        self.results.append(result)
        return result


def get(project, path, **params):
    params["project"] = project
    with urllib.request.urlopen(f"{URL}{path}?{urllib.parse.urlencode(params)}", timeout=30) as r:
        assert r.status == 200
        return json.load(r)


def run_workload(project, compression):
    """Sends the workload over gRPC; returns the expected per-user numbers."""
    exporter = RecordingExporter(endpoint=GRPC, insecure=True, compression=compression, timeout=30)
    provider = TracerProvider(
        resource=Resource.create({"service.name": "py-grpc-e2e", "userspan.project": project})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    tracer = provider.get_tracer("e2e-grpc")
    now = time.time_ns() - HOUR_NS
    expected = {}
    n = 0
    for u in range(4):
        uid = f"grpc-user-{u}@example.com"
        e = expected[uid] = dict(traces=0, sessions=0, errored_sessions=0, errored_traces=0,
                                 input_tokens=0, output_tokens=0, cost=0.0, llm_calls=0)
        for s in range(u + 1):
            e["sessions"] += 1
            session_errored = False
            for t in range(3):
                n += 1
                start = now + n * 10**9
                attrs = {"user.id": uid, "user.id.type": "email", "session.id": f"grpc-s-{u}-{s}"}
                root = tracer.start_span("turn", attributes=attrs, start_time=start)
                inp, out, cost = 7 * u + t, 3 + t, 0.002 * (u + 1)
                chat = tracer.start_span("chat", context=set_span_in_context(root), start_time=start + 1000,
                                         attributes={
                                             **attrs,
                                             "gen_ai.operation.name": "chat",
                                             "gen_ai.request.model": "gpt-4o-mini",
                                             "gen_ai.usage.input_tokens": inp,
                                             "gen_ai.usage.output_tokens": out,
                                             "gen_ai.usage.total_cost": cost,
                                         })
                errored = n % 4 == 0
                if errored:
                    chat.set_status(Status(StatusCode.ERROR, "boom"))
                chat.end(end_time=start + 5000)
                root.end(end_time=start + 20000)
                e["traces"] += 1
                e["llm_calls"] += 1
                e["input_tokens"] += inp
                e["output_tokens"] += out
                e["cost"] += cost
                e["errored_traces"] += int(errored)
                session_errored |= errored
            e["errored_sessions"] += int(session_errored)
    tracer.start_span("anonymous", start_time=now).end(end_time=now + 1000)
    assert provider.force_flush(30_000)
    provider.shutdown()
    assert exporter.results, "the exporter was called"
    assert all(r == SpanExportResult.SUCCESS for r in exporter.results), exporter.results
    return expected


def check(project, expected):
    ov = get(project, "/api/overview")
    total = sum(e["traces"] for e in expected.values())
    assert ov["unique_users"] == len(expected)
    assert ov["traces"] == total + 1
    assert ov["traces_with_user"] == total
    listing = get(project, "/api/users", limit=100)
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
        assert abs(r["avg_latency_ms"] - 0.02) < 1e-9  # every trace lasts 20 µs
    detail = get(project, "/api/users/" + urllib.parse.quote("grpc-user-3@example.com", safe=""))
    assert detail["sessions"] == 4
    assert detail["models"][0]["model"] == "gpt-4o-mini"
    assert detail["models"][0]["traces"] == 12


def test_grpc_exporter_numbers_match_the_workload():
    project = "e2e-python-grpc-" + uuid.uuid4().hex[:8]
    check(project, run_workload(project, compression=None))


def test_grpc_exporter_with_gzip_numbers_match_the_workload():
    project = "e2e-python-grpc-gzip-" + uuid.uuid4().hex[:8]
    check(project, run_workload(project, compression=grpc.Compression.Gzip))
