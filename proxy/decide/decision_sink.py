"""Where served decisions go: the decision stream, or the disk spool while the store cannot take
them, so that no decision served with a fresh id is missing from learning (issue #12 item 3).

A decision is written to the stream within the store's budget (50 ms by default, nothing while
its breaker is open). One that is not is appended to a :class:`~proxy.tracker.spool.RecordSpool`
in ``<data_dir>/decision-spool`` (fsync-ed, bounded, shared with the event spool's code) and the
page is served all the same. A background loop (:meth:`DecisionSink.replay_loop`) replays the
spool oldest first once the breaker lets calls through; the stream dedupes by decision id, so a
call that timed out after Redis ran it, or a replay cut short, logs nothing twice.

**Order.** From the first decision spooled until the spool is drained, newer decisions of this
process join the spool instead of the stream, so the stream keeps them in the order they were
served. The last round of a replay runs while newer decisions wait (for the few decisions written
since the previous round), then they go straight to the stream again. Segments another process
left (a crash) are replayed when found, after what that process had already logged.

**Lost** only when the spool refuses too (full: ``max_bytes``, or a disk error): counted as
``failed`` and logged, the page still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from proxy.records.decision import LoggedDecision, decode_logged, encode_record
from proxy.store.client import Store
from proxy.store.decision_log import log_decisions
from proxy.tracker.replay import replay_every
from proxy.tracker.spool import RecordSpool

log = logging.getLogger(__name__)

DecisionSpool = RecordSpool[LoggedDecision]


def decision_spool(data_dir: str | os.PathLike[str], **options: int) -> DecisionSpool:
    """The decision spool of a Vernier data directory: ``<data_dir>/decision-spool``."""
    return RecordSpool(
        Path(data_dir) / "decision-spool", encode=encode_record, decode=decode_logged, **options
    )


class DecisionSink:
    """Logs served decisions durably: the stream first, the spool as fallback, replayed in order.

    Counters (decisions, for metrics): ``logged`` (new in the stream, directly or replayed),
    ``duplicates`` (already there), ``spooled``, ``replayed`` (moved from the spool to the stream),
    ``failed`` (neither took them: lost).
    """

    def __init__(
        self,
        store: Store,
        spool: DecisionSpool,
        *,
        replay_interval_s: float = 1.0,
        spool_timeout_s: float = 2.0,
    ) -> None:
        self.store = store
        self.spool = spool
        self.replay_interval_s = replay_interval_s
        self.spool_timeout_s = spool_timeout_s
        self.logged = 0
        self.duplicates = 0
        self.spooled = 0
        self.replayed = 0
        self.failed = 0
        self._backlog = False  # this process has spooled decisions not yet replayed
        self._refused = False  # the current replay stopped at a chunk the store did not take
        self._order = asyncio.Lock()  # held by spooling and by a replay's last round

    @property
    def backlog(self) -> bool:
        """Whether this process has spooled decisions not yet replayed (new ones join them)."""
        return self._backlog

    async def log(self, records: Sequence[LoggedDecision]) -> bool:
        """Log the decisions; ``False`` only if neither the stream nor the spool took them."""
        if not records:
            return True
        backlog = self._backlog
        if not backlog and await self._append(records):
            return True
        async with self._order:
            if backlog and not self._backlog and await self._append(records):
                return True  # the spool was drained while this call waited
            return await self._spool(records)

    async def replay_once(self) -> int:
        """Move spooled decisions to the stream now, oldest first; how many were sent."""
        if not self._backlog and await self.spool.pending_bytes() == 0:
            return 0
        self._refused = False
        sent = await self.spool.replay(self._replay_write)
        if self._refused:
            return sent
        async with self._order:
            sent += await self.spool.replay(self._replay_write)
            if not self._refused:
                self._backlog = False
        return sent

    async def replay_loop(self, stop: asyncio.Event) -> None:
        """Replay every ``replay_interval_s`` while the store's breaker is not open, until ``stop``."""
        await replay_every(
            self.replay_interval_s,
            stop,
            store=self.store,
            replay=self.replay_once,
            what="decisions",
        )

    async def _append(self, records: Sequence[LoggedDecision]) -> bool:
        added = await log_decisions(self.store, records)
        if added is None:
            return False
        self.logged += added
        self.duplicates += len(records) - added
        return True

    async def _spool(self, records: Sequence[LoggedDecision]) -> bool:
        spooled = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.spool_timeout_s):
                spooled = await self.spool.append(records)
        if spooled:
            self._backlog = True
            self.spooled += len(records)
        else:
            self.failed += len(records)
            log.error("%d decisions lost: neither the store nor the spool took them", len(records))
        return spooled

    async def _replay_write(self, records: list[LoggedDecision]) -> bool:
        if not await self._append(records):
            self._refused = True
            return False
        self.replayed += len(records)
        return True
