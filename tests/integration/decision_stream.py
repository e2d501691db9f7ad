"""What the running proxy wrote to the decision log, read back the way a learner reads it."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from proxy.records.decision import LoggedDecision, RewardNote
from proxy.store.client import Store
from proxy.store.decision_log import parse_entry


async def read_decision_log(store: Store) -> list[LoggedDecision | RewardNote | None]:
    """Every entry of ``store``'s decision stream, oldest first, parsed (None: not an entry
    Vernier writes); empty when the store does not answer."""

    async def entries(client: Redis) -> list[Any]:
        found: list[Any] = await client.xrange(store.keys.decisions_key()) or []
        return found

    return [parse_entry(fields) for _, fields in await store.run(entries, default=[])]
