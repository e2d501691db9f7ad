"""Run content-coding work off the event loop when it is big enough to stall it.

zlib, brotli and zstd release the GIL while they work [measured: the loop thread kept running
throughout], so a thread keeps a 1 MB page's 50 ms of gzip from blocking every other request.
Small bodies stay inline: a thread hop costs more than compressing them.

Budgets are checked against *CPU time* (``time.thread_time`` in whichever thread did the work),
not the wall clock: on a busy machine a page waits for a core through no fault of its own, and
wall-clock budgets then blamed rules for the machine's load (issue #17).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

OFFLOAD_MIN_BYTES = 128 * 1024

P = ParamSpec("P")
T = TypeVar("T")


async def run_sized(size_bytes: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, in the default executor when ``size_bytes`` is large."""
    if size_bytes < OFFLOAD_MIN_BYTES:
        return fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def on_cpu_clock(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[T, float]:
    """``fn(*args, **kwargs)`` and the CPU seconds it used in the calling thread."""
    started = time.thread_time()
    result = fn(*args, **kwargs)
    return result, time.thread_time() - started


async def run_sized_on_cpu_clock(
    size_bytes: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> tuple[T, float]:
    """:func:`run_sized` that also says how much CPU ``fn`` used, wherever it ran."""
    return await run_sized(size_bytes, functools.partial(on_cpu_clock, fn, *args, **kwargs))
