"""Checks of the recorded instrumentation fixtures (receiver/tests/fixtures/instrumentations/*.json).

Each fixture must be a valid OTLP JSON ``ExportTraceServiceRequest`` (OTLP spec, "JSON Protobuf
Encoding": lowerCamelCase fields, hex trace/span ids, int64 as number or decimal string, one
``AnyValue`` kind per value), hold one trace whose parents resolve inside it, and carry on its usage
span(s) exactly the model and token counts the fake server (``harness.py``) answers — which proves
the fixture is what the real package emitted for that known usage. :data:`EXPECT` is the
machine-checked part of the README's key table (which keys carry usage, on how many spans).

Standard library + pytest; run with any Python that has pytest:

    python -m pytest receiver/tests/instrumentations
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import harness
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "instrumentations"

# fixture → (input-token key, output-token key, cache-read key or None, reasoning key or None,
#            model key, number of spans carrying the input-token key)
EXPECT: dict[str, tuple[str, str, str | None, str | None, str, int]] = {
    "openinference-openai": (
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.completion_details.reasoning",
        "llm.model_name",
        1,
    ),
    "openinference-openai-stream": (
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.completion_details.reasoning",
        "llm.model_name",
        1,
    ),
    "openinference-langchain": (
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.completion_details.reasoning",
        "llm.model_name",
        1,
    ),
    # two LLM calls (tool call, then the answer) under one AGENT span, which carries no usage
    "openinference-langchain-tool": (
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.completion_details.reasoning",
        "llm.model_name",
        2,
    ),
    "otel-openai-v2": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        None,
        None,
        "gen_ai.response.model",
        1,
    ),
    "otel-openai-v2-content": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        None,
        None,
        "gen_ai.response.model",
        1,
    ),
    "otel-openai-v2-stream": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        None,
        None,
        "gen_ai.response.model",
        1,
    ),
    "openllmetry-openai": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning_tokens",
        "gen_ai.response.model",
        1,
    ),
    # the streaming path of OpenLLMetry 0.62.4 drops reasoning tokens
    "openllmetry-openai-stream": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        None,
        "gen_ai.response.model",
        1,
    ),
    "traceloop-sdk-openai": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning_tokens",
        "gen_ai.response.model",
        1,
    ),
    # wrapper (ai.generateText / ai.streamText) and provider call (…doGenerate / …doStream): both
    "vercel-ai-generate-text": (
        "ai.usage.inputTokens",
        "ai.usage.outputTokens",
        "ai.usage.inputTokenDetails.cacheReadTokens",
        "ai.usage.outputTokenDetails.reasoningTokens",
        "ai.response.model",
        2,
    ),
    "vercel-ai-stream-text": (
        "ai.usage.inputTokens",
        "ai.usage.outputTokens",
        "ai.usage.inputTokenDetails.cacheReadTokens",
        "ai.usage.outputTokenDetails.reasoningTokens",
        "ai.response.model",
        2,
    ),
    "vercel-ai-generate-text-responses": (
        "ai.usage.inputTokens",
        "ai.usage.outputTokens",
        "ai.usage.inputTokenDetails.cacheReadTokens",
        "ai.usage.outputTokenDetails.reasoningTokens",
        "ai.response.model",
        2,
    ),
}
# Vercel: usage on both spans, ai.response.model only on the provider call (…doGenerate / …doStream)
MODEL_SPANS = {"vercel-ai-generate-text": 1, "vercel-ai-stream-text": 1, "vercel-ai-generate-text-responses": 1}
# Langfuse: usage is one JSON attribute, checked by its own test below
OTHER_FIXTURES = {"langfuse-openai"}

VALUE_KINDS = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _check_value(v: Any) -> Any:
    assert isinstance(v, dict) and len(v) == 1 and set(v) <= VALUE_KINDS, v
    ((kind, x),) = v.items()
    if kind == "intValue":
        assert isinstance(x, int) or (isinstance(x, str) and re.fullmatch(r"-?\d+", x)), v
        return int(x)
    if kind == "arrayValue":
        return [_check_value(e) for e in x.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: _check_value(kv["value"]) for kv in x.get("values", [])}
    return x


def _attrs(obj: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for a in obj.get("attributes", []):
        assert set(a) == {"key", "value"} and isinstance(a["key"], str), a
        assert a["key"] not in out, f"duplicate attribute {a['key']}"
        out[a["key"]] = _check_value(a["value"])
    return out


def _spans(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate the envelope; each span with its parsed attributes under "_attrs"."""
    assert set(doc) == {"resourceSpans"} and doc["resourceSpans"], "not an ExportTraceServiceRequest"
    spans = []
    for rs in doc["resourceSpans"]:
        assert "service.name" in _attrs(rs["resource"]), "resource without service.name"
        assert rs["scopeSpans"]
        for ss in rs["scopeSpans"]:
            assert isinstance(ss["scope"].get("name"), str)
            for s in ss["spans"]:
                assert HEX32.match(s["traceId"]), s["traceId"]
                assert HEX16.match(s["spanId"]), s["spanId"]
                assert s.get("parentSpanId", "") == "" or HEX16.match(s["parentSpanId"])
                assert isinstance(s["name"], str) and s["name"]
                start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
                assert 0 < start <= end
                assert s.get("kind", 0) in range(6)
                assert s.get("status", {}).get("code", 0) in (0, 1)  # no span failed
                spans.append({**s, "_attrs": _attrs(s)})
    return spans


