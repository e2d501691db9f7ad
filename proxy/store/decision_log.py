"""The decision stream: every logged decision (field ``d``) and every reward posted through the
API (field ``r``), in order, for the learner to join with the tracker's events.

A decision is a :class:`~proxy.records.decision.LoggedDecision` (the evaluator's record with no
reward yet), a reward a :class:`~proxy.records.decision.RewardNote`. Writes are fail-open: a
decision the store cannot take is served all the same, and is only missing from learning. The stream is capped by length (``MAXLEN ~``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis

from proxy.records.decision import DecisionRecord, LoggedDecision, RewardNote
from proxy.store.client import Store
from proxy.store.stream_group import StreamReader

MAX_ENTRIES = 1_000_000


_encode = msgspec.json.Encoder().encode
_decode_decision = msgspec.json.Decoder(LoggedDecision).decode
_decode_reward = msgspec.json.Decoder(RewardNote).decode


async def log_decisions(store: Store, records: Sequence[DecisionRecord]) -> bool:
    if not records:
        return True
    key = store.keys.decisions_key()

    async def append(client: Redis) -> bool:
        async with client.pipeline(transaction=False) as pipe:
            for record in records:
                pipe.xadd(key, {"d": _encode(record)}, maxlen=MAX_ENTRIES, approximate=True)
            await pipe.execute()
        return True

    return await store.run(append, default=False)


async def log_reward(store: Store, note: RewardNote) -> bool:
    key = store.keys.decisions_key()

    async def append(client: Redis) -> bool:
        await client.xadd(key, {"r": _encode(note)}, maxlen=MAX_ENTRIES, approximate=True)
        return True

    return await store.run(append, default=False)


def parse_entry(fields: dict[Any, Any]) -> LoggedDecision | RewardNote | None:
    """A stream entry's decision or reward; None for anything else (never raises)."""
    try:
        if b"d" in fields or "d" in fields:
            return _decode_decision(fields.get(b"d") or fields["d"])
        if b"r" in fields or "r" in fields:
            return _decode_reward(fields.get(b"r") or fields["r"])
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
        return None
    return None


def decision_stream(store: Store, shard: int = 0) -> StreamReader[LoggedDecision | RewardNote]:
    """The decision stream as its consumer (the learner) reads it, entry by entry."""
    return StreamReader(store, store.keys.decisions_key(shard), parse_entry)
