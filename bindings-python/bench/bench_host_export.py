"""Process CPU per OpenTelemetry span: an app's Python OTel spans exported through
``userspan.init()`` (the core's pipeline) versus through the OTel Python SDK's own
``BatchSpanProcessor`` + ``OTLPSpanExporter`` (OTLP/HTTP protobuf), to the same local sink.

Setup (once; a release wheel, installed, not ``maturin develop``, whose in-tree module the debug
build of scripts/test-python overwrites):

    python3 -m venv bindings-python/.venv-bench
    bindings-python/.venv-bench/bin/pip install maturin opentelemetry-sdk==1.45.2 \\
        opentelemetry-exporter-otlp-proto-http==1.45.2 openai==3.57.0 \\
        openinference-instrumentation-openai==0.1.66
    (cd bindings-python && .venv-bench/bin/maturin build --release -o /tmp/userspan-wheel)
    bindings-python/.venv-bench/bin/pip install --force-reinstall --no-deps /tmp/userspan-wheel/userspan-*.whl
    bindings-python/.venv-bench/bin/python bindings-python/bench/bench_host_export.py

The sink and the fake OpenAI server are ``receiver/tests/instrumentations/harness.py serve`` in a
child process of their own (its CPU is not counted): OTLP/HTTP bodies answered 200, Chat
Completions answered with the real response shape and usage.

Workloads, each contender in a fresh child process (a global tracer provider is set once):

- ``span``: spans made by a tracer directly, with the attributes OpenInference's openai
  instrumentation sets on a chat call (``openinference.span.kind``, ``llm.*``, ``input.value``,
  ``output.value``, messages, token counts), inside ``using_attributes(user_id=...)``: isolates
  the export cost.
- ``openai``: real ``openai`` chat calls instrumented by OpenInference against the fake server.

Contenders (both stamp the user scope on each span):

- ``userspan``: ``userspan.init(endpoint=sink)``: ``UserspanSpanProcessor`` on the global SDK
  provider, each span translated in Rust at end and batched by the core's exporter.
- ``otel-sdk``: the six-line set-up: an SDK ``TracerProvider`` with
  ``userspan.otel.UserAttributesSpanProcessor`` then ``BatchSpanProcessor(OTLPSpanExporter(sink))``.
- ``sdk-only`` (``span`` workload only): the same provider with the stamping processor and no
  exporter: what a span costs before any export, to read the export part off the other two.

Both exporters get the same batch settings (batch 512, a queue larger than a round, so nothing is
dropped; drops are checked). Timing: ``time.process_time()`` of the child (all threads, so the
export threads count) over a round of spans ended by the contender's own flush, per span; rounds
interleaved, median and best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(REPO, "receiver", "tests", "instrumentations", "harness.py")
QUEUE = 1 << 17
BATCH = 512

#: What OpenInference's openai instrumentation (0.1.66) records on one chat call (keys and value
#: shapes as in receiver/tests/fixtures' openinference-openai recording).
OPENINFERENCE_ATTRS: dict[str, Any] = {
    "openinference.span.kind": "LLM",
    "llm.system": "openai",
    "llm.provider": "openai",
    "llm.model_name": "gpt-4o-mini-2024-07-18",
    "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.2}',
    "input.value": '{"messages": [{"role": "user", "content": "Where is my order #1234?"}], "model": "gpt-4o-mini"}',
    "input.mime_type": "application/json",
    "output.value": '{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, '
    '"message": {"role": "assistant", "content": "Your order ships tomorrow."}, "finish_reason": "stop"}]}',
    "output.mime_type": "application/json",
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "Where is my order #1234?",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "Your order ships tomorrow.",
    "llm.token_count.prompt": 1200,
    "llm.token_count.completion": 300,
    "llm.token_count.total": 1500,
    "llm.token_count.prompt_details.cache_read": 200,
    "llm.token_count.completion_details.reasoning": 50,
}

CHILD = r"""
import json, sys, time
cfg = json.loads(sys.argv[1])
from opentelemetry import trace
import userspan
from userspan.otel import UserAttributesSpanProcessor

who, work, n, sink = cfg["who"], cfg["work"], cfg["n"], cfg["sink"]
if who == "userspan":
    userspan.init(endpoint=sink + "/userspan", max_queue_size=cfg["queue"], max_export_batch_size=cfg["batch"])
    flush = userspan.flush
