"""Per-call cost of a sync capture: userspan.capture vs latitude_telemetry.capture vs a bare
opentelemetry-sdk start_as_current_span, same attributes (user id + e-mail + session), no-op fn.

Setup (once; a release wheel, installed — not `maturin develop`, whose in-tree module the debug
build of scripts/test-python overwrites):

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install latitude-telemetry opentelemetry-sdk ./bindings-python
    /tmp/bench-venv/bin/python bindings-python/bench/bench_capture.py

Two export setups, each in its own child process (global OTel providers can be set only once):

- ``noop``: nothing is exported — userspan ``exporter="none"`` (spans built, stamped, ended,
  counted); latitude with ``exporter=<a no-op SpanExporter>`` behind its default batch processor;
  OTel SDK with a ``BatchSpanProcessor`` around the same no-op exporter.
- ``otlp``: everyone exports OTLP/HTTP protobuf to a local sink on 127.0.0.1 (a child process that
  answers 200): userspan's default batched exporter; latitude's own exporter
  (``LATITUDE_TELEMETRY_URL``); OTel's ``OTLPSpanExporter`` in a ``BatchSpanProcessor``. Nothing
  leaves the machine.

Plus ``userspan`` alone in a process that never imports OpenTelemetry (the Python OTel bridge off).

Timing: CPU time of the process (``time.process_time``, all threads — so background export work
counts) per call, rounds interleaved, best and median of ``--rounds``. Each timed round ends with
the contender's own flush, so its export work is charged to it, not to the round after it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

ATTRS = {"user_id": "user-42", "user_email": "ada@example.com", "session_id": "conv-7"}
NAME = "support-agent-turn"

SINK = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def noop() -> None:
    return None


def measure(
    fns: dict[str, Callable[[], Any]], n: int, rounds: int, flushes: dict[str, Callable[[], Any]]
) -> dict[str, dict[str, float]]:
    """Rounds of ``n`` calls per contender, interleaved. Each timed round ends with that
    contender's own flush, so the export work of its spans (background threads included) is
    charged to it and not to whoever runs next."""
    for label, f in fns.items():  # warm up
        for _ in range(min(n, 20_000)):
            f()
        flushes[label]()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for label, f in fns.items():
            flush = flushes[label]
            start = time.process_time()
            for _ in range(n):
                f()
            flush()
            samples[label].append((time.process_time() - start) / n * 1e6)
    return {k: {"best_us": min(v), "median_us": statistics.median(v)} for k, v in samples.items()}


def child(mode: str, sink_port: int, n: int, rounds: int) -> dict[str, dict[str, float]]:
    fns: dict[str, Callable[[], Any]] = {}
    if mode == "userspan-only":
        import userspan

        userspan.init(exporter="none")
        assert "opentelemetry.trace" not in sys.modules
        cap = userspan.capture
        fns["userspan.capture"] = lambda: cap(NAME, noop, ATTRS)
        return measure(fns, n, rounds, {"userspan.capture": lambda: userspan.flush(10)})

    sink = f"http://127.0.0.1:{sink_port}"
    if mode == "otlp":
        os.environ["LATITUDE_TELEMETRY_URL"] = sink  # read when latitude_telemetry is imported
    from latitude_telemetry import Latitude
    from latitude_telemetry import capture as lat_capture
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    import userspan

    class NoopExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    if mode == "noop":
        userspan.init(exporter="none")
        latitude = Latitude(api_key="bench-key", project="bench", exporter=NoopExporter())
        otel_exporter: Any = NoopExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        userspan.init(sink)
        latitude = Latitude(api_key="bench-key", project="bench")
        otel_exporter = OTLPSpanExporter(endpoint=f"{sink}/v1/traces")

    # The bare OTel contender sets the span attributes userspan stamps for ATTRS (wire keys from the
    # core, e.g. user.id), so all three record the same attributes.
    otel_attrs = userspan._native.nest(None, ATTRS).span_attributes()
    provider = TracerProvider()  # its own provider: latitude owns the global one
    provider.add_span_processor(BatchSpanProcessor(otel_exporter))
    tracer = provider.get_tracer("bench")

    def otel_call() -> None:
        with tracer.start_as_current_span(NAME, attributes=otel_attrs):
            noop()

    cap = userspan.capture
    fns["userspan.capture"] = lambda: cap(NAME, noop, ATTRS)
    fns["latitude_telemetry.capture"] = lambda: lat_capture(NAME, noop, ATTRS)
    fns["otel start_as_current_span"] = otel_call
    flushes: dict[str, Callable[[], Any]] = {
        "userspan.capture": lambda: userspan.flush(10),
        "latitude_telemetry.capture": latitude.flush,
        "otel start_as_current_span": provider.force_flush,
    }
    result = measure(fns, n, rounds, flushes)
    stats = userspan.stats()
    result["userspan.stats"] = {k: float(v) for k, v in stats.items()}
    return result


def run_child(mode: str, sink_port: int, n: int, rounds: int) -> dict[str, dict[str, float]]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--sink-port",
            str(sink_port),
            "-n",
            str(n),
            "--rounds",
            str(rounds),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=100_000, help="calls per round (default 100000)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--sink-port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.sink_port, args.n, args.rounds)))
        return

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None  # stdout=PIPE
        port = int(sink.stdout.readline())
        results = {mode: run_child(mode, port, args.n, args.rounds) for mode in ("noop", "otlp", "userspan-only")}
    finally:
        sink.terminate()

    import userspan  # noqa: F401 - only to print where it comes from

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"python: {platform.python_implementation()} {platform.python_version()}; load avg {os.getloadavg()}")
    print(f"calls per round: {args.n}, rounds: {args.rounds}; CPU µs per call (process_time, all threads)")
    print()
    print(f"{'setup':<14} {'variant':<30} {'best µs':>9} {'median µs':>10} {'vs userspan':>12}")
    for mode in ("noop", "otlp"):
        r = results[mode]
        base = r["userspan.capture"]["median_us"]
        for label in ("userspan.capture", "latitude_telemetry.capture", "otel start_as_current_span"):
            v = r[label]
            print(
                f"{mode:<14} {label:<30} {v['best_us']:>9.2f} {v['median_us']:>10.2f} {v['median_us'] / base:>11.1f}x"
            )
    r = results["userspan-only"]["userspan.capture"]
    print(f"{'no OTel':<14} {'userspan.capture':<30} {r['best_us']:>9.2f} {r['median_us']:>10.2f}")
    print()
    print("userspan stats (otlp run):", results["otlp"]["userspan.stats"])


if __name__ == "__main__":
    main()
