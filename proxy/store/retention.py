"""Retention by age for the event and decision streams: the store's memory stays bounded.

Both streams were capped by length only (``MAXLEN ~ 1 000 000``), so at low traffic old entries
stayed for weeks and at high traffic the cap was gigabytes: the embedded store grew ~0.8 KB per
event with no age bound (issue #17). Every ``trim_every_s`` each worker runs ``XTRIM <stream>
MINID <now - max age>`` (exact, so a small stream is trimmed too; the cost is the entries
removed). Stream ids start with the store's millisecond clock, so the cutoff is an id. A worker
whose store is down skips the round; several workers trimming the same stream is harmless.

Consumers (profiles, slot metrics, the learner) read the streams as they grow; the age bound only
matters to one that falls further behind than it, which then misses what was trimmed, as it would
have under the length cap. The dedupe keys of the event log expire by their own TTL
(``retention.dedupe_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from redis.asyncio import Redis

from proxy.store.client import Store

log = logging.getLogger(__name__)


async def trim_older_than(
    store: Store, key: str, max_age_s: float, *, now_s: Callable[[], float] = time.time
) -> int | None:
    """Remove the entries of stream ``key`` older than ``max_age_s``; how many, or ``None`` if
    the store did not answer."""
    cutoff_ms = max(int((now_s() - max_age_s) * 1000), 0)

    async def trim(client: Redis) -> int:
        return int(await client.xtrim(key, minid=f"{cutoff_ms}-0", approximate=False))

    return await store.run(trim, default=None)


async def keep_trimming(
    store: Store, max_age_s_by_key: Mapping[str, float], stop: asyncio.Event, *, every_s: float
) -> None:
    """Trim each stream to its age every ``every_s`` until ``stop`` is set (a background loop)."""
    while not stop.is_set():
        for key, max_age_s in max_age_s_by_key.items():
            removed = await trim_older_than(store, key, max_age_s)
            if removed:
                log.debug("retention: %d entries older than %.0f s left %s", removed, max_age_s, key)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every_s):
                await stop.wait()
