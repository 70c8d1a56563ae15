"""Bad input policy: programming errors raise at the call (before fn runs) naming the field;
data-dependent problems (over-long values) are truncated and counted, never raised.

Calls marked ``# type: ignore[...]`` pass a wrong type or argument on purpose: the error they raise
at run time is what the test checks."""

from __future__ import annotations

from typing import Any

import pytest

import userspan

from .conftest import CODES


def called_list() -> list[bool]:
    return []


@pytest.mark.parametrize(
    ("options", "cls", "kind", "field", "builtin"),
    [
        ({"userId": "u"}, userspan.UserspanTypeError, "unknown_option", "userId", TypeError),
        ({"user_id": 42}, userspan.UserspanTypeError, "type", "user_id", TypeError),
        ({"user_id": True}, userspan.UserspanTypeError, "type", "user_id", TypeError),
        ({"session_id": b"bytes"}, userspan.UserspanTypeError, "type", "session_id", TypeError),
        ({"tags": "one-tag"}, userspan.UserspanTypeError, "type", "tags", TypeError),
        ({"tags": ["a", None, 3]}, userspan.UserspanTypeError, "type", "tags[1]", TypeError),
        ({"metadata": ["not", "a", "dict"]}, userspan.UserspanTypeError, "type", "metadata", TypeError),
        ({"user_metadata": {"when": object()}}, userspan.UserspanTypeError, "type", "user_metadata.when", TypeError),
        ({"attributes": {"k": {"nested": 1}}}, userspan.UserspanTypeError, "type", "attributes.k", TypeError),
        (
            {"user_id": "u", "user_id_type": "phone-number"},
            userspan.UserspanValueError,
            "value",
            "user_id_type",
            ValueError,
        ),
        ({"user_id_type": "EMAIL"}, userspan.UserspanValueError, "value", "user_id_type", ValueError),
    ],
)
def test_bad_options_raise_before_fn_runs(
    spans: Any, options: dict[str, Any], cls: type, kind: str, field: str, builtin: type
) -> None:
    called: list[bool] = []
    with pytest.raises(cls) as info:
        userspan.capture("never", lambda: called.append(True), options)
    err = info.value
    assert isinstance(err, userspan.UserspanError) and isinstance(err, builtin)
    assert err.kind == kind and err.field == field
    assert err.code == CODES[kind]
    assert f"`{field}`" in str(err)
    assert called == []
    assert spans.all() == []


def test_every_kind_has_the_cores_code() -> None:
    raised: dict[str, userspan.UserspanError] = {}
    for kind, call in [
        ("type", lambda: userspan.capture("x", lambda: None, {"user_id": 1})),
        ("unknown_option", lambda: userspan.using_attributes(user=1)),
        ("value", lambda: userspan.init(exporter="file")),
        ("config", lambda: userspan.init(endpoint="ftp://example")),
    ]:
        with pytest.raises(userspan.UserspanError) as info:
            call()
        raised[kind] = info.value
    assert {kind: e.code for kind, e in raised.items()} == CODES
    assert {kind: e.kind for kind, e in raised.items()} == {kind: kind for kind in CODES}
    assert isinstance(raised["config"], userspan.ConfigError)
    # Set on each raised instance; the classes themselves carry None.
    assert userspan.UserspanError.code is None and userspan.UserspanError("by hand").code is None


def test_host_side_checks_raise_with_the_cores_code_and_message(spans: Any) -> None:
    # capture(name, fn, options) with an fn that is not callable: checked in Python, raised as the
    # core's InvalidType error.
    with pytest.raises(userspan.UserspanTypeError) as info:
        userspan.capture("x", {"user_id": "u"}, {"session_id": "s"})  # type: ignore[call-overload]
    err = info.value
    assert (err.code, err.kind, err.field) == ("USERSPAN_INVALID_TYPE", "type", "fn")
    assert str(err) == "userspan: `fn` must be a callable, got an object of type dict"
    assert spans.all() == []


def test_error_messages_say_what_is_allowed() -> None:
    with pytest.raises(userspan.UserspanTypeError) as info:
        userspan.capture("x", lambda: None, {"user": "u"})
    assert "user_id, user_email, user_id_type" in str(info.value)
    with pytest.raises(userspan.UserspanValueError) as value_info:
        userspan.capture("x", lambda: None, {"user_id_type": "name"})
    assert '"email", "phone", "uuid", "custom"' in str(value_info.value)


