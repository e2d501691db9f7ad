"""Where accepted events go: the event stream in Redis, or the local spool while Redis is away.

``store(records)`` is the intake's acknowledgement boundary (docs/design.md §6): ``True`` means the
batch is in Redis (appended once, by event id) or fsync-ed in the spool, and the intake may answer
202; ``False`` means neither, and the intake answers 503 so the tracker keeps the batch and retries.

A background task started by the app (``start``/``stop``, from its ``cleanup_ctx``) replays the
spool every ``replay_interval_s`` while the spool holds segments and the store's breaker is not
open. Replayed records are deduplicated by event id like any retry, so a replay interrupted by a
crash or a second outage is simply done again. While a spool is replayed, newer events go straight
to Redis: the stream is then not in arrival order across an outage (consumers must not assume it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from proxy.records.event_record import EventRecord
from proxy.store.event_log import EventLog
from proxy.tracker.replay import replay_every
from proxy.tracker.spool import EventSpool


class EventSink:
    """Stores accepted event batches durably: Redis first, the disk spool as fallback.

    Counters (records, for metrics): ``stored`` (new in Redis), ``duplicates`` (already there),
    ``spooled``, ``replayed`` (moved from the spool to Redis), ``failed`` (refused: 503).
    """

    def __init__(
        self,
        event_log: EventLog,
        spool: EventSpool,
        *,
        replay_interval_s: float = 1.0,
        spool_timeout_s: float = 2.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.event_log = event_log
        self.spool = spool
        self.replay_interval_s = replay_interval_s
        self.spool_timeout_s = spool_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.stored = 0
        self.duplicates = 0
        self.spooled = 0
        self.replayed = 0
        self.failed = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def store(self, records: Sequence[EventRecord]) -> bool:
        """Store the batch durably; ``False`` only if neither Redis nor the spool took it."""
        if not records:
            return True
        added = await self.event_log.append(records)
        if added is not None:
            self.stored += added
            self.duplicates += len(records) - added
            return True
        spooled = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.spool_timeout_s):
                spooled = await self.spool.append(records)
        if spooled:
            self.spooled += len(records)
        else:
            self.failed += len(records)
        return spooled

    async def replay_once(self) -> int:
        """Move spooled records to Redis now; how many were sent (0 while the store is down)."""
        sent = await self.spool.replay(self._replay_write)
        self.replayed += sent
        return sent

    async def _replay_write(self, records: list[EventRecord]) -> bool:
        added = await self.event_log.append(records)
        if added is None:
            return False
        self.stored += added
        self.duplicates += len(records) - added
        return True

    async def start(self) -> None:
        """Start the replay task (idempotent)."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._replay_loop(), name="vernier-event-spool-replay")

    async def stop(self) -> None:
        """Stop the replay task (cancelled after ``stop_timeout_s``) and seal the spool."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.stop_timeout_s):
                    await asyncio.shield(task)
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.spool.close()

    async def _replay_loop(self) -> None:
        await replay_every(
            self.replay_interval_s,
            self._stopping,
            store=self.event_log.store,
            replay=self._replay_pending,
            what="events",
        )

    async def _replay_pending(self) -> int:
        return await self.replay_once() if await self.spool.pending_bytes() > 0 else 0
