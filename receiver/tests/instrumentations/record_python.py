"""Record what one Python instrumentation emits for one OpenAI chat call (maintainer tool).

Run by ``scripts/record-fixtures`` with the recording venv, one process per variant (instrumentors
patch ``openai`` globally)::

    python record_python.py VARIANT --openai URL --otlp URL

The chat call goes to the fake server of ``harness.py`` (``--openai``); spans go over the official
Python OTLP/HTTP exporter (protobuf) to the harness's sink at ``--otlp``/VARIANT/v1/traces. The
call runs inside ``userspan.capture(...)`` when the ``userspan`` package imports (its capture span
is exported by userspan's own pipeline, OTLP/HTTP JSON, to the same sink: same trace); identity is
also set the package's own way where it has one (OpenInference ``using_attributes``, Traceloop
association properties, Langfuse ``propagate_attributes``). userspan's
``UserAttributesSpanProcessor`` is deliberately NOT installed, so the instrumentation's spans hold
only what the instrumentation itself writes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, Callable

USER_ID = "user-123"
SESSION_ID = "session-abc"
TAGS = ["support", "beta"]
METADATA = {"plan": "pro", "region": "eu"}
#: The OpenAI request's own ``user`` field (which key each instrumentation records it under is
#: listed in the fixtures' README).
OPENAI_USER = "end-user-42"
REQUEST_MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "You are a helpful support agent."},
    {"role": "user", "content": "Where is my order A-1001?"},
]

VARIANTS = [
    "openinference-openai",
    "openinference-openai-stream",
    "otel-openai-v2",
    "otel-openai-v2-content",
    "otel-openai-v2-stream",
    "openllmetry-openai",
    "openllmetry-openai-stream",
    "traceloop-sdk-openai",
    "openinference-langchain",
    "openinference-langchain-tool",
    "langfuse-openai",
]


def _provider(otlp: str, variant: str) -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"recorder-{variant}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/{variant}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def _userspan(otlp: str, variant: str) -> Any:
    try:
        import userspan
    except ImportError as e:  # recorded without userspan: say so
        print(f"[{variant}] userspan not importable ({e}); recording without a capture span", file=sys.stderr)
        return None
    userspan.init(
        endpoint=f"{otlp}/{variant}",
        protocol="http/json",
        service_name=f"recorder-{variant}",
        scheduled_delay_ms=100,
    )
    return userspan


def _chat(base_url: str, stream: bool) -> str:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="sk-fake")
    if stream:
        out = []
        for chunk in client.chat.completions.create(
            model=REQUEST_MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
            user=OPENAI_USER,
            temperature=0.2,
            max_tokens=400,
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return "".join(out)
    resp = client.chat.completions.create(
        model=REQUEST_MODEL,
        messages=MESSAGES,  # type: ignore[arg-type]
        user=OPENAI_USER,
        temperature=0.2,
        max_tokens=400,
    )
    return resp.choices[0].message.content or ""


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def run(variant: str, base_url: str, otlp: str) -> None:
    stream = variant.endswith("-stream")
    scope: Callable[[], Any] = _nothing
    provider = None
    shutdown: list[Callable[[], Any]] = []

    if variant.startswith("openinference-openai"):
        from openinference.instrumentation import using_attributes
        from openinference.instrumentation.openai import OpenAIInstrumentor

        provider = _provider(otlp, variant)
        OpenAIInstrumentor().instrument(tracer_provider=provider)

        def scope() -> Any:
            return using_attributes(user_id=USER_ID, session_id=SESSION_ID, tags=TAGS, metadata=METADATA)

        call = lambda: _chat(base_url, stream)  # noqa: E731
    elif variant.startswith("otel-openai-v2"):
        if variant == "otel-openai-v2-content":
            # "true" is what the package's README said up to 2.3b0; with opentelemetry-util-genai
            # >= 1.0 the instrumentation always runs the latest-experimental conventions and the
            # variable takes NO_CONTENT | SPAN_ONLY | EVENT_ONLY | SPAN_AND_EVENT ("true" is
            # refused with a warning and means NO_CONTENT).
            os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_AND_EVENT"
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        provider = _provider(otlp, variant)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        call = lambda: _chat(base_url, stream)  # noqa: E731
    elif variant.startswith("openllmetry-openai"):
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        provider = _provider(otlp, variant)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        call = lambda: _chat(base_url, stream)  # noqa: E731
    elif variant == "traceloop-sdk-openai":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from traceloop.sdk import Traceloop

        Traceloop.init(
            app_name=f"recorder-{variant}",
            exporter=OTLPSpanExporter(endpoint=f"{otlp}/{variant}/v1/traces"),
            disable_batch=True,
            telemetry_enabled=False,
        )

        def call() -> str:
            Traceloop.set_association_properties({"user_id": USER_ID, "session_id": SESSION_ID})
            return _chat(base_url, stream)

        shutdown.append(lambda: __import__("opentelemetry.trace").trace.get_tracer_provider().shutdown())
    elif variant == "openinference-langchain-tool":
        # A tiny agent turn: a CHAIN (RunnableLambda) around LLM (tool call) → TOOL → LLM (answer).
        from langchain_core.messages import HumanMessage, SystemMessage
        from langchain_core.runnables import RunnableLambda
        from langchain_core.tools import tool
        from langchain_openai import ChatOpenAI
        from openinference.instrumentation import using_attributes
        from openinference.instrumentation.langchain import LangChainInstrumentor

        provider = _provider(otlp, variant)
        LangChainInstrumentor().instrument(tracer_provider=provider)

        @tool
        def get_order_status(order_id: str) -> str:
            """Look up the shipping status of an order."""
            return f"order {order_id}: ships tomorrow"

        llm = ChatOpenAI(
            model=REQUEST_MODEL,
            base_url=base_url,
            api_key="sk-fake",
            temperature=0.2,
            max_tokens=400,
            model_kwargs={"user": OPENAI_USER},
        ).bind_tools([get_order_status])

        def agent(question: str) -> str:
            msgs: list[Any] = [SystemMessage(content=MESSAGES[0]["content"]), HumanMessage(content=question)]
            ai = llm.invoke(msgs)
            msgs.append(ai)
            for tc in ai.tool_calls:
                msgs.append(get_order_status.invoke(tc))
            return str(llm.invoke(msgs).content)

        def scope() -> Any:
            return using_attributes(user_id=USER_ID, session_id=SESSION_ID, tags=TAGS, metadata=METADATA)

        call = lambda: RunnableLambda(agent, name="support-agent").invoke(MESSAGES[1]["content"])  # noqa: E731
    elif variant == "openinference-langchain":
        from langchain_core.messages import HumanMessage, SystemMessage
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_openai import ChatOpenAI
        from openinference.instrumentation import using_attributes
        from openinference.instrumentation.langchain import LangChainInstrumentor

        provider = _provider(otlp, variant)
        LangChainInstrumentor().instrument(tracer_provider=provider)
        llm = ChatOpenAI(
            model=REQUEST_MODEL,
            base_url=base_url,
            api_key="sk-fake",
            temperature=0.2,
            max_tokens=400,
            model_kwargs={"user": OPENAI_USER},
        )
        prompt = ChatPromptTemplate.from_messages(
            [SystemMessage(content=MESSAGES[0]["content"]), ("human", "{question}")]
        )
        chain = prompt | llm | StrOutputParser()
        del HumanMessage

        def scope() -> Any:
            return using_attributes(user_id=USER_ID, session_id=SESSION_ID, tags=TAGS, metadata=METADATA)

        call = lambda: chain.invoke({"question": MESSAGES[1]["content"]})  # noqa: E731
    elif variant == "langfuse-openai":
        # Langfuse Python SDK (OTel based since v3): its own TracerProvider and OTLP/HTTP protobuf
        # exporter, pointed at the sink through a span_exporter (its default endpoint would be
        # {host}/api/public/otel/v1/traces); the OpenAI call through its drop-in `langfuse.openai`.
        from langfuse import Langfuse, propagate_attributes
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        lf = Langfuse(
            public_key="pk-lf-fake",
            secret_key="sk-lf-fake",
            host=f"{otlp}/{variant}",
            span_exporter=OTLPSpanExporter(endpoint=f"{otlp}/{variant}/v1/traces"),
        )
        from langfuse.openai import openai as lf_openai

        def call() -> str:
            with (
                lf.start_as_current_observation(name="chat-turn", as_type="span"),
                propagate_attributes(user_id=USER_ID, session_id=SESSION_ID, tags=TAGS, metadata=METADATA),
            ):
                client = lf_openai.OpenAI(base_url=base_url, api_key="sk-fake")
                resp = client.chat.completions.create(
                    model=REQUEST_MODEL,
                    messages=MESSAGES,
                    user=OPENAI_USER,  # type: ignore[arg-type]
                    temperature=0.2,
                    max_tokens=400,
                )
                return resp.choices[0].message.content or ""

        shutdown.append(lf.shutdown)
    else:
        sys.exit(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")

    us = _userspan(otlp, variant)
    if us is not None:

        def turn() -> str:
            with scope():
                return call()

        reply = us.capture(
            "chat-turn", turn, {"user_id": USER_ID, "session_id": SESSION_ID, "tags": TAGS, "metadata": METADATA}
        )
    else:
        with scope():
            reply = call()
    print(f"[{variant}] reply: {reply!r}", file=sys.stderr)
    if provider is not None:
        provider.shutdown()
    for f in shutdown:
        f()
    if us is not None:
        us.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("variant", choices=VARIANTS)
    ap.add_argument("--openai", required=True, help="fake server base URL, e.g. http://127.0.0.1:P/v1")
    ap.add_argument("--otlp", required=True, help="sink base URL, e.g. http://127.0.0.1:P")
    a = ap.parse_args()
    run(a.variant, a.openai, a.otlp)


if __name__ == "__main__":
    main()
