"""The event stream: append accepted records exactly once, and read them back in a consumer group.

**Append.** One Lua script per batch (one round trip; ``scripts.APPEND_ONCE``): for each record,
``SET <seen key> 1 NX EX <dedupe_ttl_s>`` and, only when that key was new, ``XADD <stream> MAXLEN ~
<max_len> * r <record>``. The script returns how many records were new, so a retried beacon (same
event ids) is stored once (docs/reliability.md EV-09). The seen keys live under the stream's hash tag
(``P{events:0}:seen:<id>``) so a script only touches one Cluster slot. ``append`` returns ``None``
when the store cannot answer; the caller then spools the batch (``tracker/spool.py``). A call that
timed out after Redis ran the script is spooled too: replay finds the ids seen and stores nothing.

**Acknowledged = fsync-ed (issue #17).** The script runs through
:class:`~proxy.store.fsynced_append.FsyncedAppend`: the append answers once the store's AOF fsync
covers it (``WAITAOF 1 0``, group-committed by Valkey's once-a-second fsync), or ``None`` after
``WAITAOF_TIMEOUT_MS`` so the batch is fsync-ed in the spool instead (replay then finds it seen).
Measured on the embedded store (docs/benchmarks.md): ~100 ms p50 per batch instead of 0.2 ms,
page-path writes unchanged; ``appendfsync always`` would have cost every page-path write an fsync
(28x the p50). A server without WAITAOF appends without waiting (said once); a Redis Cluster
store appends without it (that module's docstring says why and what is guaranteed there).

**Bounds.** The stream is capped by length (``MAXLEN ~``, default 1 000 000 entries) and trimmed
by age (``store/retention.py``, ``retention.events_max_age_s``, 2 h by default). A seen key costs
about 150 bytes for ``dedupe_ttl_s`` [measured: 100 000 keys with TTL, 15 MB on Redis 7.0]; the
proxy sets it from ``retention.dedupe_s`` (2 h): ~100 MB at a sustained 100 events/s. A retry
arriving after it expired is stored twice.

**Read.** :class:`EventLog` is a :class:`~proxy.store.stream_group.StreamReader` of event
records: ``create_group`` / ``read_group`` / ``claim_stale`` / ``ack``, read by its consumers
through a :class:`~proxy.store.stream_group.GroupCursor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from proxy.records.event_record import EventRecord, decode_record, encode_record
from proxy.store.client import Store
from proxy.store.fsynced_append import WAITAOF_TIMEOUT_MS, FsyncedAppend
from proxy.store.stream_group import Entry, StreamReader

StreamEntry = Entry[EventRecord]
__all__ = ["WAITAOF_TIMEOUT_MS", "EventLog", "StreamEntry"]


def _parse(fields: dict[Any, Any]) -> EventRecord | None:
    """The record of an entry's ``r`` field; ``None`` if it has none (raises if malformed)."""
    data = fields.get(b"r", fields.get("r"))
    if not isinstance(data, bytes | str):
        return None
    return decode_record(data.encode() if isinstance(data, str) else data)


class EventLog(StreamReader[EventRecord]):
    """Append-once writer and consumer-group reader of one shard of the event stream."""

    def __init__(
        self,
        store: Store,
        *,
        shard: int = 0,
        max_len: int = 1_000_000,
        dedupe_ttl_s: int = 24 * 3600,
    ) -> None:
        if max_len < 1 or dedupe_ttl_s < 1:
            raise ValueError("max_len and dedupe_ttl_s must be positive")
        super().__init__(store, store.keys.events_key(shard), _parse)
        self.shard = shard
        self.max_len = max_len
        self.dedupe_ttl_s = dedupe_ttl_s
        self._fsynced = FsyncedAppend(store, self.key, "events")

    @property
    def wait_for_fsync(self) -> bool:
        """Whether appends wait for the store's AOF fsync (see the module docstring)."""
        return self._fsynced.waits

    @wait_for_fsync.setter
    def wait_for_fsync(self, waits: bool) -> None:
        self._fsynced.waits = waits

    @property
    def unfsynced_total(self) -> int:
        """Batches whose fsync did not come in time (spooled instead)."""
        return self._fsynced.unfsynced_total

    async def append(self, records: Sequence[EventRecord]) -> int | None:
        """Append the records not seen before; how many were new, or ``None`` if unavailable."""
        if not records:
            return 0
        keys = [
            self.key,
            *(self.store.keys.event_seen_key(r.event.id, self.shard) for r in records),
        ]
        args: list[Any] = [
            self.dedupe_ttl_s,
            self.max_len,
            "r",
            *(encode_record(r) for r in records),
        ]
        return await self._fsynced.append(keys, args)

    async def length(self) -> int | None:
        """``XLEN`` of the stream, or ``None`` if unavailable."""

        async def run(client: Redis) -> int:
            return int(await client.xlen(self.key))

        return await self.store.run(run, default=None)
