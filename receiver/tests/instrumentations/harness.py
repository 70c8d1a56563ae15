"""Recording harness: a fake OpenAI-compatible server and an OTLP/HTTP sink, both on 127.0.0.1.

Maintainer tool behind ``scripts/record-fixtures`` (not run by ``scripts/test``). Python stdlib only,
so the Node recorder can use it too:

    python3 harness.py serve --out DIR      # prints one JSON line {"openai": URL, "otlp": URL}, runs until killed

* **Fake OpenAI** (``POST /v1/chat/completions``, ``POST /v1/responses``): answers with the shape of
  OpenAI's Chat Completions (``chat.completion`` object, or ``chat.completion.chunk`` server-sent
  events when ``stream: true``, with the final usage-only chunk when ``stream_options.include_usage``)
  and Responses API objects, always with the same usage, :data:`USAGE`. The shape follows the
  ``openai`` package's types (``openai.types.chat.ChatCompletion``, ``ChatCompletionChunk``,
  ``CompletionUsage``, ``openai.types.responses.Response``). Each request body is appended to
  ``DIR/openai-requests.jsonl`` so a recorder can check what was sent (e.g. the ``user`` field).
* **OTLP sink** (``POST /<fixture>/v1/traces``): stores each export body as received under
  ``DIR/<fixture>/NNN.<json|pb>`` (gunzipped if ``Content-Encoding: gzip``) and answers an empty
  ``ExportTraceServiceResponse`` in the request's encoding. :func:`bodies_to_otlp_json` turns the
  stored bodies of one fixture into one OTLP JSON ``ExportTraceServiceRequest``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: The model the fake server claims to be (a dated OpenAI model that genai-prices knows).
MODEL = "gpt-4o-mini-2024-07-18"
#: Fixed usage of every answer (tokens). OpenAI's ``prompt_tokens`` includes the cached ones and
#: ``completion_tokens`` includes the reasoning ones.
PROMPT_TOKENS = 1200
CACHED_TOKENS = 200
COMPLETION_TOKENS = 300
REASONING_TOKENS = 50
TOTAL_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS
SERVICE_TIER = "default"
SYSTEM_FINGERPRINT = "fp_userspan01"
REPLY = "Your order ships tomorrow."
TOOL_NAME = "get_order_status"

USAGE: dict[str, Any] = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": TOTAL_TOKENS,
    "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": REASONING_TOKENS,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

_counter = 0
_lock = threading.Lock()


def _next_id() -> int:
    global _counter
    with _lock:
        _counter += 1
        return _counter


def _wants_tool(req: dict[str, Any]) -> bool:
    """A request offering tools gets a tool call back unless it already carries a tool result."""
    if not req.get("tools"):
        return False
    msgs = req.get("messages") or req.get("input") or []
    if isinstance(msgs, list):
        for m in msgs:
            if isinstance(m, dict) and (m.get("role") == "tool" or m.get("type") == "function_call_output"):
                return False
    return True


def chat_completion(req: dict[str, Any]) -> dict[str, Any]:
    n = _next_id()
    if _wants_tool(req):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "annotations": [],
            "tool_calls": [
                {
                    "id": f"call_fake{n:04d}",
                    "type": "function",
                    "function": {"name": TOOL_NAME, "arguments": json.dumps({"order_id": "A-1001"})},
                }
            ],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": REPLY, "refusal": None, "annotations": []}
        finish = "stop"
    return {
        "id": f"chatcmpl-fake{n:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": USAGE,
        "service_tier": SERVICE_TIER,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def chat_chunks(req: dict[str, Any]) -> list[dict[str, Any]]:
    n = _next_id()
    include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": f"chatcmpl-fake{n:06d}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "service_tier": SERVICE_TIER,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: Any = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    words = REPLY.split(" ")
    for i, w in enumerate(words):
        out.append(chunk({"content": w if i == 0 else " " + w}))
    out.append(chunk({}, "stop"))
    if include_usage:
        out.append({**base, "choices": [], "usage": USAGE})
    return out


def response_object(req: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI Responses API ``response`` object (non-streaming)."""
    n = _next_id()
    return {
        "id": f"resp_fake{n:06d}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": req.get("instructions"),
        "max_output_tokens": req.get("max_output_tokens"),
        "model": MODEL,
        "output": [
            {
                "type": "message",
                "id": f"msg_fake{n:06d}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": REPLY, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": SERVICE_TIER,
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": PROMPT_TOKENS,
            "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
            "output_tokens": COMPLETION_TOKENS,
            "output_tokens_details": {"reasoning_tokens": REASONING_TOKENS},
            "total_tokens": TOTAL_TOKENS,
        },
        "user": req.get("user"),
        "metadata": {},
    }


def _make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                parts = []
                while True:  # HTTP/1.1 chunked body (Node's http client sends one)
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                raw = b"".join(parts)
            else:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                raw = gzip.decompress(raw)
            return raw

        def _send(self, status: int, ctype: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            body = self._body()
            if path.endswith("/v1/traces"):
                name = path[: -len("/v1/traces")].strip("/") or "default"
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                is_json = ctype == "application/json"
                d = out / name
                d.mkdir(parents=True, exist_ok=True)
                with _lock:
                    idx = len(list(d.iterdir()))
                    (d / f"{idx:03d}.{'json' if is_json else 'pb'}").write_bytes(body)
                if is_json:
                    self._send(200, "application/json", b"{}")
                else:
                    self._send(200, "application/x-protobuf", b"")
                return
            if path.endswith(("/chat/completions", "/responses")):
                req = json.loads(body or b"{}")
                with _lock, open(out / "openai-requests.jsonl", "a") as f:
                    f.write(json.dumps({"path": path, "body": req}) + "\n")
                if path.endswith("/responses"):
                    self._send(200, "application/json", json.dumps(response_object(req)).encode())
                    return
                if req.get("stream"):
                    data = (
                        b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chat_chunks(req))
                        + b"data: [DONE]\n\n"
                    )
                    self._send(200, "text/event-stream", data)
                    return
                self._send(200, "application/json", json.dumps(chat_completion(req)).encode())
                return
            self._send(404, "application/json", b'{"error":{"message":"not found"}}')

    return Handler


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def _fix_ids(obj: Any) -> Any:
    """proto3 JSON → OTLP JSON: trace/span ids are hex, not base64 (OTLP spec, "JSON Protobuf Encoding")."""
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                obj[k] = _hex(v)
            else:
                _fix_ids(v)
    elif isinstance(obj, list):
        for v in obj:
            _fix_ids(v)
    return obj


def pb_to_otlp_json(data: bytes) -> dict[str, Any]:
    """Decode an ``ExportTraceServiceRequest`` protobuf into the OTLP JSON encoding (lowerCamelCase
    field names, enums as integers, hex ids; int64 as decimal strings, which OTLP JSON allows)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    msg = ExportTraceServiceRequest()
    msg.ParseFromString(data)
    return _fix_ids(MessageToDict(msg, use_integers_for_enums=True))


def bodies_to_otlp_json(d: Path) -> dict[str, Any]:
    """All bodies stored for one fixture, in arrival order, as one ``ExportTraceServiceRequest``
    (the ``resourceSpans`` of each body, concatenated; nothing else changed)."""
    resource_spans: list[Any] = []
    for f in sorted(d.iterdir()):
        req = json.loads(f.read_bytes()) if f.suffix == ".json" else pb_to_otlp_json(f.read_bytes())
        resource_spans.extend(req.get("resourceSpans", []))
    return {"resourceSpans": resource_spans}


def serve(out: Path) -> ThreadingHTTPServer:
    out.mkdir(parents=True, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(out))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--out", required=True, type=Path)
    c = sub.add_parser("collect", help="write one fixture from the bodies stored for it")
    c.add_argument("--dir", required=True, type=Path)
    c.add_argument("--to", required=True, type=Path)
    a = ap.parse_args()
    if a.cmd == "serve":
        srv = serve(a.out)
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        print(json.dumps({"openai": base + "/v1", "otlp": base}), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    else:
        doc = bodies_to_otlp_json(a.dir)
        if not doc["resourceSpans"]:
            sys.exit(f"no spans stored in {a.dir}")
        a.to.write_text(json.dumps(doc, indent=2) + "\n")
        spans = sum(len(s.get("spans", [])) for r in doc["resourceSpans"] for s in r.get("scopeSpans", []))
        print(f"wrote {a.to} ({spans} spans)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
