"""Attribute scopes in Python terms: contextvars rules for asyncio tasks and threads, the thread
helper, using_* helpers, nesting and restoring."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import userspan


def test_using_attributes_stamps_spans_and_restores(spans: Any) -> None:
    with userspan.using_attributes(user_id="u-a", session_id="s-a", tags=["x"], metadata={"k": 1}):
        userspan.capture("one", lambda: None)
        with userspan.using_attributes(user_id="u-b", tags=["y", "x"], metadata={"j": 2}):
            assert userspan.get_attributes() == {
                "user_id": "u-b",
                "session_id": "s-a",
                "tags": ["x", "y"],
                "metadata": {"j": 2, "k": 1},
            }
            userspan.capture("two", lambda: None)
        assert userspan.get_attributes() == {"user_id": "u-a", "session_id": "s-a", "tags": ["x"], "metadata": {"k": 1}}
    assert userspan.get_attributes() == {}
    assert spans.named("one")["attributes"] == {
        "user.id": "u-a",
        "session.id": "s-a",
        "tag.tags": ["x"],
        "metadata": '{"k":1}',
    }
    assert spans.named("two")["attributes"] == {
        "user.id": "u-b",
        "session.id": "s-a",
        "tag.tags": ["x", "y"],
        "metadata": '{"j":2,"k":1}',
    }


def test_scope_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), userspan.using_attributes(user_id="u"):
        raise RuntimeError("x")
    assert userspan.get_attributes() == {}


def test_using_helpers(spans: Any) -> None:
    with userspan.using_user("u-9", user_email="u9@example.com", user_id_type="custom"):
        with userspan.using_session("conv-1"), userspan.using_tags(["beta"]), userspan.using_metadata({"plan": "pro"}):
            userspan.capture("h", lambda: None)
    assert spans.named("h")["attributes"] == {
        "user.id": "u-9",
        "user.email": "u9@example.com",
        "user.id.type": "custom",
        "session.id": "conv-1",
        "tag.tags": ["beta"],
        "metadata": '{"plan":"pro"}',
    }


def test_capture_inside_scope_merges(spans: Any) -> None:
    with userspan.using_attributes(user_id="outer", session_id="s"):
        userspan.capture("c", lambda: None, {"user_id": "inner"})
    assert spans.named("c")["attributes"] == {"user.id": "inner", "session.id": "s"}


def test_using_attributes_as_decorator_on_every_kind(spans: Any) -> None:
    deco = userspan.using_attributes(user_id="d")

    @deco
    def f() -> Any:
        return userspan.get_attributes()

    @deco
    async def af() -> Any:
        await asyncio.sleep(0)
        return userspan.get_attributes()

    @deco
    def g() -> Iterator[Any]:
        yield userspan.get_attributes()

    @deco
    async def ag() -> AsyncIterator[Any]:
        await asyncio.sleep(0)
        yield userspan.get_attributes()

    async def collect() -> list[Any]:
        return [x async for x in ag()]

    assert f() == {"user_id": "d"}
    assert asyncio.run(af()) == {"user_id": "d"}
    assert list(g()) == [{"user_id": "d"}]
    assert asyncio.run(collect()) == [{"user_id": "d"}]
    assert userspan.get_attributes() == {}


def test_async_with() -> None:
    async def main() -> dict[str, Any]:
        async with userspan.using_attributes(session_id="as"):
            await asyncio.sleep(0)
            return userspan.get_attributes()

    assert asyncio.run(main()) == {"session_id": "as"}


def test_100_concurrent_tasks_never_mix_users(spans: Any) -> None:
    async def turn(i: int) -> None:
        async def work() -> None:
            for step in range(3):
                await asyncio.sleep(random.random() / 1000)
                assert userspan.get_attributes()["user_id"] == f"user-{i}"
                userspan.capture(f"llm-{i}-{step}", lambda: None)
            with userspan.using_attributes(tags=[f"t{i}"]):
                await asyncio.sleep(0)
                userspan.capture(f"tool-{i}", lambda: None)

        await userspan.capture(f"turn-{i}", work, {"user_id": f"user-{i}", "session_id": f"s-{i}"})

    async def main() -> None:
        await asyncio.gather(*(turn(i) for i in range(100)))

    asyncio.run(main())
    all_spans = spans.all()
    assert len(all_spans) == 100 * 5
    by_id = {s["span_id"]: s for s in all_spans}
    by_name = {s["name"]: s for s in all_spans}
    assert len(by_name) == len(all_spans)
    trace_ids = set()
    for i in range(100):
        root = by_name[f"turn-{i}"]
        trace_ids.add(root["trace_id"])
        assert root["attributes"] == {"user.id": f"user-{i}", "session.id": f"s-{i}"}
        for name in [f"llm-{i}-0", f"llm-{i}-1", f"llm-{i}-2", f"tool-{i}"]:
            child = by_name[name]
            assert by_id[child["parent_span_id"]]["name"] == f"turn-{i}"
            assert child["trace_id"] == root["trace_id"]
            assert child["attributes"]["user.id"] == f"user-{i}"
            assert child["attributes"]["session.id"] == f"s-{i}"
        assert by_name[f"tool-{i}"]["attributes"]["tag.tags"] == [f"t{i}"]
    assert len(trace_ids) == 100


def test_tasks_created_inside_a_scope_inherit_a_copy() -> None:
    async def main() -> list[Any]:
        with userspan.using_attributes(user_id="parent"):
            task = asyncio.ensure_future(asyncio.sleep(0.001, result=None))
            inner = asyncio.create_task(_read_after_sleep())
        await task
        return [await inner, userspan.get_attributes()]

    async def _read_after_sleep() -> Any:
        await asyncio.sleep(0.002)
        return userspan.get_attributes()

    assert asyncio.run(main()) == [{"user_id": "parent"}, {}]


def test_plain_threads_do_not_inherit_but_wrap_carries_the_scope(spans: Any) -> None:
    seen: dict[str, Any] = {}

    def work(key: str) -> None:
        seen[key] = userspan.get_attributes()
        userspan.capture(f"in-{key}", lambda: None)

    def turn() -> None:
        t = threading.Thread(target=work, args=("plain",))
        t.start()
        t.join()
        t = threading.Thread(target=userspan.wrap(work), args=("wrapped",))
        t.start()
        t.join()
        with ThreadPoolExecutor(2) as pool:
            pool.submit(work, "pool-plain").result()
            helper = userspan.copy_context_to_thread(work)
            list(pool.map(helper, ["pool-a", "pool-b"]))  # one wrapped callable, many calls

    userspan.capture("turn", turn, {"user_id": "u-t"})
    turn_span = spans.named("turn")
    for key in ["plain", "pool-plain"]:
        assert seen[key] == {}
        span = spans.named(f"in-{key}")
        assert span["attributes"] == {} and span["parent_span_id"] is None
        assert span["trace_id"] != turn_span["trace_id"]
    for key in ["wrapped", "pool-a", "pool-b"]:
        assert seen[key] == {"user_id": "u-t"}
        span = spans.named(f"in-{key}")
        assert span["attributes"] == {"user.id": "u-t"}
        assert span["parent_span_id"] == turn_span["span_id"]


def test_run_in_executor_with_wrap(spans: Any) -> None:
    async def main() -> Any:
        with userspan.using_attributes(user_id="exec"):
            loop = asyncio.get_running_loop()
            plain = await loop.run_in_executor(None, userspan.get_attributes)
            wrapped = await loop.run_in_executor(None, userspan.wrap(userspan.get_attributes))
            to_thread = await asyncio.to_thread(userspan.get_attributes)  # copies the context itself
        return plain, wrapped, to_thread

    assert asyncio.run(main()) == ({}, {"user_id": "exec"}, {"user_id": "exec"})
