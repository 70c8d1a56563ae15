"""capture(): every kind of fn, the decorator on every kind of function, manual start/end,
errors re-raised unchanged and recorded on real spans."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import userspan

OPTS = {"user_id": "u-1", "user_email": "ada@example.com", "session_id": "s-1"}
USER = {"user.id": "u-1", "user.email": "ada@example.com", "session.id": "s-1"}


class BoomError(Exception):
    pass


def assert_error_span(span: dict, exc: BaseException, type_name: str) -> None:
    assert span["status"] == {"code": "ERROR", "message": str(exc)}
    assert span["attributes"]["error.type"] == type_name
    [event] = [e for e in span["events"] if e["name"] == "exception"]
    assert event["attributes"]["exception.message"] == str(exc)
    assert event["attributes"]["exception.type"] == type_name
    assert str(exc) in event["attributes"]["exception.stacktrace"]


# --- call form ---------------------------------------------------------------------------------


def test_sync_fn_result_unchanged_and_span_stamped(spans: Any) -> None:
    marker = object()
    assert userspan.capture("turn", lambda: marker, OPTS) is marker
    turn = spans.named("turn")
    assert turn["attributes"] == USER
    assert turn["status"]["code"] == "UNSET"
    assert turn["parent_span_id"] is None
    assert len(turn["trace_id"]) == 32 and len(turn["span_id"]) == 16
    assert turn["end_time_unix_nano"] >= turn["start_time_unix_nano"] > 0


def test_children_nest_in_the_same_trace(spans: Any) -> None:
    def agent() -> str:
        assert userspan.get_attributes()["user_id"] == "u-1"
        userspan.capture("llm", lambda: None)
        return "ok"

    assert userspan.capture("turn", agent, OPTS) == "ok"
    turn, llm = spans.named("turn"), spans.named("llm")
    assert llm["parent_span_id"] == turn["span_id"]
    assert llm["trace_id"] == turn["trace_id"]
    assert llm["attributes"] == USER
    assert userspan.get_attributes() == {}


def test_no_options_and_none_options(spans: Any) -> None:
    assert userspan.capture("a", lambda: 1) == 1
    assert userspan.capture("b", lambda: 2, None) == 2
    assert userspan.capture("c", lambda: 3, {}) == 3
    assert [spans.named(n)["attributes"] for n in "abc"] == [{}, {}, {}]


def test_lambda_returning_a_coroutine(spans: Any) -> None:
    async def agent_run(msg: str) -> str:
        await asyncio.sleep(0)
        assert userspan.get_attributes()["user_id"] == "u-1"
        userspan.capture("llm", lambda: None)
        await asyncio.sleep(0.001)
        return msg.upper()

    async def main() -> str:
        return await userspan.capture("turn", lambda: agent_run("hi"), OPTS)

    assert asyncio.run(main()) == "HI"
    turn, llm = spans.named("turn"), spans.named("llm")
    assert llm["parent_span_id"] == turn["span_id"]
    # The span lasts until the coroutine settles, not until capture() returned it.
    assert turn["end_time_unix_nano"] >= llm["end_time_unix_nano"]


def test_async_def_fn(spans: Any) -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 7

    async def main() -> int:
        return await userspan.capture("a", work, OPTS)

    assert asyncio.run(main()) == 7
    assert spans.named("a")["attributes"] == USER


def test_fn_returning_a_generator_keeps_the_scope_while_iterating(spans: Any) -> None:
    def stream() -> Iterator[str]:
        for i in range(3):
            yield f"{userspan.get_attributes().get('user_id')}:{i}"
            userspan.capture(f"chunk-{i}", lambda: None)
        return

    gen = userspan.capture("stream", stream, OPTS)
    assert inspect.isgenerator(gen)
    assert "stream" not in spans.names()  # not over until exhausted
    assert userspan.get_attributes() == {}  # the scope does not leak to the consumer
    assert list(gen) == ["u-1:0", "u-1:1", "u-1:2"]
    stream_span = spans.named("stream")
    for i in range(3):
        chunk = spans.named(f"chunk-{i}")
        assert chunk["parent_span_id"] == stream_span["span_id"]
        assert chunk["attributes"] == USER


def test_generator_send_and_return_value(spans: Any) -> None:
    def echo() -> Any:
        got = yield "ready"
        while got != "stop":
            got = yield got * 2
        return "done"

    gen = userspan.capture("echo", echo)
    assert next(gen) == "ready"
    assert gen.send(2) == 4
    with pytest.raises(StopIteration) as stop:
        gen.send("stop")
    assert stop.value.value == "done"
    assert spans.named("echo")["status"]["code"] == "UNSET"


def test_fn_returning_an_async_generator(spans: Any) -> None:
    async def stream() -> AsyncIterator[str]:
        for i in range(3):
            await asyncio.sleep(0)
            yield f"{userspan.get_attributes()['user_id']}:{i}"

    async def main() -> list[str]:
        return [x async for x in userspan.capture("astream", stream, OPTS)]

    assert asyncio.run(main()) == ["u-1:0", "u-1:1", "u-1:2"]
    assert spans.named("astream")["attributes"] == USER


def test_fn_returning_an_asyncio_future_is_returned_unchanged(spans: Any) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        assert userspan.capture("fut", lambda: fut, OPTS) is fut
        assert "fut" not in spans.names()
        fut.set_result(3)
        await fut
        await asyncio.sleep(0)

    asyncio.run(main())
    assert spans.named("fut")["status"]["code"] == "UNSET"


# --- errors ------------------------------------------------------------------------------------


def test_exception_is_reraised_unchanged_and_recorded(spans: Any) -> None:
    err = BoomError("kaput")

    def fail() -> None:
        raise err

    with pytest.raises(BoomError) as info:
        userspan.capture("boom", fail, OPTS)
    assert info.value is err
    span = spans.named("boom")
    assert_error_span(span, err, f"{__name__}.BoomError")
    assert span["attributes"]["user.id"] == "u-1"


@pytest.mark.parametrize("exc", [KeyboardInterrupt("stop"), SystemExit(3), BaseException("base")])
def test_base_exceptions_are_reraised_unchanged(spans: Any, exc: BaseException) -> None:
    def fail() -> None:
        raise exc

    with pytest.raises(type(exc)) as info:
        userspan.capture("base", fail)
    assert info.value is exc
    assert spans.named("base")["status"]["code"] == "ERROR"


def test_async_exception_identity(spans: Any) -> None:
    err = BoomError("async kaput")

    async def fail() -> None:
        await asyncio.sleep(0)
        raise err

    async def main() -> None:
        await userspan.capture("aboom", fail)

    with pytest.raises(BoomError) as info:
        asyncio.run(main())
    assert info.value is err
    assert_error_span(spans.named("aboom"), err, f"{__name__}.BoomError")


def test_generator_exception_identity(spans: Any) -> None:
    err = KeyboardInterrupt("in generator")

    def gen() -> Iterator[int]:
        yield 1
        raise err

    g = userspan.capture("gboom", gen)
    assert next(g) == 1
    with pytest.raises(KeyboardInterrupt) as info:
        next(g)
    assert info.value is err
    assert spans.named("gboom")["status"] == {"code": "ERROR", "message": "in generator"}


def test_exception_thrown_into_generator_reaches_it(spans: Any) -> None:
    seen: list[BaseException] = []

    def gen() -> Iterator[int]:
        try:
            yield 1
        except BoomError as e:
            seen.append(e)
            yield 2

    g = userspan.capture("g", gen)
    next(g)
    err = BoomError("thrown")
    assert g.throw(err) == 2
    assert seen == [err] and seen[0] is err
    g.close()
    assert spans.named("g")["status"]["code"] == "UNSET"


# --- early close ---------------------------------------------------------------------------------


def no_detach_errors(caplog: Any, capfd: Any) -> None:
    out, err = capfd.readouterr()
    text = out + err + "\n".join(r.getMessage() for r in caplog.records)
    assert "Failed to detach context" not in text
    assert "Exception ignored" not in text
    assert "Traceback" not in text


def test_generator_closed_early(spans: Any, caplog: Any, capfd: Any) -> None:
    caplog.set_level(logging.DEBUG)
    finalized: list[bool] = []

    def gen() -> Iterator[int]:
        try:
            for i in range(100):
                userspan.capture(f"item-{i}", lambda: None)
                yield i
        finally:
            finalized.append(userspan.get_attributes().get("user_id") == "u-1")

    for x in userspan.capture("early", gen, OPTS):
        if x == 1:
            break
    gc.collect()
    assert finalized == [True]  # the inner finally ran inside the scope
    span = spans.named("early")
    assert span["status"]["code"] == "UNSET"  # closing early is not an error
    assert spans.named("item-1")["parent_span_id"] == span["span_id"]
    no_detach_errors(caplog, capfd)


def test_generator_closed_from_another_context(spans: Any, caplog: Any, capfd: Any) -> None:
    import contextvars

    caplog.set_level(logging.DEBUG)

    def gen() -> Iterator[int]:
        yield 1
        yield 2

    g = userspan.capture("other-ctx", gen, OPTS)
    assert next(g) == 1
    contextvars.copy_context().run(g.close)
    assert spans.named("other-ctx")["status"]["code"] == "UNSET"
    no_detach_errors(caplog, capfd)


def test_never_started_generator_still_ends_its_span(spans: Any) -> None:
    def gen() -> Iterator[int]:
        yield 1

    g = userspan.capture("unstarted", gen)
    del g
    gc.collect()
    assert spans.named("unstarted")["status"]["code"] == "UNSET"


def test_async_generator_closed_early(spans: Any, caplog: Any, capfd: Any) -> None:
    caplog.set_level(logging.DEBUG)

    async def stream() -> AsyncIterator[int]:
        for i in range(100):
            await asyncio.sleep(0)
            yield i

    async def main() -> None:
        async for x in userspan.capture("aearly", stream, OPTS):
            if x == 2:
                break
        # The loop's async-generator finalizer closes it from its own task.
        gc.collect()
        await asyncio.sleep(0.01)

    asyncio.run(main())
    gc.collect()
    span = spans.named("aearly")
    assert span["status"]["code"] == "UNSET"
    no_detach_errors(caplog, capfd)


def test_async_generator_aclose(spans: Any, caplog: Any, capfd: Any) -> None:
    caplog.set_level(logging.DEBUG)
    closed: list[bool] = []

    async def stream() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    async def main() -> None:
        agen = userspan.capture("aclose", stream)
        assert await agen.__anext__() == 1
        await asyncio.get_running_loop().create_task(agen.aclose())  # closed from another task

    asyncio.run(main())
    assert closed == [True]
    assert spans.named("aclose")["status"]["code"] == "UNSET"
    no_detach_errors(caplog, capfd)


# --- decorators --------------------------------------------------------------------------------


def test_decorator_on_def(spans: Any) -> None:
    @userspan.capture("handle", OPTS)
    def handle(x: int, *, y: int = 1) -> int:
        """Doc."""
        assert userspan.get_attributes()["session_id"] == "s-1"
        return x + y

    assert handle.__name__ == "handle" and handle.__doc__ == "Doc."
    assert handle(1, y=2) == 3
    assert handle(5) == 6
    assert [s["attributes"] for s in spans.all()] == [USER, USER]


def test_decorator_without_options_and_with_keyword(spans: Any) -> None:
    @userspan.capture("plain")
    def plain() -> str:
        return "p"

    @userspan.capture("kw", options={"user_id": "k"})
    def kw() -> str:
        return "k"

    assert plain() == "p" and kw() == "k"
    assert spans.named("plain")["attributes"] == {}
    assert spans.named("kw")["attributes"] == {"user.id": "k"}


def test_decorator_on_async_def(spans: Any) -> None:
    @userspan.capture("ahandle", OPTS)
    async def ahandle(x: int) -> int:
        await asyncio.sleep(0)
        userspan.capture("inner", lambda: None)
        return x * 2

    assert inspect.iscoroutinefunction(ahandle)
    assert asyncio.run(ahandle(4)) == 8
    assert spans.named("inner")["parent_span_id"] == spans.named("ahandle")["span_id"]


def test_decorator_on_generator_function(spans: Any) -> None:
    @userspan.capture("gen", OPTS)
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            assert userspan.get_attributes()["user_id"] == "u-1"
            yield i
        return

    assert inspect.isgeneratorfunction(numbers)
    g = numbers(3)
    assert spans.names() == []  # starts when iteration starts
    assert list(g) == [0, 1, 2]
    assert spans.named("gen")["attributes"] == USER


def test_decorator_on_async_generator_function(spans: Any) -> None:
    @userspan.capture("agen", OPTS)
    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            assert userspan.get_attributes()["user_id"] == "u-1"
            yield i

    assert inspect.isasyncgenfunction(numbers)

    async def main() -> list[int]:
        return [x async for x in numbers(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    assert spans.named("agen")["attributes"] == USER


def test_decorator_on_method(spans: Any) -> None:
    class Agent:
        def __init__(self) -> None:
            self.n = 41

        @userspan.capture("method")
        def run(self) -> int:
            return self.n + 1

    assert Agent().run() == 42
    assert spans.names() == ["method"]


def test_decorator_exception_identity(spans: Any) -> None:
    err = BoomError("decorated")

    @userspan.capture("d")
    def fail() -> None:
        raise err

    with pytest.raises(BoomError) as info:
        fail()
    assert info.value is err
    assert spans.named("d")["status"]["code"] == "ERROR"


def test_decorator_validates_options_when_decorating() -> None:
    with pytest.raises(userspan.UserspanTypeError) as info:
        userspan.capture("bad", {"user": "x"})
    assert info.value.kind == "unknown_option" and info.value.field == "user"


# --- manual start/end --------------------------------------------------------------------------


def test_manual_start_end(spans: Any) -> None:
    handle = userspan.capture.start("manual", OPTS)
    assert len(handle.trace_id) == 32 and len(handle.span_id) == 16
    assert userspan.get_attributes() == {}  # starting does not change the current context
    handle.set_attribute("gen_ai.usage.input_tokens", 12)
    handle.end()
    handle.end()  # idempotent
    span = spans.named("manual")
    assert span["attributes"] == {**USER, "gen_ai.usage.input_tokens": 12}
    assert span["span_id"] == handle.span_id


def test_manual_end_with_error(spans: Any) -> None:
    handle = userspan.capture.start("manual-err")
    err = BoomError("manual failure")
    handle.end(error=err)
    assert_error_span(spans.named("manual-err"), err, f"{__name__}.BoomError")


def test_manual_handle_as_context_manager(spans: Any) -> None:
    with userspan.capture.start("cm", OPTS) as handle:
        assert userspan.get_attributes()["user_id"] == "u-1"
        userspan.capture("child", lambda: None)
    assert spans.named("child")["parent_span_id"] == handle.span_id
    err = BoomError("in with")
    with pytest.raises(BoomError), userspan.capture.start("cm-err"):
        raise err
    assert spans.named("cm-err")["status"]["message"] == "in with"


def test_current_span_accessor(spans: Any) -> None:
    def work() -> None:
        span = userspan.get_current_span()
        assert span is not None
        span.set_attribute("gen_ai.request.model", "gpt-x")
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "helpful"})

    assert userspan.get_current_span() is None
    userspan.capture("acc", work)
    span = spans.named("acc")
    assert span["attributes"]["gen_ai.request.model"] == "gpt-x"
    assert span["events"][0]["name"] == "gen_ai.evaluation.result"
