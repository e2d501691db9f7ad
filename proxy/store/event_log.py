"""The event stream: append accepted records exactly once, and read them back in a consumer group.

**Append.** One Lua script per batch (one round trip; ``scripts.APPEND_ONCE``): for each record,
``SET <seen key> 1 NX EX <dedupe_ttl_s>`` and, only when that key was new, ``XADD <stream> MAXLEN ~
<max_len> * r <record>``. The script returns how many records were new, so a retried beacon (same
event ids) is stored once (docs/reliability.md EV-09). The seen keys live under the stream's hash tag
(``P{events:0}:seen:<id>``) so a script only touches one Cluster slot. ``append`` returns ``None``
when the store cannot answer; the caller then spools the batch (``tracker/spool.py``). A call that
timed out after Redis ran the script is spooled too: replay finds the ids seen and stores nothing.

**Acknowledged = fsync-ed (issue #17).** With ``appendfsync everysec`` Redis answers a write
before its AOF is fsync-ed, and may postpone even the ``write()`` while an earlier fsync is slow:
a ``kill -9`` then loses events the intake already answered 202. So the script is followed, on the
same connection (a pipeline), by ``WAITAOF 1 0 <ms>``, which returns once the local AOF fsync
covers this connection's writes; Valkey's own once-a-second fsync commits every waiting batch at
once. Measured on the embedded store (docs/benchmarks.md): ~100 ms p50 per batch instead of
0.2 ms, page-path writes unchanged; ``appendfsync always`` would have cost every page-path write
an fsync (28× the p50). If the fsync does not come within ``WAITAOF_TIMEOUT_MS``, ``append``
answers ``None`` and the batch is fsync-ed in the spool instead (replay then finds it seen).
Servers without WAITAOF (Redis < 7.2) or without an AOF answer it with an error: the log then
appends without waiting and says so once (the startup check already warns about no AOF). Redis
Cluster pipelines cannot carry a keyless WAITAOF, so a Cluster store appends without it.

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

import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from proxy.records.event_record import EventRecord, decode_record, encode_record
from proxy.store.client import Store
from proxy.store.scripts import APPEND_ONCE
from proxy.store.stream_group import Entry, StreamReader

StreamEntry = Entry[EventRecord]
WAITAOF_TIMEOUT_MS = 1000  # everysec fsyncs once a second; a slower disk means "spool it"
log = logging.getLogger(__name__)


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
        self.wait_for_fsync = not store.is_cluster
        self.unfsynced_total = 0  # batches whose fsync did not come in time (spooled instead)

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

        async def run(client: Redis) -> int | None:
            if self.wait_for_fsync:
                return await self._append_fsynced(client, keys, args)
            return int(await APPEND_ONCE.run(client, keys, args))

        timeout_s = self.store.settings.op_timeout_s
        if self.wait_for_fsync:
            timeout_s += WAITAOF_TIMEOUT_MS / 1000.0
        return await self.store.run(run, default=None, timeout_s=timeout_s)

    async def _append_fsynced(self, client: Redis, keys: list[str], args: list[Any]) -> int | None:
        """The append script, then ``WAITAOF 1 0`` on the same connection; the count of new
        records once the local AOF fsync covers them, ``None`` if it did not come in time."""
        for by_sha in (True, False):
            pipe = client.pipeline(transaction=False)
            if by_sha:
                pipe.evalsha(APPEND_ONCE.sha, len(keys), *keys, *args)
            else:
                pipe.eval(APPEND_ONCE.source, len(keys), *keys, *args)
            pipe.execute_command("WAITAOF", 1, 0, WAITAOF_TIMEOUT_MS)
            added, fsynced = await pipe.execute(raise_on_error=False)
            if isinstance(added, NoScriptError):
                continue
            if isinstance(added, BaseException):
                raise added
            if isinstance(fsynced, ResponseError):
                self.wait_for_fsync = False
                log.warning(
                    "the store cannot confirm fsync (%s): events are acknowledged once in its "
                    "memory, and a store crash may lose the last second of them",
                    fsynced,
                )
                return int(added)
            if int(fsynced[0]) >= 1:
                return int(added)
            self.unfsynced_total += 1
            return None
        raise NoScriptError("the append script vanished twice")

    async def length(self) -> int | None:
        """``XLEN`` of the stream, or ``None`` if unavailable."""

        async def run(client: Redis) -> int:
            return int(await client.xlen(self.key))

        return await self.store.run(run, default=None)
