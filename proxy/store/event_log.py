"""The event stream: append accepted records exactly once, and read them back in a consumer group.

**Append.** One Lua script per batch (one round trip): for each record, ``SET <seen key> 1 NX EX
<dedupe_ttl_s>`` and, only when that key was new, ``XADD <stream> MAXLEN ~ <max_len> * r
<record>``. The script returns how many records were new, so a retried beacon (same event ids) is
stored once (RELIABILITY EV-09). The seen keys live under the stream's hash tag
(``P{events:0}:seen:<id>``) so a script only touches one Cluster slot. ``append`` returns ``None``
when the store cannot answer; the caller then spools the batch (``tracker/spool.py``). A call that
timed out after Redis ran the script is spooled too: replay finds the ids seen and stores nothing.

**Bounds.** The stream is bounded by length only (``MAXLEN ~``, default 1 000 000 entries, a few
hundred MB of memory for typical records); there is no age bound, so at low traffic old events stay
until enough new ones push them out. A seen key costs about 150 bytes for ``dedupe_ttl_s`` (24 h by
default) [measured: 100 000 keys with TTL, 15 MB on Redis 7.0]: ~1.3 GB at a sustained 100 events/s
— lower it for heavy sites; a retry arriving after it expired is stored twice.

**Read.** ``create_group`` / ``read_group`` / ``claim_stale`` / ``ack`` wrap ``XGROUP CREATE …
MKSTREAM``, ``XREADGROUP`` (``COUNT`` and a short ``BLOCK``), ``XAUTOCLAIM`` and ``XACK``; each
returns ``None`` while the store is unavailable. An entry that is not a record (trimmed while
pending, or written by something else) comes back with ``None`` as its record, for the caller to
acknowledge and count.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from proxy.store.client import Store
from proxy.tracker.record import EventRecord, decode_record, encode_record

APPEND_SCRIPT = """
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'r', ARGV[i + 1])
    added = added + 1
  end
