"""Rule outcomes of every proxy instance, summed in the store for ``vernier validate --live``.

Each worker keeps its own :class:`~proxy.rules.health.RuleHealth` and adds what it counted since
the last flush every :data:`FLUSH_INTERVAL_S` seconds (one pipelined round trip, fail-open: a
flush the store cannot take is retried with the next one's counts added).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Protocol

from redis.asyncio import Redis

from proxy.records.rule_outcomes import OUTCOMES, LiveHealth, Outcome
from proxy.store.client import Store

FLUSH_INTERVAL_S = 10.0


class UnflushedOutcomes(Protocol):
    """What a flush needs of a worker's counter (:class:`proxy.rules.health.RuleHealth`): the
    store names it by what it does, so it does not import the rules that count."""

    def take_unflushed(self) -> Counter[tuple[str, Outcome]]: ...

    def take_unflushed_back(self, owner: str, outcome: Outcome, count: int) -> None: ...

    def tripped(self) -> dict[str, float]: ...


async def publish(store: Store, health: UnflushedOutcomes) -> bool:
    counts = health.take_unflushed()
    open_until = {owner: time.time() + left for owner, left in health.tripped().items()}
    if not counts and not open_until:
        return True
    key = store.keys.rule_health_key()

    async def write(client: Redis) -> bool:
        pipe = client.pipeline(transaction=False)
        for (owner, outcome), n in counts.items():
            pipe.hincrby(key, f"{owner}|{outcome}", n)
        for owner, until in open_until.items():
            pipe.hset(key, f"{owner}|open_until", str(round(until)))
        await pipe.execute()
        return True

    if await store.run(write, default=False):
        return True
    for (owner, outcome), n in counts.items():  # keep them for the next flush
        health.take_unflushed_back(owner, outcome, n)
    return False


async def publish_every(store: Store, health: UnflushedOutcomes, stop: asyncio.Event) -> None:
    """Flush until ``stop`` is set, then once more."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL_S)
        await publish(store, health)


async def read(store: Store) -> LiveHealth | None:
    """The summed outcomes, or None if the store cannot be read."""
    key = store.keys.rule_health_key()

    async def fetch(client: Redis) -> dict[bytes | str, bytes | str]:
        return await client.hgetall(key)

    raw = await store.run(fetch, default=None, timeout_s=2.0)
    if raw is None:
        return None
    health = LiveHealth()
    now = time.time()
    for name, value in raw.items():
        text = name.decode(errors="replace") if isinstance(name, bytes) else name
        owner, _, what = text.rpartition("|")
        outcome = next((o for o in OUTCOMES if o == what), None)
        if outcome is not None:
            health.totals[owner, outcome] += int(value)
        elif what == "open_until" and float(value) > now:
            health.open_until[owner] = float(value)
    return health
