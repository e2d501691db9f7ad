"""Background tasks: started in one place, named, referenced until done, failures logged.

A bare ``asyncio.create_task`` whose result is dropped can be garbage-collected mid-flight and
swallows its exception; every long-lived task of Vernier goes through :class:`BackgroundTasks`.
:class:`BackgroundWork` is how the app's resources declare theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("vernier.tasks")


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def finish(self, stop: asyncio.Event, *, grace_s: float = 1.0) -> None:
        """Set ``stop``, give the tasks ``grace_s`` to end on their own (a last flush), then
        cancel what still runs."""
        stop.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        await self.cancel_all()

    async def cancel_all(self, timeout_s: float = 5.0) -> None:
        """Cancel what still runs and wait for it, bounded."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*tasks, return_exceptions=True)


Work = Callable[[asyncio.Event], Coroutine[Any, Any, Any]]
"""A long-lived loop: runs until the event it is given is set."""


class BackgroundWork:
    """The loops a worker process's resources declare while the app starts (a consumer, a poll,
    the rules watcher), started together once every resource is up and stopped together — one
    grace period, then cancelled — before any resource they use is closed.

    Each resource's ``cleanup_ctx`` entry declares its loops here; :meth:`running` is the last
    entry, so that aiohttp, which cleans up in reverse order, stops the loops first.
    """

    def __init__(self) -> None:
        self._declared: list[tuple[str, Work]] = []

    def declare(self, name: str, work: Work) -> None:
        """Run ``work`` from startup's end to cleanup's start, as the task ``name``."""
        self._declared.append((name, work))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._declared)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Every declared loop runs inside the block."""
        tasks = BackgroundTasks()
        stop = asyncio.Event()
        try:
            for name, work in self._declared:
                tasks.spawn(work(stop), name=name)
            yield
        finally:
            await tasks.finish(stop)


async def keep_stepping(
    step: Callable[[], Awaitable[bool]],
    stop: asyncio.Event,
    *,
    retry_s: float,
    what: str,
    on_failure: Callable[[], None],
    max_retry_s: float | None = None,
) -> None:
    """Run ``step`` until ``stop`` is set: the loop of every stream consumer. A step that
    returns False (the store did not answer) or raises (a bug: logged) calls ``on_failure`` and
    waits ``retry_s`` (or for ``stop``) before the next. With ``max_retry_s`` the wait doubles
    after each failure in a row, up to ``max_retry_s`` (a long outage costs few calls), and is
    ``retry_s`` again after a step that answered."""
    delay_s = retry_s
    while not stop.is_set():
        try:
            answered = await step()
        except Exception:
            log.exception("%s: step failed", what)
            answered = False
        if answered:
            delay_s = retry_s
            continue
        on_failure()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await stop.wait()
        if max_retry_s is not None:
            delay_s = min(delay_s * 2, max_retry_s)
