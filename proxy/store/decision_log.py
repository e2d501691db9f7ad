"""The decision stream: every logged decision (field ``d``) and every reward posted through the
API (field ``r``), in order, for the learner to join with the tracker's events.

A decision is a :class:`~proxy.records.decision.LoggedDecision` (the evaluator's record with no
reward yet), a reward a :class:`~proxy.records.decision.RewardNote`. The stream is capped by
length (``MAXLEN ~``).

Decisions are appended once each, by decision id (``scripts.APPEND_ONCE``, seen keys kept
``DEDUPE_TTL_S``): a decision the store could not take within its budget is served all the same
and spooled on disk by the decision sink (``proxy/decide/decision_sink.py``), which replays it
later; a call that timed out after Redis ran it is spooled too, and its replay adds nothing.
A seen key costs about 150 bytes for an hour (~54 MB at a sustained 100 decisions/s); a replay
later than that after such a timeout logs the decision twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis

from proxy.records.decision import DecisionRecord, LoggedDecision, RewardNote, decode_logged
from proxy.store.client import Store
from proxy.store.fsynced_append import FsyncedAppend
from proxy.store.scripts import APPEND_ONCE
from proxy.store.stream_group import StreamReader

MAX_ENTRIES = 1_000_000
DEDUPE_TTL_S = 3600


_encode = msgspec.json.Encoder().encode
_decode_reward = msgspec.json.Decoder(RewardNote).decode


def _append_call(store: Store, records: Sequence[DecisionRecord]) -> tuple[list[str], list[Any]]:
    """``APPEND_ONCE``'s keys and arguments for ``records``."""
    keys = [store.keys.decisions_key(), *(store.keys.decision_seen_key(r.id) for r in records)]
    return keys, [DEDUPE_TTL_S, MAX_ENTRIES, "d", *(_encode(r) for r in records)]


async def log_decisions(store: Store, records: Sequence[DecisionRecord]) -> int | None:
    """Append the decisions not logged before (one round trip, in the store's memory: the page
    path's write); how many were new, or ``None`` if the store did not answer within its budget."""
    if not records:
        return 0
    keys, args = _append_call(store, records)

    async def append(client: Redis) -> int:
        return int(await APPEND_ONCE.run(client, keys, args))

    return await store.run(append, default=None)


def fsynced_decision_log(store: Store) -> FsyncedAppend:
    """The decision stream's fsync-confirmed append (:func:`log_decisions_fsynced`)."""
    return FsyncedAppend(store, store.keys.decisions_key(), "decisions")


async def log_decisions_fsynced(
    appender: FsyncedAppend, records: Sequence[DecisionRecord]
) -> int | None:
    """Append the decisions not logged before and answer once the store's AOF fsync covers them
    and every write before them (``store/fsynced_append.py``); how many were new, or ``None`` if
    unavailable or not fsync-ed within ``WAITAOF_TIMEOUT_MS``. Sending decisions already appended
    is how the decision sink confirms them: a store that lost them in a crash gets them again."""
    if not records:
        return 0
    return await appender.append(*_append_call(appender.store, records))


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
            return decode_logged(fields.get(b"d") or fields["d"])
        if b"r" in fields or "r" in fields:
            return _decode_reward(fields.get(b"r") or fields["r"])
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
        return None
    return None


def decision_stream(store: Store, shard: int = 0) -> StreamReader[LoggedDecision | RewardNote]:
    """The decision stream as its consumer (the learner) reads it, entry by entry."""
    return StreamReader(store, store.keys.decisions_key(shard), parse_entry)
