"""The OpenTelemetry SDK's standard variables through the core, from Python: ``OTEL_SDK_DISABLED``,
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`` and
``OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT``, ``USERSPAN_COMPAT``; and the matching ``init`` options
(``disabled``, ``sampler``, ``sampler_arg``, ``resource_attributes``, ``compression``, ``compat``).
A bad value is a ``ConfigError`` naming the variable and what is allowed.

The variables are set in this process (``monkeypatch``; the core reads the process environment at
``init``) or, for what prints on stdout, in a child process. Names and meanings:
https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and
https://opentelemetry.io/docs/specs/otel/protocol/exporter/
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

import userspan

from .conftest import PYTHON, python_env
from .otlp_sink import PROTOCOL, Pki, Silent, Sink, export_in_child, first


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No OTEL_* / USERSPAN_* variable from the caller's shell; the pipeline stopped afterwards."""
    for k in list(os.environ):
        if k.startswith(("OTEL_", "USERSPAN_")) and k != "USERSPAN_TEST_NO_OTEL":
            monkeypatch.delenv(k)
    yield monkeypatch
    userspan.shutdown(5)


def config_error(**options: Any) -> str:
    with pytest.raises(userspan.ConfigError) as e:
        userspan.init(**options)
    assert e.value.code == "USERSPAN_CONFIG"
    return str(e.value)


def turns(n: int) -> int:
    """``n`` root captures; returns how many spans the memory exporter kept."""
    userspan.clear_finished_spans()
    for i in range(n):
        assert userspan.capture(f"turn-{i}", lambda i=i: i, {"user_id": f"u-{i}"}) == i
    return len(userspan.get_finished_spans())


# --- OTEL_SDK_DISABLED ------------------------------------------------------------------------


def test_otel_sdk_disabled_runs_captures_and_records_nothing(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_SDK_DISABLED", "TRUE")  # the spec's booleans are case-insensitive
    userspan.init(exporter="memory")
    before = userspan.stats()
    assert userspan.capture("disabled", lambda: "the result", {"user_id": "u-1"}) == "the result"
    with pytest.raises(ZeroDivisionError):
        userspan.capture("disabled-error", lambda: 1 // 0, {"user_id": "u-1"})

    @userspan.capture("decorated", {"user_id": "u-2"})
    def decorated(x: int) -> int:
        return x * 2

    assert decorated(21) == 42
    assert userspan.flush(5)
    assert userspan.get_finished_spans() == []
    assert userspan.stats()["spans_started"] == before["spans_started"], "nothing started"


def test_otel_sdk_disabled_sends_nothing_to_a_live_endpoint(pki: Pki, sink: Sink) -> None:
    # In a fresh process (its stats are its own): the OTLP exporter, a reachable endpoint, and
    # nothing sent or counted.
    out = export_in_child(
        {"init": {"endpoint": sink.url, "scheduled_delay_ms": 20}, "name": "off", "n": 5, "options": {"user_id": "u"}},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_CERTIFICATE": pki.path("ca.pem")},
    )
    assert out["results"] == [42] * 5
    assert out["delta"] == dict.fromkeys(out["delta"], 0), out
    assert sink.requests() == [] and sink.handshake_failures == []


def test_otel_sdk_disabled_false_and_the_option(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_SDK_DISABLED", "false")
    userspan.init(exporter="memory")
    assert turns(2) == 2
    userspan.init(exporter="memory", disabled=True)
    assert turns(2) == 0
    # Code wins over the variable.
    env.setenv("OTEL_SDK_DISABLED", "true")
    userspan.init(exporter="memory", disabled=False)
    assert turns(1) == 1


def test_otel_sdk_disabled_bad_value_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_SDK_DISABLED", "yes")
    e = config_error(exporter="memory")
    assert "OTEL_SDK_DISABLED" in e and '"true", "false"' in e, e
    with pytest.raises(userspan.UserspanTypeError) as t:
        userspan.init(exporter="memory", disabled="yes")  # type: ignore[arg-type]
    assert t.value.field == "disabled"


# --- OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG --------------------------------------------


@pytest.mark.parametrize(
    ("variables", "kept"),
    [
        ({"OTEL_TRACES_SAMPLER": "always_on"}, 20),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, 0),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, 0),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, 0),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, 20),  # the argument defaults to 1.0
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.0"}, 20),
    ],
)
def test_otel_traces_sampler(env: pytest.MonkeyPatch, variables: dict[str, str], kept: int) -> None:
    for k, v in variables.items():
        env.setenv(k, v)
    userspan.init(exporter="memory")
    before = userspan.stats()
    assert turns(20) == kept
    # Per-user numbers count what is sampled in: a sampled-out span is not even counted.
    assert userspan.stats()["spans_started"] - before["spans_started"] == kept