def test_options_must_be_a_mapping() -> None:
    with pytest.raises(userspan.UserspanTypeError) as info:
        userspan.capture("x", lambda: None, ["user_id", "u"])  # type: ignore[call-overload]
    assert info.value.field == "options" and info.value.code == "USERSPAN_INVALID_TYPE"
    assert str(info.value).startswith("userspan: `options` must be a mapping")


def test_any_mapping_is_accepted(spans: Any) -> None:
    from types import MappingProxyType

    userspan.capture("m", lambda: None, MappingProxyType({"user_id": "u"}))
    assert spans.named("m")["attributes"] == {"user.id": "u"}


def test_scope_helpers_validate_at_construction() -> None:
    with pytest.raises(userspan.UserspanTypeError) as info:
        userspan.using_attributes(user=1)
    assert info.value.kind == "unknown_option"
    with pytest.raises(userspan.UserspanTypeError):
        userspan.using_session(123)  # type: ignore[arg-type]
    with pytest.raises(userspan.UserspanValueError):
        userspan.using_user("u", user_id_type="nickname")
    with pytest.raises(userspan.UserspanTypeError):
        userspan.capture.start("s", {"tags": [1]})


def test_over_long_values_are_truncated_and_counted(spans: Any) -> None:
    before = userspan.stats()["values_truncated"]
    long_id = "x" * 1000
    assert userspan.capture("long", lambda: "ran", {"user_id": long_id, "session_id": "é" * 300}) == "ran"
    attrs = spans.named("long")["attributes"]
    assert attrs["user.id"] == "x" * 256
    assert attrs["session.id"] == "é" * 256  # characters, not bytes
    assert userspan.stats()["values_truncated"] - before == 2


def test_over_long_metadata_is_truncated_and_counted(spans: Any) -> None:
    before = userspan.stats()["values_truncated"]
    userspan.capture("meta", lambda: None, {"metadata": {f"k{i}": "v" * 100 for i in range(100)}})
    text = spans.named("meta")["attributes"]["metadata"]
    assert len(text.encode()) <= 4096 and '"_truncated":true' in text
    assert userspan.stats()["values_truncated"] - before == 1


def test_stats_shape(spans: Any) -> None:
    before = userspan.stats()
    userspan.capture("s", lambda: None)
    after = userspan.stats()
    assert set(after) == {
        "spans_started",
        "spans_exported",
        "spans_dropped",
        "export_errors",
        "values_truncated",
        "feedback_sent",
        "feedback_dropped",
        "feedback_comments_truncated",
    }
    assert after["spans_started"] == before["spans_started"] + 1
    assert after["spans_exported"] == before["spans_exported"] + 1


def test_init_errors() -> None:
    with pytest.raises(userspan.UserspanValueError) as info:
        userspan.init(exporter="file")
    assert info.value.field == "exporter" and info.value.kind == "value"
    assert info.value.code == "USERSPAN_INVALID_VALUE"
    with pytest.raises(userspan.ConfigError) as cfg:
        userspan.init(endpoint="ftp://example")
    assert isinstance(cfg.value, ValueError) and cfg.value.kind == "config" and cfg.value.field is None
    assert cfg.value.code == "USERSPAN_CONFIG"
    with pytest.raises(userspan.UserspanTypeError) as typ:
        userspan.init(max_queue_size="big")  # type: ignore[arg-type]
    assert typ.value.field == "max_queue_size" and typ.value.code == "USERSPAN_INVALID_TYPE"
    with pytest.raises(TypeError):
        userspan.init(exporterr="memory")  # type: ignore[call-arg]


def test_init_error_leaves_the_running_pipeline(spans: Any) -> None:
    with pytest.raises(userspan.UserspanError):
        userspan.init(user_id_hashing="sometimes")
    userspan.capture("still", lambda: None)
    assert spans.names() == ["still"]


def test_a_fourth_positional_argument_is_a_type_error_before_fn_runs(spans: Any) -> None:
    ran = []
    with pytest.raises(TypeError, match="at most 3 positional arguments"):
        userspan.capture("x", lambda *a: ran.append(a), None, (1,))  # type: ignore[call-overload]
    assert ran == [] and spans.all() == []
