"""Run content-coding work off the event loop when it is big enough to stall it.

zlib, brotli and zstd release the GIL while they work [measured: the loop thread kept running
throughout], so a thread keeps a 1 MB page's 50 ms of gzip from blocking every other request.
Small bodies stay inline: a thread hop costs more than compressing them.
"""

from __future__ import annotations

import asyncio
import functools
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
