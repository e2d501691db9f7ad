"""Each slot's most recent joined examples, kept for the report's doubly robust estimates.

The per-hour sums (:mod:`proxy.store.results`) give IPS and SNIPS of fixed targets, but DR needs
a reward model per context and the YAML rules need each decision's request context: both need
the examples themselves. The learner appends every example it folds for the first time (a
decision with its joined reward, as :class:`~proxy.records.decision.LoggedDecision` JSON, field
``x``) to the slot's stream ``P{r:<slot>}:x`` (:meth:`~proxy.store.keys.Keys.results_key`),
capped at about ``kept`` entries (``MAXLEN ~``: at least ``kept`` are kept) and living the
results' retention, renewed by each write. Entry ids are the join's time, never earlier than the
decision's.

:func:`read_examples` reads a slot's most recent examples over a period in one ``XREVRANGE``
(newest join first) and returns them in the order they were decided, saying whether it stopped
at its limit (the period may hold more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis

from proxy.records.decision import DecisionRecord, LoggedDecision, decode_logged, encode_record
from proxy.store.client import Store

PART = "x"
FIELD = b"x"


@dataclass(frozen=True, slots=True)
class ExampleSample:
    """A slot's examples decided at or after the period's start, in the order they were
    decided (one per decision id); ``limited``: the read stopped at its limit, so the period may hold more."""

    records: tuple[LoggedDecision, ...]
    limited: bool


async def keep_examples(
    store: Store,
    records: Sequence[DecisionRecord],
    *,
    kept: int,
    ttl_s: int,
    timeout_s: float | None = None,
) -> bool:
    """Append ``records`` to their slots' streams (one pipeline); ``False`` if the store did not
    take them. ``kept`` 0 keeps nothing."""
    if kept <= 0 or not records:
        return True
    keys = sorted({store.keys.results_key(r.slot, PART) for r in records})

    async def append(client: Redis) -> bool:
        pipe = client.pipeline(transaction=False)
        for record in records:
            key = store.keys.results_key(record.slot, PART)
            pipe.xadd(key, {FIELD: encode_record(record)}, maxlen=kept, approximate=True)
        for key in keys:
            pipe.expire(key, ttl_s)
        await pipe.execute()
        return True

    return await store.run(append, default=False, timeout_s=timeout_s)


def _decoded(entries: Sequence[Any], since_ms: int) -> list[LoggedDecision]:
    """The entries' records decided at or after ``since_ms``, newest first, repeats and
    unreadable entries left out (a learner restarted after a crash may append one twice)."""
    found: list[LoggedDecision] = []
    seen: set[str] = set()
    for _, fields in entries:
        raw = fields.get(FIELD) or fields.get(FIELD.decode())
        if raw is None:
            continue
        try:
            record = decode_logged(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
            continue
        if record.id in seen or record.ts_ms is None or record.ts_ms < since_ms:
            continue
        seen.add(record.id)
        found.append(record)
    return found


async def read_examples(
    store: Store, slot: str, *, since_ms: int, limit: int, timeout_s: float | None = None
) -> ExampleSample | None:
    """``slot``'s most recent examples (at most ``limit``) decided since ``since_ms``; ``None``
    if the store cannot answer."""
    if limit <= 0:
        return ExampleSample((), False)
    key = store.keys.results_key(slot, PART)

    async def read(client: Redis) -> ExampleSample:
        entries = await client.xrevrange(key, "+", str(since_ms), count=limit) or []
        records = sorted(_decoded(entries, since_ms), key=lambda r: (r.ts_ms or 0, r.id))
        return ExampleSample(tuple(records), len(entries) >= limit)

    return await store.run(read, default=None, timeout_s=timeout_s)
