"""The loop of every stream consumer: failures call back and wait, bounded, with a backoff."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from proxy import tasks


async def test_waits_double_after_each_failure_up_to_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    @contextlib.asynccontextmanager
    async def no_wait(delay_s: float) -> AsyncIterator[None]:
        waits.append(delay_s)
        raise TimeoutError  # the wait ran out at once
        yield

    monkeypatch.setattr(asyncio, "timeout", no_wait)
    stop = asyncio.Event()
    answers = iter([False, False, False, False, True, False])
    failures: list[int] = []

    async def step() -> bool:
        answer = next(answers, None)
        if answer is None:
            stop.set()
            return True
        return answer

    await tasks.keep_stepping(
        step, stop, retry_s=0.5, max_retry_s=1.5, what="test", on_failure=lambda: failures.append(1)
    )
    assert waits == [0.5, 1.0, 1.5, 1.5, 0.5]
    assert len(failures) == 5


async def test_without_a_bound_every_wait_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    @contextlib.asynccontextmanager
    async def no_wait(delay_s: float) -> AsyncIterator[None]:
        waits.append(delay_s)
        raise TimeoutError
        yield

    monkeypatch.setattr(asyncio, "timeout", no_wait)
    stop = asyncio.Event()
    calls = iter(range(3))

    async def step() -> bool:
        if next(calls, None) is None:
            stop.set()
        return False

    await tasks.keep_stepping(step, stop, retry_s=0.5, what="test", on_failure=lambda: None)
    assert waits == [0.5, 0.5, 0.5, 0.5]
