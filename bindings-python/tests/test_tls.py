"""OTLP/HTTP over TLS from Python to a real HTTPS sink started here with a test CA made here
(``otlp_sink``): export succeeds when the CA is trusted (``certificate=``, or the standard
variables), fails without it (counted in ``stats()``, never raised, the app unaffected), an mTLS
sink requires the client certificate, gzip is sent when asked, bad files are configuration errors
at ``init``, and the Langfuse recipe of ``docs/recipes.md`` sends what Langfuse checks.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import userspan

from .conftest import PYTHON, python_env
from .otlp_sink import PROTOCOL, PROTOCOLS, Pki, Sink, export_in_child, first


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* / USERSPAN_* variable from the caller's shell; the pipeline stopped afterwards."""
    for k in list(os.environ):
        if k.startswith(("OTEL_", "USERSPAN_")) and k != "USERSPAN_TEST_NO_OTEL":
            monkeypatch.delenv(k)
    yield
    userspan.shutdown(5)


@pytest.fixture
def mtls_sink(pki: Pki) -> Iterator[Sink]:
    s = Sink(pki, require_client_cert=True)
    yield s
    s.stop()


def export(url: str, name: str, n: int = 1, as_path: tuple[str, ...] = (), **options: Any) -> dict[str, Any]:
    """``n`` captures of ``name`` then a flush, in a fresh process exporting to ``url`` with
    ``options`` (see ``otlp_sink.export_in_child``): its ``stats()`` are its own, so exact counter
    deltas hold whatever other tests left exporting in this process."""
    init = {
        "endpoint": url,
        "service_name": "tls-bot",
        "scheduled_delay_ms": 20,
        "export_timeout_ms": 2000,
        "protocol": PROTOCOL,
        **options,
    }
    identity = {"user_id": "ada@example.com", "session_id": "conv-7", "tags": ["vip"]}
    spec = {"init": init, "as_path": list(as_path), "name": name, "n": n, "options": identity, "flush": 20}
    return export_in_child(spec)


def test_export_over_tls_succeeds_when_the_ca_is_trusted(sink: Sink, pki: Pki) -> None:
    out = export(sink.url, "tls-turn", certificate=pki.path("ca.pem"), as_path=("certificate",))  # os.PathLike
    assert out["results"] == [42]
    assert out["flushed"] is True
    assert out["delta"]["spans_exported"] == 1, out
    assert out["delta"]["export_errors"] == 0 and out["delta"]["spans_dropped"] == 0, out
    r, resource, span = first(sink, "/v1/traces")
    assert "content-encoding" not in r.headers, "no compression unless asked"
    assert span["name"] == "tls-turn"
    assert resource["service.name"] == "tls-bot"
    assert span["attributes"]["user.id"] == "ada@example.com"
    assert span["attributes"]["session.id"] == "conv-7"
    assert span["attributes"]["tag.tags"] == ["vip"]
    assert sink.handshake_failures == []


@pytest.mark.parametrize("trusted", ["default roots", "another CA"])
def test_an_untrusted_server_is_a_counted_export_error_and_the_app_goes_on(sink: Sink, pki: Pki, trusted: str) -> None:
    # Neither the default roots (the platform's and Mozilla's) nor another CA's bundle include the
    # test CA.
    options = {} if trusted == "default roots" else {"certificate": pki.path("other-ca.pem")}
    out = export(sink.url, "untrusted", n=10, **options)
    assert out["results"] == [42] * 10, "captures run and return their results"
    assert out["capture_secs"] < 1, "capture never waits on export"
    assert out["delta"]["export_errors"] >= 1, out
    assert out["delta"]["spans_dropped"] == 10, out
    assert out["delta"]["spans_exported"] == 0, out
    assert "exporting spans failed" in out["stderr"], "warned about (once), not raised"
    assert sink.requests() == [], "no request got past the handshake"
    assert sink.handshake_failures, "the client reached the sink and the handshake failed"


def test_an_mtls_sink_requires_the_client_certificate(mtls_sink: Sink, pki: Pki) -> None:
    # Without a client certificate: the sink refuses the handshake; counted.
    out = export(mtls_sink.url, "no-client-cert", certificate=pki.path("ca.pem"))
    assert out["results"] == [42]
    assert out["delta"]["export_errors"] >= 1 and out["delta"]["spans_dropped"] == 1, out
    assert out["delta"]["spans_exported"] == 0, out
    assert mtls_sink.requests() == []
    assert mtls_sink.handshake_failures

    # With it.
    out = export(
        mtls_sink.url,
        "client-cert",
        certificate=pki.path("ca.pem"),
        client_certificate=pki.path("client.pem"),
        client_key=pki.path("client.key"),
        as_path=("client_key",),
    )
    assert out["delta"]["spans_exported"] == 1 and out["delta"]["export_errors"] == 0, out
    _, _, span = first(mtls_sink, "/v1/traces")
    assert span["name"] == "client-cert" and span["attributes"]["user.id"] == "ada@example.com"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_gzip_over_tls_when_asked(sink: Sink, pki: Pki, protocol: str) -> None:
    out = export(sink.url, "gzipped", certificate=pki.path("ca.pem"), compression="gzip", protocol=protocol)
    assert out["delta"]["spans_exported"] == 1, out
    r, _, span = first(sink)
    assert r.headers.get("content-encoding") == "gzip"
    assert r.raw[:2] == b"\x1f\x8b", "the body is a gzip stream"
    assert r.is_json() == (protocol == "http/json")
    assert span["name"] == "gzipped" and span["attributes"]["user.id"] == "ada@example.com"