def test_every_fixture_is_expected() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted({*EXPECT, *OTHER_FIXTURES})


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_fixture(name: str) -> None:
    spans = _spans(json.loads((FIXTURES / f"{name}.json").read_text()))
    # one trace, every parent inside it, exactly one root
    assert len({s["traceId"] for s in spans}) == 1
    ids = {s["spanId"] for s in spans}
    assert len(ids) == len(spans)
    roots = [s for s in spans if not s.get("parentSpanId")]
    assert len(roots) == 1
    assert all(s["parentSpanId"] in ids for s in spans if s.get("parentSpanId"))

    inp, out, cache, reasoning, model_key, n_usage = EXPECT[name]
    usage = [s for s in spans if inp in s["_attrs"]]
    assert len(usage) == n_usage, [s["name"] for s in usage]
    for s in usage:
        a = s["_attrs"]
        assert a[inp] == harness.PROMPT_TOKENS
        assert a[out] == harness.COMPLETION_TOKENS
        if cache:
            assert a[cache] == harness.CACHED_TOKENS
        if reasoning:
            assert a[reasoning] == harness.REASONING_TOKENS
    modelled = [s for s in spans if s["_attrs"].get(model_key) == harness.MODEL]
    assert len(modelled) == MODEL_SPANS.get(name, n_usage), [s["name"] for s in modelled]
    # no instrumentation reports a cost: the receiver must price these from list prices
    assert not any("cost" in k for s in spans for k in s["_attrs"])


def test_capture_span_carries_identity() -> None:
    """Every Python fixture was recorded inside userspan.capture: its root is the capture span."""
    for name in sorted({*EXPECT, *OTHER_FIXTURES}):
        if name.startswith("vercel-ai"):
            continue
        spans = _spans(json.loads((FIXTURES / f"{name}.json").read_text()))
        root = next(s for s in spans if not s.get("parentSpanId"))
        assert root["name"] == "chat-turn" and root["_attrs"]["user.id"] == "user-123", name
        assert root["_attrs"]["session.id"] == "session-abc", name


def test_langfuse_usage_details_is_openai_usage_json() -> None:
    spans = _spans(json.loads((FIXTURES / "langfuse-openai.json").read_text()))
    gen = [s for s in spans if "langfuse.observation.usage_details" in s["_attrs"]]
    assert len(gen) == 1
    a = gen[0]["_attrs"]
    assert a["langfuse.observation.model.name"] == harness.MODEL
    assert json.loads(a["langfuse.observation.usage_details"]) == harness.USAGE


def test_protobuf_to_otlp_json_ids_are_hex() -> None:
    """The sink's protobuf → OTLP JSON conversion (used for the Python exporters) writes hex ids."""
    from_pb = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    req = from_pb.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(16))
    span.span_id = bytes(range(8))
    span.parent_span_id = bytes(range(8, 16))
    span.kind = 3
    out = harness.pb_to_otlp_json(req.SerializeToString())
    s = out["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert s["traceId"] == "000102030405060708090a0b0c0d0e0f"
    assert s["spanId"] == "0001020304050607"
    assert s["parentSpanId"] == "08090a0b0c0d0e0f"
    assert s["kind"] == 3
