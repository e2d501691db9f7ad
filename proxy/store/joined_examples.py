"""Each slot's most recent joined examples, kept for the report's doubly robust estimates.

The per-hour sums (:mod:`proxy.store.results`) give IPS and SNIPS of fixed targets, but DR needs
a reward model per context and the YAML rules need each decision's request context: both need
the examples themselves. The learner pushes every example it folds for the first time (a
decision with its joined reward, as :class:`~proxy.records.decision.LoggedDecision` JSON
without its session and visitor ids, which the estimates do not need) onto
the slot's list ``P{r:<slot>}:x`` (:meth:`~proxy.store.keys.Keys.results_key`), newest first,
trimmed to ``kept`` entries and living the results' retention, renewed by each write.

:func:`read_examples` reads the head of the list — the most recently joined — in one script
that returns the entries as one string (a list or stream reply costs redis-py a Python object
per entry: reading 40,000 examples that way took seconds), keeps those decided in the period
(a decision is joined after it was made, so once the list reaches examples decided before the
period only such examples follow) and returns them in the order they were decided, saying
whether it stopped at its limit (the period may hold more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis

from proxy.records.decision import DecisionRecord, LoggedDecision, decode_logged, encode_record
from proxy.store.client import Store
from proxy.store.scripts import Script

PART = "x"

HEAD_SCRIPT = Script(
    """
return table.concat(redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1), '\\n')
"""
)
_decode_all = msgspec.json.Decoder(list[LoggedDecision]).decode


@dataclass(frozen=True, slots=True)
class ExampleSample:
    """A slot's examples decided at or after the period's start, in the order they were
    decided (one per decision id); ``limited``: the read stopped at its limit, so the period
    may hold more."""

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
    """Push ``records`` onto their slots' lists (one pipeline), without session and visitor
    ids; ``False`` if the store did not take them. ``kept`` 0 keeps nothing."""
    if kept <= 0 or not records:
        return True
    by_key: dict[str, list[bytes]] = {}
    for record in records:
        anonymous = msgspec.structs.replace(record, session=None, visitor=None)
        by_key.setdefault(store.keys.results_key(record.slot, PART), []).append(
            encode_record(anonymous)
        )

    async def push(client: Redis) -> bool:
        pipe = client.pipeline(transaction=False)
        for key, lines in by_key.items():
            pipe.lpush(key, *lines)
            pipe.ltrim(key, 0, kept - 1)
            pipe.expire(key, ttl_s)
        await pipe.execute()
        return True

    return await store.run(push, default=False, timeout_s=timeout_s)


def _decoded(lines: bytes) -> list[LoggedDecision]:
    """Every readable entry (one call for the whole reply; line by line if one is not)."""
    if not lines:
        return []
    try:
        return _decode_all(b"[" + lines.replace(b"\n", b",") + b"]")
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
        pass
    found = []
    for line in lines.split(b"\n"):
        try:
            found.append(decode_logged(line))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
            continue
    return found


def in_period(records: Sequence[LoggedDecision], since_ms: int) -> list[LoggedDecision]:
    """``records`` (newest join first) decided at or after ``since_ms``, each decision once (a
    learner restarted after a crash may push one twice), in the order they were decided."""
    seen: set[str] = set()
    found = []
    for record in records:
        if record.id in seen or record.ts_ms is None or record.ts_ms < since_ms:
            continue
        seen.add(record.id)
        found.append(record)
    return sorted(found, key=lambda r: (r.ts_ms or 0, r.id))


async def read_examples(
    store: Store, slot: str, *, since_ms: int, limit: int, timeout_s: float | None = None
) -> ExampleSample | None:
    """``slot``'s most recently joined examples (at most ``limit``) decided since
    ``since_ms``; ``None`` if the store cannot answer."""
    if limit <= 0:
        return ExampleSample((), False)
    key = store.keys.results_key(slot, PART)

    async def read(client: Redis) -> ExampleSample:
        reply = await HEAD_SCRIPT.run(client, [key], [limit])
        lines = reply.encode() if isinstance(reply, str) else bytes(reply or b"")
        entries = lines.count(b"\n") + 1 if lines else 0
        decoded = _decoded(lines)
        oldest = decoded[-1].ts_ms if decoded else None
        more = entries >= limit and oldest is not None and oldest >= since_ms
        return ExampleSample(tuple(in_period(decoded, since_ms)), more)

    return await store.run(read, default=None, timeout_s=timeout_s)