@pytest.mark.parametrize(
    "tls_env",
    [
        {
            # The traces-specific CA (the one that signed the sink) wins over the generic one.
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "other-ca.pem",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "ca.pem",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "client.pem",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "client.key",
        },
        {
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "ca.pem",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "client.pem",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": "client.key",
        },
    ],
    ids=["traces-ca-wins", "generic-ca"],
)
def test_the_standard_variables_alone_configure_tls_and_mtls(
    mtls_sink: Sink, pki: Pki, tls_env: dict[str, str]
) -> None:
    # A process configured only through the environment, as a deployment does, each file from a
    # generic or a traces-specific variable.
    code = """
        import userspan
        userspan.init(scheduled_delay_ms=20)
        print(userspan.capture("env-tls", lambda: "ran", {"user_id": "u-env"}))
        print(userspan.flush(10), userspan.stats()["spans_exported"], userspan.stats()["export_errors"])
    """
    env = python_env()
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": mtls_sink.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": PROTOCOL,
            **{k: pki.path(v) for k, v in tls_env.items()},
        }
    )
    out = subprocess.run([PYTHON, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ran", "True", "1", "0"], out.stdout + out.stderr
    _, _, span = first(mtls_sink, "/v1/traces")
    assert span["name"] == "env-tls" and span["attributes"]["user.id"] == "u-env"


def test_bad_tls_files_are_configuration_errors_naming_the_option_or_variable_and_the_path(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://127.0.0.1:1"
    missing = pki.path("missing.pem")
    with pytest.raises(userspan.ConfigError, match="option certificate") as e:
        userspan.init(url, certificate=missing)
    assert missing in str(e.value) and e.value.code == "USERSPAN_CONFIG"

    not_pem = pki.path("not-pem.txt")
    pathlib.Path(not_pem).write_text("hello, this is not PEM\n")
    with pytest.raises(userspan.ConfigError, match="option certificate") as e:
        userspan.init(url, certificate=not_pem)
    assert not_pem in str(e.value)

    with pytest.raises(userspan.ConfigError, match="no client key"):
        userspan.init(url, client_certificate=pki.path("client.pem"))

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", missing)
    with pytest.raises(userspan.ConfigError, match="OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE") as e:
        userspan.init(url)
    assert missing in str(e.value)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client.key"))
    with pytest.raises(userspan.ConfigError) as e:
        userspan.init(url)
    assert "OTEL_EXPORTER_OTLP_CLIENT_KEY" in str(e.value) and "no client certificate" in str(e.value), e.value
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_CLIENT_KEY")

    # The files matter only to the OTLP exporter: the memory exporter does not read them.
    userspan.init(url, certificate=missing, exporter="memory")


def test_tls_options_have_their_types_checked() -> None:
    with pytest.raises(userspan.UserspanTypeError) as e:
        userspan.init(certificate=42)  # type: ignore[arg-type]
    assert e.value.field == "certificate"
    with pytest.raises(userspan.UserspanValueError) as v:
        userspan.init(compression="brotli")
    assert v.value.field == "compression" and '"gzip"' in str(v.value)


def test_langfuse_recipe_basic_auth_on_the_otel_path_with_its_own_keys(sink: Sink, pki: Pki) -> None:
    # docs/recipes.md, Langfuse: base URL .../api/public/otel, Basic auth of "<public>:<secret>",
    # x-langfuse-ingestion-version: 4, compat=["langfuse"] for the keys Langfuse reads.
    pk, sk = "pk-lf-1234", "sk-lf-5678"
    auth = base64.b64encode(f"{pk}:{sk}".encode()).decode()
    userspan.init(
        f"{sink.url}/api/public/otel",
        headers={"Authorization": f"Basic {auth}", "x-langfuse-ingestion-version": "4"},
        compat=["langfuse"],
        certificate=pki.path("ca.pem"),
        scheduled_delay_ms=20,
        protocol=PROTOCOL,  # Langfuse takes both; protobuf (the default) when this run can decode it
    )
    userspan.capture(
        "support-agent-turn",
        lambda: None,
        {
            "user_id": "user-42",
            "session_id": "conv-7",
            "tags": ["vip", "beta"],
            "metadata": {"plan": "pro", "seats": 12},
        },
    )
    assert userspan.flush(10)
    r, _, span = first(sink, "/api/public/otel/v1/traces")
    assert r.headers["authorization"] == "Basic cGstbGYtMTIzNDpzay1sZi01Njc4"  # base64("pk-lf-1234:sk-lf-5678")
    assert r.headers["x-langfuse-ingestion-version"] == "4"
    assert r.headers["content-type"] == (
        "application/x-protobuf" if PROTOCOL == "http/protobuf" else "application/json"
    )
    a = span["attributes"]
    assert a["user.id"] == "user-42" and a["session.id"] == "conv-7"
    assert a["langfuse.user.id"] == "user-42" and a["langfuse.session.id"] == "conv-7"
    assert a["tag.tags"] == ["vip", "beta"] and a["langfuse.trace.tags"] == ["vip", "beta"]
    assert json.loads(a["metadata"]) == {"plan": "pro", "seats": 12}
    assert a["langfuse.trace.metadata.plan"] == "pro"
    assert a["langfuse.trace.metadata.seats"] == "12"
