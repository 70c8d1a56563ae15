"""A real OTLP/HTTP sink over TLS for the tests, with a test CA made here.

``Pki`` makes (with ``trustme``) a CA, a server certificate for ``127.0.0.1`` / ``localhost``, a
client certificate, and a second CA that signed nothing here, all written as PEM files. ``Sink``
serves HTTPS on 127.0.0.1 (``http.server.ThreadingHTTPServer``, the TLS handshake done per
connection with an ``ssl.SSLContext``; ``verify_mode=CERT_REQUIRED`` for mTLS), keeps every
request (path, headers, body as sent and gunzipped) and every failed handshake, and answers as an
OTLP back end does. ``Request.decode()`` gives the OTLP request as the OTLP/JSON dict shape
(camelCase, ``{"stringValue": ...}``), from protobuf (``opentelemetry-proto``) or JSON.

OTLP/HTTP: https://opentelemetry.io/docs/specs/otlp/#otlphttp
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import socket
import ssl
import threading
from typing import Any, Optional

import trustme

try:  # blocked in the suite's second pass (USERSPAN_TEST_NO_OTEL=1): JSON only then
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    HAVE_PROTO = True
except ModuleNotFoundError:
    HAVE_PROTO = False

#: The protocols the sink can decode in this run.
PROTOCOLS = ["http/protobuf", "http/json"] if HAVE_PROTO else ["http/json"]
#: The protocol tests use when they do not care: protobuf (the default) when it can be decoded.
PROTOCOL = PROTOCOLS[0]


class Pki:
    """The test CA and certificates, as PEM files in ``dir``: ``ca.pem``, ``server.pem`` (chain
    and key), ``client.pem``, ``client.key``, ``other-ca.pem`` (a CA that signed nothing here)."""

    def __init__(self, dir: str) -> None:
        self.dir = dir
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client = self.ca.issue_cert("userspan-test-client@example.com")
        self.ca.cert_pem.write_to_path(self.path("ca.pem"))
        trustme.CA().cert_pem.write_to_path(self.path("other-ca.pem"))
        with open(self.path("client.pem"), "wb") as f:
            for blob in self.client.cert_chain_pems:
                f.write(blob.bytes())
        self.client.private_key_pem.write_to_path(self.path("client.key"))

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def server_context(self, require_client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(ctx)
        ctx.set_alpn_protocols(["http/1.1"])
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(ctx)
        return ctx


class Request:
    """One request the sink received."""

    def __init__(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> None:
        self.method = method
        self.path = path
        #: Header names lower-cased.
        self.headers = headers
        #: The body as sent (compressed if it was).
        self.raw = raw
        #: The body, gunzipped when ``Content-Encoding: gzip``.
        self.body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw

    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")

    def decode(self) -> dict[str, Any]:
        """The ExportTraceServiceRequest in the OTLP/JSON shape."""
        if self.is_json():
            return dict(json.loads(self.body))
        assert self.headers.get("content-type") == "application/x-protobuf", self.headers
        assert HAVE_PROTO, "a protobuf request in a run that cannot decode protobuf"
        msg = ExportTraceServiceRequest()
        msg.ParseFromString(self.body)
        return dict(MessageToDict(msg))

    def spans(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every span as ``(resource attributes, span)`` with attributes as plain values."""
        out = []
        for rs in self.decode().get("resourceSpans", []):
            resource = attrs(rs.get("resource", {}).get("attributes", []))
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    out.append((resource, {**span, "attributes": attrs(span.get("attributes", []))}))
        return out


def value(v: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a plain value (``intValue`` is a string in OTLP/JSON)."""
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [value(x) for x in v["arrayValue"].get("values", [])]
    raise AssertionError(f"unexpected AnyValue {v!r}")


def attrs(kvs: list[dict[str, Any]]) -> dict[str, Any]:
    return {kv["key"]: value(kv.get("value", {})) for kv in kvs}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ctx: ssl.SSLContext, sink: Sink) -> None:
        self.ctx = ctx
        self.sink = sink
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake in the connection's own thread; a refused one is kept, not raised.
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.sink.lock:
                self.sink.handshake_failures.append(repr(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request("POST", self.path, headers, raw)
        with self.server.sink.lock:
            self.server.sink._requests.append(req)
        body, ctype = (b"{}", "application/json") if req.is_json() else (b"", "application/x-protobuf")
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Sink:
    """A running OTLP/HTTPS sink on 127.0.0.1 (ephemeral port); ``url`` is ``https://127.0.0.1:<port>``."""

    def __init__(self, pki: Pki, require_client_cert: bool = False) -> None:
        self.lock = threading.Lock()
        self._requests: list[Request] = []
        self.handshake_failures: list[str] = []
        self._server = _Server(pki.server_context(require_client_cert), self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def requests(self) -> list[Request]:
        with self.lock:
            return list(self._requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Silent:
    """A plain TCP listener that accepts connections and never answers (for export timeouts);
    ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._stop = False
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self._held.append(conn)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(5)
        for c in self._held:
            c.close()
        self._sock.close()


def first(sink: Sink, path: Optional[str] = None) -> tuple[Request, dict[str, Any], dict[str, Any]]:
    """The sink's one request, its one span's resource attributes and the span."""
    requests = sink.requests()
    assert len(requests) == 1, [r.path for r in requests]
    r = requests[0]
    assert r.method == "POST"
    if path is not None:
        assert r.path == path
    spans = r.spans()
    assert len(spans) == 1, spans
    resource, span = spans[0]
    return r, resource, span


#: The app of :func:`export_in_child`: ``init(**spec["init"])`` (``spec["as_path"]`` names options
#: passed as ``pathlib.Path``), ``spec["n"]`` captures of ``spec["name"]`` with ``spec["options"]``
#: each returning 42, then ``flush(spec["flush"])``; prints what happened as JSON.
_CHILD = """
import json, pathlib, sys, time
import userspan

spec = json.loads(sys.argv[1])
options = dict(spec["init"])
for k in spec.get("as_path", []):
    options[k] = pathlib.Path(options[k])
userspan.init(**options)
before = userspan.stats()
started = time.monotonic()
results = [userspan.capture(spec["name"], lambda: 42, spec.get("options")) for _ in range(spec.get("n", 1))]
capture_secs = time.monotonic() - started
started = time.monotonic()
flushed = userspan.flush(spec.get("flush", 10))
flush_secs = time.monotonic() - started
after = userspan.stats()
print(json.dumps({"results": results, "capture_secs": capture_secs, "flushed": flushed, "flush_secs": flush_secs,
                  "before": before, "after": after}))
"""


def export_in_child(spec: dict[str, Any], env: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Runs the capture-and-flush app of ``_CHILD`` in a fresh Python process (its ``stats()`` are
    its own: no other test's background export can touch them), with no OTEL_* / USERSPAN_*
    variable but ``env``. Returns the app's report plus ``delta`` (after minus before, per
    counter) and ``stderr``."""
    import subprocess
    import sys

    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "USERSPAN_"))}
    child_env.pop("PYTHONPATH", None)
    child_env.update(env or {})
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)], env=child_env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    report["delta"] = {k: report["after"][k] - report["before"][k] for k in report["after"]}
    report["stderr"] = out.stderr
    return report
