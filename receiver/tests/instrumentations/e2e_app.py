"""A tiny instrumented app for the end-to-end test (``test_e2e_real_packages.py``), one per process.

Run as ``python e2e_app.py PACKAGE --openai URL --userspan URL --user USER_ID --turns N,M,...``:
the real ``openai`` client, instrumented by the real PACKAGE (instrumentors patch ``openai``
globally, hence one process each), calls the fake OpenAI server of ``harness.py`` at ``--openai``.
Each turn is one ``userspan.capture("chat-turn", ...)`` with ``user_id=USER_ID`` and makes as many
``chat.completions.create`` calls as its number in ``--turns``; a number prefixed ``s`` (``s1``) makes
streaming calls (``stream=True, stream_options={"include_usage": True}``). The instrumentation's spans go over
the official OTLP/HTTP protobuf exporter to ``--userspan``/v1/traces, the capture spans over
userspan's own pipeline to the same ``userspan serve``: one trace per turn, the capture span its
root. userspan's ``UserAttributesSpanProcessor`` is not installed, so the user is known only from
the capture span (the receiver attributes the whole trace to it).

PACKAGE: ``openinference`` (openinference-instrumentation-openai), ``openai-v2``
(opentelemetry-instrumentation-openai-v2), ``openllmetry`` (opentelemetry-instrumentation-openai).
Exit status 0 when every call got the fake server's reply.
"""

from __future__ import annotations

import argparse
import sys

PACKAGES = ("openinference", "openai-v2", "openllmetry")
REQUEST_MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "You are a helpful support agent."},
    {"role": "user", "content": "Where is my order A-1001?"},
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("package", choices=PACKAGES)
    ap.add_argument("--openai", required=True, help="fake OpenAI base URL, e.g. http://127.0.0.1:P/v1")
    ap.add_argument("--userspan", required=True, help="userspan serve base URL, e.g. http://127.0.0.1:P")
    ap.add_argument("--user", required=True)
    ap.add_argument("--turns", required=True, help="chat calls per turn, comma separated; s = streaming, e.g. 1,2,s1")
    a = ap.parse_args()
    turns = [(n.startswith("s"), int(n.lstrip("s"))) for n in a.turns.split(",")]

    import openai
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import userspan

    provider = TracerProvider(resource=Resource.create({"service.name": f"e2e-{a.package}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{a.userspan}/v1/traces")))
    trace.set_tracer_provider(provider)
    if a.package == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as Instrumentor
    elif a.package == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Instrumentor
    else:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Instrumentor
    Instrumentor().instrument(tracer_provider=provider)

    userspan.init(endpoint=a.userspan, service_name=f"e2e-{a.package}", scheduled_delay_ms=100)
    client = openai.OpenAI(base_url=a.openai, api_key="sk-fake")

    def turn(stream: bool, calls: int) -> list[str]:
        out = []
        for _ in range(calls):
            if stream:
                parts = []
                for chunk in client.chat.completions.create(
                    model=REQUEST_MODEL,
                    messages=MESSAGES,  # type: ignore[arg-type]
                    temperature=0.2,
                    max_tokens=400,
                    stream=True,
                    stream_options={"include_usage": True},
                ):
                    if chunk.choices and chunk.choices[0].delta.content:
                        parts.append(chunk.choices[0].delta.content)
                out.append("".join(parts))
                continue
            resp = client.chat.completions.create(
                model=REQUEST_MODEL,
                messages=MESSAGES,  # type: ignore[arg-type]
                temperature=0.2,
                max_tokens=400,
            )
            out.append(resp.choices[0].message.content or "")
        return out

    replies: list[str] = []
    for stream, calls in turns:
        replies += userspan.capture("chat-turn", lambda s=stream, c=calls: turn(s, c), {"user_id": a.user})
    provider.shutdown()  # flushes the instrumentation's spans (the exporter answers after commit)
    userspan.shutdown()  # flushes the capture spans
    if len(replies) != sum(n for _, n in turns) or not all(replies):
        sys.exit(f"[{a.package}] unexpected replies: {replies!r}")
    print(f"[{a.package}] {len(replies)} calls for {a.user}", file=sys.stderr)


if __name__ == "__main__":
    main()