else:
    from opentelemetry.sdk.trace import TracerProvider
    provider = TracerProvider()
    provider.add_span_processor(UserAttributesSpanProcessor())
    if who == "otel-sdk":
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=sink + "/otel-sdk/v1/traces"),
            max_queue_size=cfg["queue"], max_export_batch_size=cfg["batch"]))
    trace.set_tracer_provider(provider)
    flush = provider.force_flush

if work == "span":
    attrs = cfg["attrs"]
    tracer = trace.get_tracer("openinference.instrumentation.openai", "0.1.66")
    def one():
        with tracer.start_as_current_span("ChatCompletion", kind=trace.SpanKind.INTERNAL) as s:
            s.set_attributes(attrs)
else:
    import openai
    from openinference.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()
    client = openai.OpenAI(base_url=cfg["openai"], api_key="sk-bench", max_retries=0)
    msgs = [{"role": "user", "content": "Where is my order #1234?"}]
    def one():
        client.chat.completions.create(model="gpt-4o-mini", messages=msgs, temperature=0.2)

with userspan.using_attributes(user_id="user-42", session_id="conv-7"):
    for _ in range(cfg["warmup"]):
        one()
    flush()
    t0 = time.process_time()
    for _ in range(n):
        one()
    ok = flush()
    cpu = time.process_time() - t0
out = {"cpu_us": cpu / n * 1e6, "flushed": bool(ok)}
if who == "userspan":
    st = userspan.stats()
    out["dropped"] = st["spans_dropped"] + st["export_errors"]
    out["exported"] = st["spans_exported"]
print(json.dumps(out))
"""


def start_harness(out_dir: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, HARNESS, "serve", "--out", out_dir],
        stdout=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    urls: dict[str, str] = json.loads(proc.stdout.readline())
    return proc, urls


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"{cfg['who']}/{cfg['work']} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["flushed"] or result.get("dropped"):
        raise SystemExit(f"{cfg['who']}/{cfg['work']}: not everything was exported: {result}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--spans", type=int, default=20_000, help="spans per round, span workload")
    ap.add_argument("--calls", type=int, default=2_000, help="calls per round, openai workload")
    ap.add_argument("--work", choices=["span", "openai", "both"], default="both")
    args = ap.parse_args()

    import tempfile

    import userspan  # noqa: F401 (fails early without the package)

    with tempfile.TemporaryDirectory() as tmp:
        harness, urls = start_harness(tmp)
        try:
            works = ["span", "openai"] if args.work == "both" else [args.work]
            results: dict[str, dict[str, list[float]]] = {}
            for work in works:
                who_list = ["userspan", "otel-sdk"] + (["sdk-only"] if work == "span" else [])
                n = args.spans if work == "span" else args.calls
                results[work] = {w: [] for w in who_list}
                for _ in range(args.rounds):
                    for who in who_list:
                        cfg = {
                            "who": who,
                            "work": work,
                            "n": n,
                            "warmup": max(n // 10, 50),
                            "sink": urls["otlp"],
                            "openai": urls["openai"],
                            "queue": QUEUE,
                            "batch": BATCH,
                            "attrs": OPENINFERENCE_ATTRS,
                        }
                        results[work][who].append(run(cfg)["cpu_us"])
        finally:
            harness.terminate()
            harness.wait()

    py = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"# {py}, {platform.machine()}, {os.cpu_count()} cpus")
    print(f"# rounds: {args.rounds}; span workload {args.spans} spans/round; openai workload {args.calls} calls/round")
    for work, by_who in results.items():
        print(f"\n{work}: process CPU per span, µs (median / best of {args.rounds})")
        base = statistics.median(by_who["sdk-only"]) if "sdk-only" in by_who else None
        for who, xs in by_who.items():
            med, best = statistics.median(xs), min(xs)
            extra = f"   export part {med - base:7.2f}" if base is not None and who != "sdk-only" else ""
            print(f"  {who:<10} {med:8.2f} / {best:8.2f}{extra}")
        ours, theirs = statistics.median(by_who["userspan"]), statistics.median(by_who["otel-sdk"])
        print(f"  userspan / otel-sdk: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
