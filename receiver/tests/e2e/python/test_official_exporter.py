"""The official OpenTelemetry Python exporter (opentelemetry-exporter-otlp-proto-http) sends spans
carrying user.id / session.id to a running `userspan serve`; the API's numbers must equal the ones
computed here, independently, from the workload the test generated.

Needs USERSPAN_URL (e.g. http://127.0.0.1:4318). Each run uses its own project so runs and the
Node client do not mix.
"""

import os
import time
import urllib.parse
import uuid

import workload
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

URL = os.environ.get("USERSPAN_URL", "http://127.0.0.1:4318")
PROJECT = "e2e-python-" + uuid.uuid4().hex[:8]


def get(path, **params):
    return workload.get(URL, PROJECT, path, **params)


def run_workload():
    """Sends the workload; returns the expected per-user numbers."""
    provider = TracerProvider(resource=Resource.create({"service.name": "py-e2e", "userspan.project": PROJECT}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{URL}/v1/traces"), max_export_batch_size=64)
    )
    expected = workload.send(
        provider.get_tracer("e2e"),
        time.time_ns() - workload.HOUR_NS,
        "py",
        users=5,
        turns=2,
        usage=lambda u, t: (10 * u + t, 5, 0.001 * (u + 1)),
        error_every=3,
        trace_ns=10000,
    )
    assert provider.force_flush(30_000)
    provider.shutdown()
    return expected


def test_api_numbers_match_the_workload():
    expected = run_workload()
    workload.check_users(get, expected, latency_ms=0.01)  # every trace lasts 10 µs
    detail = get("/api/users/" + urllib.parse.quote("py-user-4@example.com", safe=""))
    assert detail["sessions"] == 5
    assert detail["models"][0]["model"] == "gpt-4o-mini"
    assert detail["models"][0]["traces"] == 10
