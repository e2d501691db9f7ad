"""Retention by age for the event and decision streams: the store's memory stays bounded.

Both streams were capped by length only (``MAXLEN ~ 1 000 000``), so at low traffic old entries
stayed for weeks and at high traffic the cap was gigabytes: the embedded store grew ~0.8 KB per
event with no age bound (issue #17). Every ``trim_every_s`` each worker runs ``XTRIM <stream>
MINID <now - max age>`` (exact, so a small stream is trimmed too; the cost is the entries
removed). Stream ids start with the store's millisecond clock, so the cutoff is an id. A worker
whose store is down skips the round; several workers trimming the same stream is harmless.

Consumers (profiles, slot metrics, results, the learner) read the streams through consumer
groups. An acknowledged event must not be lost because its consumer was down for a while (a
``vernier learn`` restarted after an hour), so the trim never passes an entry a group has not read
or not acknowledged: the cutoff is held at its oldest pending entry or the first one after the
last delivered to it. A group nobody reads any more would then hold the stream forever, so the
hold ends at ``retention.unread_max_age_s``; past it the entries are trimmed and the group is
named in a warning. The dedupe keys of the event log expire by their own TTL (``retention.dedupe_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from proxy.store.client import Store

log = logging.getLogger(__name__)


def _id_ms(stream_id: bytes | str) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(text.split("-", 1)[0])


async def _unread_from(client: Redis, key: str) -> dict[str, int]:
    """Per consumer group of ``key`` that still needs an entry: the ms of the oldest one (its
    oldest pending entry, or the first entry after the last one delivered to it). A group that
    has read and acknowledged everything holds nothing back."""
    try:
        groups = await client.xinfo_groups(key)
    except ResponseError:  # no such stream yet
        return {}
    needed: dict[str, int] = {}
    for group in groups:
        name = group["name"].decode() if isinstance(group["name"], bytes) else str(group["name"])
        last = group["last-delivered-id"]
        last = last.decode() if isinstance(last, bytes) else str(last)
        oldest: list[int] = []
        unread = await client.xrange(key, min=f"({last}", count=1)
        if unread and unread[0][0] is not None:
            oldest.append(_id_ms(unread[0][0]))
        if int(group["pending"]):
            summary = await client.xpending(key, name)
            if summary.get("min"):
                oldest.append(_id_ms(summary["min"]))
        if oldest:
            needed[name] = min(oldest)
    return needed


async def trim_older_than(
    store: Store,
    key: str,
    max_age_s: float,
    *,
    unread_max_age_s: float | None = None,
    now_s: Callable[[], float] = time.time,
) -> int | None:
    """Remove the entries of stream ``key`` older than ``max_age_s`` that every consumer group
    has read and acknowledged (unread ones stay up to ``unread_max_age_s``); how many, or
    ``None`` if the store did not answer."""
    now = now_s()
    cutoff_ms = max(int((now - max_age_s) * 1000), 0)
    limit_s = max(unread_max_age_s if unread_max_age_s is not None else max_age_s, max_age_s)
    floor_ms = max(int((now - limit_s) * 1000), 0)

    async def trim(client: Redis) -> int:
        minid_ms = cutoff_ms
        for group, needed_ms in (await _unread_from(client, key)).items():
            if needed_ms < floor_ms:
                log.warning(
                    "retention: consumer group %r of %s has not read entries older than "
                    "retention.unread_max_age_s (%.0f s); trimming them anyway",
                    group,
                    key,
                    limit_s,
                )
            minid_ms = min(minid_ms, max(needed_ms, floor_ms))
        return int(await client.xtrim(key, minid=f"{minid_ms}-0", approximate=False))

    return await store.run(trim, default=None)


async def keep_trimming(
    store: Store,
    max_age_s_by_key: Mapping[str, float],
    stop: asyncio.Event,
    *,
    every_s: float,
    unread_max_age_s: float | None = None,
) -> None:
    """Trim each stream to its age every ``every_s`` until ``stop`` is set (a background loop)."""
    while not stop.is_set():
        for key, max_age_s in max_age_s_by_key.items():
            removed = await trim_older_than(
                store, key, max_age_s, unread_max_age_s=unread_max_age_s
            )
            if removed:
                log.debug(
                    "retention: %d entries older than %.0f s left %s", removed, max_age_s, key
                )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every_s):
                await stop.wait()