def test_traceidratio_keeps_about_the_ratio_and_the_options(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    env.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    userspan.init(exporter="memory")
    kept = turns(600)
    assert 200 < kept < 400, f"{kept} of 600 at ratio 0.5"
    # The options win over the variables.
    userspan.init(exporter="memory", sampler="always_off")
    assert turns(10) == 0
    userspan.init(exporter="memory", sampler="traceidratio", sampler_arg=0.0)
    assert turns(10) == 0
    userspan.init(exporter="memory", sampler="traceidratio", sampler_arg=1)  # an int is a number
    assert turns(10) == 10


def test_bad_sampler_values_name_the_variable_or_option(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_TRACES_SAMPLER", "sometimes")
    e = config_error(exporter="memory")
    assert "OTEL_TRACES_SAMPLER" in e and '"parentbased_traceidratio"' in e, e
    env.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    for bad in ("half", "1.5", "-0.1"):
        env.setenv("OTEL_TRACES_SAMPLER_ARG", bad)
        e = config_error(exporter="memory")
        assert "OTEL_TRACES_SAMPLER_ARG" in e and "0.0 to 1.0" in e, (bad, e)
    env.delenv("OTEL_TRACES_SAMPLER")
    env.delenv("OTEL_TRACES_SAMPLER_ARG")
    with pytest.raises(userspan.UserspanValueError) as v:
        userspan.init(exporter="memory", sampler="sometimes")
    assert v.value.field == "sampler"
    with pytest.raises(userspan.UserspanValueError) as v:
        userspan.init(exporter="memory", sampler="traceidratio", sampler_arg=1.5)
    assert v.value.field == "sampler_arg"
    with pytest.raises(userspan.UserspanTypeError) as t:
        userspan.init(exporter="memory", sampler_arg=True)  # type: ignore[arg-type]
    assert t.value.field == "sampler_arg", "a bool is not a number here"


# --- OTEL_RESOURCE_ATTRIBUTES -----------------------------------------------------------------


def test_otel_resource_attributes_reach_the_resource(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod, team=a%20b%2Cc,service.name=from-env")
    userspan.init(exporter="memory")
    userspan.clear_finished_spans()
    userspan.capture("r", lambda: None, {"user_id": "u"})
    resource = userspan.get_finished_spans()[0]["resource"]
    assert resource["deployment.environment.name"] == "prod"
    assert resource["team"] == "a b,c", "values are percent-decoded"
    assert resource["service.name"] == "from-env"

    # The option merges over the variable (a key given in code wins); service_name wins over both.
    userspan.init(
        exporter="memory",
        service_name="support-bot",
        resource_attributes={"team": "platform", "cloud.region": "eu-west-1", "service.name": "ignored"},
    )
    userspan.clear_finished_spans()
    userspan.capture("r2", lambda: None)
    resource = userspan.get_finished_spans()[0]["resource"]
    assert resource["deployment.environment.name"] == "prod"
    assert resource["team"] == "platform" and resource["cloud.region"] == "eu-west-1"
    assert resource["service.name"] == "support-bot"


def test_bad_resource_attributes(env: pytest.MonkeyPatch) -> None:
    for bad in ("novalue", "=nokey", "k=%FF"):
        env.setenv("OTEL_RESOURCE_ATTRIBUTES", bad)
        e = config_error(exporter="memory")
        assert "OTEL_RESOURCE_ATTRIBUTES" in e, (bad, e)
    env.delenv("OTEL_RESOURCE_ATTRIBUTES")
    with pytest.raises(userspan.UserspanTypeError) as t:
        userspan.init(exporter="memory", resource_attributes={"seats": 12})  # type: ignore[dict-item]
    assert t.value.field == "resource_attributes.seats"


# --- OTEL_TRACES_EXPORTER ---------------------------------------------------------------------


def run_child(code: str, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in python_env().items() if not k.startswith(("OTEL_", "USERSPAN_"))}
    child_env.update(variables)
    return subprocess.run([PYTHON, "-c", code], env=child_env, capture_output=True, text=True, timeout=60)


CHILD = "import userspan; userspan.init(); print(userspan.capture('c', lambda: 'ran', {'user_id': 'u'}))"


def test_otel_traces_exporter_console_and_none() -> None:
    out = run_child(CHILD, {"OTEL_TRACES_EXPORTER": "console"})
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert [(x["name"], x["attributes"]["user.id"]) for x in lines] == [("c", "u")]
    assert "ran" in out.stdout.splitlines()

    # USERSPAN_EXPORTER stays, and wins.
    out = run_child(CHILD, {"OTEL_TRACES_EXPORTER": "console", "USERSPAN_EXPORTER": "none"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["ran"]

    out = run_child(CHILD, {"OTEL_TRACES_EXPORTER": "none"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["ran"]


def test_otel_traces_exporter_bad_value(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    e = config_error()
    assert "OTEL_TRACES_EXPORTER" in e and '"otlp"' in e and "zipkin" in e, e


# --- OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION --------------------------------------------------


def test_otel_exporter_otlp_compression_reaches_the_wire(env: pytest.MonkeyPatch, sink: Sink, pki: Pki) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    env.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.pem"))
    env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", PROTOCOL)
    userspan.init(sink.url, scheduled_delay_ms=20)
    userspan.capture("gz", lambda: None, {"user_id": "u-gz"})
    assert userspan.flush(10)
    r, _, span = first(sink, "/v1/traces")
    assert r.headers.get("content-encoding") == "gzip" and r.raw[:2] == b"\x1f\x8b"
    assert span["attributes"]["user.id"] == "u-gz"
    userspan.shutdown(5)

    # The traces-specific variable wins.
    env.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none")
    userspan.init(sink.url, scheduled_delay_ms=20)
    userspan.capture("plain", lambda: None)
    assert userspan.flush(10)
    last = sink.requests()[-1]
    assert "content-encoding" not in last.headers and last.spans()[0][1]["name"] == "plain"


def test_bad_compression_value_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")
    e = config_error()
    assert "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION" in e and '"gzip", "none"' in e, e
    env.delenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
    env.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")
    e = config_error()
    assert "OTEL_EXPORTER_OTLP_COMPRESSION" in e, e


# --- OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT ------------------------------------------------------


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"])
def test_otlp_timeout_bounds_an_export_to_a_server_that_never_answers(variable: str) -> None:
    silent = Silent()
    try:
        # The BSP variable says 30 s; the OTLP one, which wins, 300 ms. flush waits up to 20 s.
        out = export_in_child(
            {"init": {"endpoint": silent.url, "scheduled_delay_ms": 20}, "name": "slow", "flush": 20},
            {"OTEL_BSP_EXPORT_TIMEOUT": "30000", variable: "300"},
        )
    finally:
        silent.stop()
    assert out["results"] == [42]
    assert out["delta"]["export_errors"] >= 1 and out["delta"]["spans_dropped"] == 1, out
    assert out["flush_secs"] < 5, f"the export gave up after {out['flush_secs']:.1f} s, not about 0.3 s"


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"])
@pytest.mark.parametrize("bad", ["soon", "0", "-5", "1.5"])
def test_bad_otlp_timeout_names_the_variable(env: pytest.MonkeyPatch, variable: str, bad: str) -> None:
    env.setenv(variable, bad)
    e = config_error()
    assert variable in e and "milliseconds" in e and bad in e, e


# --- USERSPAN_COMPAT / compat -----------------------------------------------------------------


def test_compat_langfuse_from_the_variable_and_the_option(env: pytest.MonkeyPatch) -> None:
    options = {"user_id": "u-7", "session_id": "s-7", "tags": ["vip"], "metadata": {"plan": "pro", "n": 3}}
    userspan.init(exporter="memory")
    userspan.clear_finished_spans()
    userspan.capture("plain", lambda: None, options)
    assert not [k for k in userspan.get_finished_spans()[0]["attributes"] if k.startswith("langfuse.")]

    env.setenv("USERSPAN_COMPAT", "langfuse")
    userspan.init(exporter="memory")
    userspan.clear_finished_spans()
    userspan.capture("compat", lambda: None, options)
    a = userspan.get_finished_spans()[0]["attributes"]
    assert a["langfuse.user.id"] == "u-7" and a["langfuse.session.id"] == "s-7"
    assert list(a["langfuse.trace.tags"]) == ["vip"]
    assert a["langfuse.trace.metadata.plan"] == "pro" and a["langfuse.trace.metadata.n"] == "3"
    env.delenv("USERSPAN_COMPAT")

    userspan.init(exporter="memory", compat=["langfuse"])
    userspan.clear_finished_spans()
    userspan.capture("compat-option", lambda: None, options)
    assert userspan.get_finished_spans()[0]["attributes"]["langfuse.user.id"] == "u-7"

    with pytest.raises(userspan.UserspanValueError) as v:
        userspan.init(exporter="memory", compat=["datadog"])
    assert v.value.field == "compat" and '"langfuse"' in str(v.value)
    with pytest.raises(userspan.UserspanTypeError) as t:
        userspan.init(exporter="memory", compat="langfuse")
    assert t.value.field == "compat"
    env.setenv("USERSPAN_COMPAT", "datadog")
    # Like every variable: a ConfigError naming the variable, the value and what is allowed.
    with pytest.raises(userspan.ConfigError, match=r'USERSPAN_COMPAT="datadog" is not one of "langfuse"'):
        userspan.init(exporter="memory")
