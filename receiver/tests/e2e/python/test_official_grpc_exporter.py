"""The official OpenTelemetry Python gRPC exporter (opentelemetry-exporter-otlp-proto-grpc, the
default transport of `opentelemetry-exporter-otlp`) sends spans carrying user.id / session.id to
a running `userspan serve` over OTLP/gRPC (`TraceService/Export`), plain and gzip-compressed; the
HTTP API's numbers must equal the ones computed here, independently, from the generated workload.

Needs USERSPAN_URL (the HTTP API, e.g. http://127.0.0.1:4318) and USERSPAN_GRPC_ENDPOINT (the
OTLP/gRPC endpoint, e.g. http://127.0.0.1:4317). Each run uses its own project.
"""

import os
import time
import urllib.parse
import uuid

import grpc
import workload
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

URL = os.environ.get("USERSPAN_URL", "http://127.0.0.1:4318")
GRPC = os.environ.get("USERSPAN_GRPC_ENDPOINT", "http://127.0.0.1:4317")


class RecordingExporter(OTLPSpanExporter):
    """The official exporter, remembering what each export call returned."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.results = []

    def export(self, spans, *args, **kw):
        result = super().export(spans, *args, **kw)
        self.results.append(result)
        return result


def run_workload(project, compression):
    """Sends the workload over gRPC; returns the expected per-user numbers."""
    exporter = RecordingExporter(endpoint=GRPC, insecure=True, compression=compression, timeout=30)
    provider = TracerProvider(resource=Resource.create({"service.name": "py-grpc-e2e", "userspan.project": project}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64))
    expected = workload.send(
        provider.get_tracer("e2e-grpc"),
        time.time_ns() - workload.HOUR_NS,
        "grpc",
        users=4,
        turns=3,
        usage=lambda u, t: (7 * u + t, 3 + t, 0.002 * (u + 1)),
        error_every=4,
        trace_ns=20000,
    )
    assert provider.force_flush(30_000)
    provider.shutdown()
    assert exporter.results, "the exporter was called"
    assert all(r == SpanExportResult.SUCCESS for r in exporter.results), exporter.results
    return expected


def check(project, expected):
    def get(path, **params):
        return workload.get(URL, project, path, **params)

    workload.check_users(get, expected, latency_ms=0.02)  # every trace lasts 20 µs
    detail = get("/api/users/" + urllib.parse.quote("grpc-user-3@example.com", safe=""))
    assert detail["sessions"] == 4
    assert detail["models"][0]["model"] == "gpt-4o-mini"
    assert detail["models"][0]["traces"] == 12


def test_grpc_exporter_numbers_match_the_workload():
    project = "e2e-python-grpc-" + uuid.uuid4().hex[:8]
    check(project, run_workload(project, compression=None))


def test_grpc_exporter_with_gzip_numbers_match_the_workload():
    project = "e2e-python-grpc-gzip-" + uuid.uuid4().hex[:8]
    check(project, run_workload(project, compression=grpc.Compression.Gzip))
