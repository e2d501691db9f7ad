"""Reading a stream in a consumer group: one reader for every stream, one cursor for every consumer.

:class:`StreamReader` wraps ``XGROUP CREATE … MKSTREAM``, ``XREADGROUP`` (``COUNT`` and a short
``BLOCK``), ``XAUTOCLAIM`` and ``XACK`` on one stream key; each returns ``None`` (or ``False``)
while the store is unavailable. It turns each entry's fields into a record with the stream's own
``parse``; an entry that is not a record (trimmed while pending, or written by something else)
comes back with ``None`` as its record, for the caller to acknowledge and count.

:class:`GroupCursor` is where one consumer is in its group: its own pending entries first (after a
start or an outage), then new ones. The event stream's consumers and the learner (which reads the
event and the decision streams) all read through it.

:func:`group_lags` is how far each group of some streams is behind (``XINFO GROUPS``, every stream
in one pipelined round trip), for ``/metrics``: its *lag*, the entries not yet delivered to any of
its consumers (Redis 7's ``lag`` field; None when Redis cannot tell, e.g. after entries were deleted
mid-stream), and *pending*, the entries delivered but not yet acknowledged. Both belong to the
group, not to one consumer, so every worker process reports the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from proxy.store.client import Store

T = TypeVar("T")
Entry = tuple[str, T | None]
Parse = Callable[[dict[Any, Any]], T | None]

ACK_CHUNK = 1000  # ids per XACK: a large checkpoint's acknowledgement stays a bounded command
_BLOCK_SLACK_S = 0.25


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StreamReader(Generic[T]):
    """Consumer-group reads of one stream key whose entries ``parse`` turns into records.

    ``parse`` may raise on a malformed entry (a msgspec, value or type error): the entry then
    comes back with ``None`` as its record. ``timeout_s`` on each call overrides the store's
    per-call timeout (a background reader's large batches; never the request path).
    """

    def __init__(self, store: Store, key: str, parse: Parse[T]) -> None:
        self.store = store
        self.key = key
        self._parse = parse

    def _entries(self, raw: Any) -> list[Entry[T]]:
        """``[(id, {field: value}), …]`` from redis-py into ``(id, record or None)``."""
        entries: list[Entry[T]] = []
        for entry_id, fields in raw or ():
            try:
                record = self._parse(dict(fields or {}))
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
                record = None
            entries.append((_text(entry_id), record))
        return entries

    async def create_group(
        self, group: str, start_id: str = "0", *, timeout_s: float | None = None
    ) -> bool:
        """Create ``group`` (and the stream) unless it exists; whether the store answered."""

        async def run(client: Redis) -> bool:
            try:
                await client.xgroup_create(self.key, group, id=start_id, mkstream=True)
            except ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise
            return True

        return await self.store.run(run, default=False, timeout_s=timeout_s)

    async def read_group(
        self,
        group: str,
        consumer: str,
        *,
        count: int,
        block_ms: int,
        pending: bool = False,
        after: str = "0",
        timeout_s: float | None = None,
    ) -> list[Entry[T]] | None:
        """New entries for ``consumer`` (or, with ``pending``, its unacknowledged ones after
        ``after``).

        Blocks at most ``block_ms`` (not at all for ``pending`` or ``block_ms <= 0``). A missing
        group (the store lost its data) is created again and the call returns no entries.
        """
        block = None if pending or block_ms <= 0 else block_ms

        async def run(client: Redis) -> list[Entry[T]]:
            try:
                reply = await client.xreadgroup(
                    group, consumer, {self.key: after if pending else ">"}, count=count, block=block
                )
            except ResponseError as err:
                if "NOGROUP" not in str(err):
                    raise
                await client.xgroup_create(self.key, group, id="0", mkstream=True)
                return []
            streams: list[Any] = list(reply or ())
            return self._entries(streams[0][1]) if streams else []

        # the server ends a BLOCK on its cron tick (hz 10: up to 100 ms late) [measured]
        block_s = 0.0 if block is None else block / 1000 + _BLOCK_SLACK_S
        call_s = timeout_s or self.store.settings.op_timeout_s
        return await self.store.run(run, default=None, timeout_s=call_s + block_s)

    async def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int, max_rounds: int = 10
    ) -> list[Entry[T]] | None:
        """Take over entries pending for over ``min_idle_ms`` on any consumer (one that died)."""

        async def run(client: Redis) -> list[Entry[T]]:
            claimed: list[Entry[T]] = []
            cursor = "0-0"
            for _ in range(max_rounds):
                reply = await client.xautoclaim(
                    self.key, group, consumer, min_idle_ms, start_id=cursor, count=count
                )
                cursor = _text(reply[0])
                claimed.extend(self._entries(reply[1]))
                if cursor == "0-0" or len(claimed) >= count:
                    break
            return claimed

        return await self.store.run(
            run, default=None, timeout_s=self.store.settings.startup_timeout_s
        )

    async def ack(
        self, group: str, entry_ids: Sequence[str], *, timeout_s: float | None = None
    ) -> int | None:
        """``XACK`` the entries, :data:`ACK_CHUNK` per call; how many were pending, or ``None``
        if the store did not answer (the chunks before may have been acknowledged)."""
        acked = 0
        for start in range(0, len(entry_ids), ACK_CHUNK):
            chunk = list(entry_ids[start : start + ACK_CHUNK])

            async def run(client: Redis, chunk: list[str] = chunk) -> int:
                return int(await client.xack(self.key, group, *chunk))

            done = await self.store.run(run, default=None, timeout_s=timeout_s)
            if done is None:
                return None
            acked += done
        return acked


@dataclass(slots=True)
class GroupCursor(Generic[T]):
    """Where one consumer of a group is in a stream, and how it reads.

    :meth:`read` is one batch: this consumer's own pending entries first (after a start or an
    outage, :meth:`rewind`), page by page, then new ones; ``None`` when the store did not answer
    (the cursor then rewinds itself: unacknowledged entries come again). :meth:`step` is one
    round of a consumer that processes and acknowledges each batch: create the group once, claim
    the entries of dead consumers every ``claim_interval_s`` (never if ``None``: a group with one
    consumer), read a batch and hand it to ``process``.
    """

    reader: StreamReader[T]
    group: str
    consumer: str
    count: int = 200
    block_ms: int = 200
    claim_idle_ms: int = 60_000
    claim_interval_s: float | None = 30.0
    timeout_s: float | None = None  # per call; None: the store's own
    _ready: bool = False
    _backlog: bool = True
    _pending_after: str = "0"
    _next_claim_s: float = 0.0

    @property
    def reading_backlog(self) -> bool:
        """Whether the next :meth:`read` returns this consumer's pending entries."""
        return self._backlog

    def rewind(self) -> None:
        self._backlog = True
        self._pending_after = "0"

    async def open(self) -> bool:
        """Create the group (once); whether the store answered."""
        if not self._ready:
            self._ready = await self.reader.create_group(self.group, timeout_s=self.timeout_s)
        return self._ready

    async def read(self) -> list[Entry[T]] | None:
        """The next batch (waiting at most ``block_ms`` for new entries)."""
        pending = self._backlog
        entries = await self.reader.read_group(
            self.group,
            self.consumer,
            count=self.count,
            block_ms=self.block_ms,
            pending=pending,
            after=self._pending_after,
            timeout_s=self.timeout_s,
        )
        if entries is None:
            self.rewind()
        elif pending and entries:
            self._pending_after = entries[-1][0]
        elif pending:
            self._backlog = False
        return entries

    async def ack(self, entry_ids: Sequence[str]) -> bool:
        """Acknowledge ``entry_ids``; whether the store answered."""
        acked = await self.reader.ack(self.group, entry_ids, timeout_s=self.timeout_s)
        return acked is not None

    async def step(self, process: Callable[[list[Entry[T]]], Awaitable[bool]]) -> bool:
        if not await self.open():
            return False
        if self.claim_interval_s is not None and time.monotonic() >= self._next_claim_s:
            claimed = await self.reader.claim_stale(
                self.group, self.consumer, min_idle_ms=self.claim_idle_ms, count=self.count
            )
            if claimed is None or not await process(claimed):
                return False
            self._next_claim_s = time.monotonic() + self.claim_interval_s
        backlog = self._backlog
        entries = await self.read()
        if entries is None:
            return False
        if backlog and not entries:
            return True
        return await process(entries)


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    lag: int | None
    pending: int


def _group_lag(info: dict[Any, Any]) -> GroupLag:
    fields = {_text(k): v for k, v in info.items()}
    lag = fields.get("lag")
    return GroupLag(
        group=_text(fields["name"]),
        lag=None if lag is None else int(lag),
        pending=int(fields.get("pending") or 0),
    )


async def group_lags(store: Store, keys: Mapping[str, str]) -> dict[str, list[GroupLag]] | None:
    """``name -> the groups of the stream at keys[name]`` (none before it exists), in one
    pipelined round trip (one ``XINFO GROUPS`` per stream); None if the store did not answer."""

    async def run(client: Redis) -> dict[str, list[GroupLag]]:
        async with client.pipeline(transaction=False) as pipe:
            for key in keys.values():
                pipe.xinfo_groups(key)
            replies = await pipe.execute(raise_on_error=False)
        lags: dict[str, list[GroupLag]] = {}
        for name, reply in zip(keys, replies, strict=True):
            if isinstance(reply, ResponseError):
                if "no such key" not in str(reply).lower():
                    raise reply
                reply = []  # the stream does not exist yet: no groups
            lags[name] = [_group_lag(info) for info in reply]
        return lags

    if not keys:
        return {}
    return await store.run(run, default=None)