end
return added
"""
_APPEND_SHA = hashlib.sha1(APPEND_SCRIPT.encode()).hexdigest()

_BLOCK_SLACK_S = 0.25

StreamEntry = tuple[str, EventRecord | None]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(raw: Any) -> list[StreamEntry]:
    """``[(id, {b"r": bytes}), …]`` from redis-py into ``(id, record or None)``."""
    entries: list[StreamEntry] = []
    for entry_id, fields in raw or ():
        record: EventRecord | None = None
        data = (fields or {}).get(b"r", (fields or {}).get("r"))
        if isinstance(data, (bytes, str)):
            try:
                record = decode_record(data.encode() if isinstance(data, str) else data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                record = None
        entries.append((_text(entry_id), record))
    return entries


async def _call_script(
    client: Redis, sha: str, script: str, keys: list[str], args: list[Any]
) -> Any:
    """EVALSHA, falling back to EVAL (which also caches the script) after a NOSCRIPT reply."""
    try:
        return await client.evalsha(sha, len(keys), *keys, *args)
    except NoScriptError:
        return await client.eval(script, len(keys), *keys, *args)


class EventLog:
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
        self.store = store
        self.shard = shard
        self.max_len = max_len
        self.dedupe_ttl_s = dedupe_ttl_s
        self.key = store.keys.events_key(shard)

    async def append(self, records: Sequence[EventRecord]) -> int | None:
        """Append the records not seen before; how many were new, or ``None`` if unavailable."""
        if not records:
            return 0
        keys = [
            self.key,
            *(self.store.keys.event_seen_key(r.event.id, self.shard) for r in records),
        ]
        args: list[Any] = [self.dedupe_ttl_s, self.max_len, *(encode_record(r) for r in records)]

        async def run(client: Redis) -> int:
            return int(await _call_script(client, _APPEND_SHA, APPEND_SCRIPT, keys, args))

        return await self.store.run(run, default=None)

    async def length(self) -> int | None:
        """``XLEN`` of the stream, or ``None`` if unavailable."""

        async def run(client: Redis) -> int:
            return int(await client.xlen(self.key))

        return await self.store.run(run, default=None)

    async def create_group(self, group: str, start_id: str = "0") -> bool:
        """Create ``group`` (and the stream) unless it exists; whether the store answered."""

        async def run(client: Redis) -> bool:
            try:
                await client.xgroup_create(self.key, group, id=start_id, mkstream=True)
            except ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise
            return True

        return await self.store.run(run, default=False)

    async def read_group(
        self, group: str, consumer: str, *, count: int, block_ms: int, pending: bool = False
    ) -> list[StreamEntry] | None:
        """New entries for ``consumer`` (or, with ``pending``, its unacknowledged ones).

        Blocks at most ``block_ms`` (not for ``pending``). A missing group (the store lost its
        data) is created again and the call returns no entries.
        """

        async def run(client: Redis) -> list[StreamEntry]:
            try:
                reply = await client.xreadgroup(
                    group,
                    consumer,
                    {self.key: "0" if pending else ">"},
                    count=count,
                    block=None if pending else block_ms,
                )
            except ResponseError as err:
                if "NOGROUP" not in str(err):
                    raise
                await client.xgroup_create(self.key, group, id="0", mkstream=True)
                return []
            streams: list[Any] = list(reply or ())
            return _entries(streams[0][1]) if streams else []

        # the server ends a BLOCK on its cron tick (hz 10: up to 100 ms late) [measured]
        block_s = 0.0 if pending else block_ms / 1000 + _BLOCK_SLACK_S
        timeout_s = self.store.settings.op_timeout_s + block_s
        return await self.store.run(run, default=None, timeout_s=timeout_s)

    async def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int, max_rounds: int = 10
    ) -> list[StreamEntry] | None:
        """Take over entries pending for over ``min_idle_ms`` on any consumer (one that died)."""

        async def run(client: Redis) -> list[StreamEntry]:
            claimed: list[StreamEntry] = []
            cursor = "0-0"
            for _ in range(max_rounds):
                reply = await client.xautoclaim(
                    self.key, group, consumer, min_idle_ms, start_id=cursor, count=count
                )
                cursor = _text(reply[0])
                claimed.extend(_entries(reply[1]))
                if cursor == "0-0" or len(claimed) >= count:
                    break
            return claimed

        return await self.store.run(
            run, default=None, timeout_s=self.store.settings.startup_timeout_s
        )

    async def ack(self, group: str, entry_ids: Sequence[str]) -> int | None:
        """``XACK`` the entries; how many were pending, or ``None`` if unavailable."""
        if not entry_ids:
            return 0

        async def run(client: Redis) -> int:
            return int(await client.xack(self.key, group, *entry_ids))

        return await self.store.run(run, default=None)


@dataclass(slots=True)
class GroupCursor:
    """Where one consumer of a group is in the event stream, and how it reads.

    :meth:`step` is one round of every stream consumer: create the group once, claim the
    entries of dead consumers every ``claim_interval_s``, read this consumer's own pending
    entries (after a start or an outage, :meth:`rewind`) before new ones, and hand each batch to
    ``process``. ``False`` when the store did not answer (unacknowledged entries come again).
    """

    log: EventLog
    group: str
    consumer: str
    count: int = 200
    block_ms: int = 200
    claim_idle_ms: int = 60_000
    claim_interval_s: float = 30.0
    _ready: bool = False
    _backlog: bool = True
    _next_claim_s: float = 0.0

    def rewind(self) -> None:
        self._backlog = True

    async def step(self, process: Callable[[list[StreamEntry]], Awaitable[bool]]) -> bool:
        log = self.log
        if not self._ready:
            self._ready = await log.create_group(self.group)
            if not self._ready:
                return False
        if time.monotonic() >= self._next_claim_s:
            claimed = await log.claim_stale(
                self.group, self.consumer, min_idle_ms=self.claim_idle_ms, count=self.count
            )
            if claimed is None or not await process(claimed):
                return False
            self._next_claim_s = time.monotonic() + self.claim_interval_s
        entries = await log.read_group(
            self.group,
            self.consumer,
            count=self.count,
            block_ms=self.block_ms,
            pending=self._backlog,
        )
        if entries is None:
            return False
        if self._backlog and not entries:
            self._backlog = False
            return True
        return await process(entries)
