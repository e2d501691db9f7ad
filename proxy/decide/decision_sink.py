"""Where served decisions go: the decision stream, or the disk spool while the store cannot take
them, so that no decision served with a fresh id is missing from learning (issue #12 item 3).

A decision is written to the stream within the store's budget (50 ms by default, nothing while
its breaker is open). One that is not is appended to a :class:`~proxy.tracker.spool.RecordSpool`
in ``<data_dir>/decision-spool`` (fsync-ed, bounded, shared with the event spool's code) and the
page is served all the same. A background loop (:meth:`DecisionSink.replay_loop`) replays the
spool oldest first once the breaker lets calls through; the stream dedupes by decision id, so a
call that timed out after Redis ran it, or a replay cut short, logs nothing twice.

**Fsync-ed without delaying the page (issue #17).** The page's write puts a decision in the
store's memory (``appendfsync everysec``: a ``kill -9`` of the store after a stalled fsync, or a
crash of its machine, loses the last second of writes). The sink holds each decision so written
until a confirmation task of its own sees it fsync-ed: one call per batch of every decision
waiting (group commit), which sends them again with ``WAITAOF 1 0``
(:func:`~proxy.store.decision_log.log_decisions_fsynced`; the stream dedupes by id, so a decision
is appended again only if the store lost it). A batch not fsync-ed within a second, or cut off by
an outage, goes to the spool (fsync-ed there) and is replayed; replays wait for the fsync too
before the spool lets go of a segment. So a page never waits for an fsync, and a decision is lost
only if the proxy and the store die within the same second. :meth:`DecisionSink.flush` confirms
what is held before the proxy stops. A server that cannot confirm an fsync (no WAITAOF, Redis
< 7.2, or a Cluster) keeps the decisions in its memory only: see ``store/fsynced_append.py``.

**Order.** From the first decision spooled until the spool is drained, newer decisions of this
process join the spool instead of the stream, so the stream keeps them in the order they were
served. The last round of a replay runs while newer decisions wait (for the few decisions written
since the previous round), then they go straight to the stream again.

**Cost.** Calls that spool at the same time share one append and one fsync (group commit, in a
task of the sink's own), so a page pays about one fsync during an outage, however many pages
are being served. Segments another process
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
from dataclasses import dataclass
from pathlib import Path

from proxy.records.decision import LoggedDecision, decode_logged, encode_record
from proxy.store.client import Store
from proxy.store.decision_log import fsynced_decision_log, log_decisions, log_decisions_fsynced
from proxy.tasks import BackgroundTasks
from proxy.tracker.replay import replay_every
from proxy.tracker.spool import RecordSpool

log = logging.getLogger(__name__)

DecisionSpool = RecordSpool[LoggedDecision]


@dataclass(frozen=True, slots=True)
class _Waiting:
    """One call's decisions waiting for the spool; ``queued_behind``: not tried on the store
    because older decisions were in the spool."""

    records: Sequence[LoggedDecision]
    queued_behind: bool
    done: asyncio.Future[bool]


def decision_spool(data_dir: str | os.PathLike[str], **options: int) -> DecisionSpool:
    """The decision spool of a Vernier data directory: ``<data_dir>/decision-spool``."""
    return RecordSpool(
        Path(data_dir) / "decision-spool", encode=encode_record, decode=decode_logged, **options
    )


class DecisionSink:
    """Logs served decisions durably: the stream first, the spool as fallback, replayed in order.

    Counters (decisions, for metrics): ``logged`` (new in the stream, directly or replayed),
    ``duplicates`` (already there), ``spooled``, ``replayed`` (moved from the spool to the stream),
    ``failed`` (neither took them: lost), ``fsynced`` (seen in the store's fsync-ed AOF),
    ``unfsynced`` (not seen fsync-ed in time: spooled), ``restored`` (lost by the store before its
    fsync and appended again by the confirmation).
    """

    def __init__(
        self,
        store: Store,
        spool: DecisionSpool,
        *,
        replay_interval_s: float = 1.0,
        spool_timeout_s: float = 2.0,
        confirm_batch: int = 5000,
        confirm_fsync: bool = True,
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
        self.fsynced = 0
        self.unfsynced = 0
        self.restored = 0
        self.confirm_batch = confirm_batch
        self._fsynced = fsynced_decision_log(store)
        self._fsynced.waits = self._fsynced.waits and confirm_fsync  # off: the old behaviour
        self._unconfirmed: list[LoggedDecision] = []  # in the store's memory, fsync not seen
        self._confirming = False
        self._backlog = False  # this process has spooled decisions not yet replayed
        self._refused = False  # the current replay stopped at a chunk the store did not take
        self._order = asyncio.Lock()  # held by a spool write and by a replay's last round
        self._waiting: list[_Waiting] = []  # calls to spool, in arrival order
        self._writer = BackgroundTasks()
        self._writing = False

    @property
    def backlog(self) -> bool:
        """Whether this process has spooled decisions not yet replayed (new ones join them)."""
        return self._backlog

    @property
    def waiting(self) -> int:
        """Decisions waiting for the spool's next group write."""
        return sum(len(w.records) for w in self._waiting)

    @property
    def unconfirmed(self) -> int:
        """Decisions in the store's memory whose fsync the sink has not seen yet."""
        return len(self._unconfirmed)

    @property
    def confirms_fsync(self) -> bool:
        """Whether the store can confirm an fsync (otherwise decisions are not held)."""
        return self._fsynced.waits

    async def log(self, records: Sequence[LoggedDecision]) -> bool:
        """Log the decisions; ``False`` only if neither the stream nor the spool took them."""
        if not records:
            return True
        queued_behind = self._backlog
        if not queued_behind and await self._append(records):
            return True
        return await self._spool(records, queued_behind=queued_behind)

    async def flush(self, timeout_s: float = 3.0) -> bool:
        """Confirm (or spool) every decision held, within ``timeout_s``; ``True`` if none is
        left held. Called before the proxy stops, so a graceful stop leaves nothing unconfirmed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self._unconfirmed or self._confirming or self._waiting or self._writing:
                    if self._unconfirmed and not self._confirming:
                        self._start_confirming()
                    await asyncio.sleep(0.01)
        return not self._unconfirmed and not self._waiting

    async def _spool(self, records: Sequence[LoggedDecision], *, queued_behind: bool) -> bool:
        """Queue ``records`` for the spool's next group write; whether the spool took them."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(records, queued_behind, done))
        if not self._writing:
            self._writing = True
            self._writer.spawn(self._write_waiting(), name="vernier-decision-spool-write")
        return await asyncio.shield(done)

    async def replay_once(self) -> int:
        """Move spooled decisions to the stream now, oldest first; how many were sent."""
        if not self._backlog and await self.spool.pending_bytes() == 0:
            return 0
        self._refused = False
        sent = await self.spool.replay(self._replay_write)
        if not self._refused:
            async with self._order:
                sent += await self.spool.replay(self._replay_write)
                if not self._refused:
                    self._backlog = False
        self.replayed += sent
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

    async def _append(self, records: Sequence[LoggedDecision], *, fsynced: bool = False) -> bool:
        """Append to the stream: in the store's memory (then held until its fsync is seen), or
        ``fsynced`` (a replay: answered once the store's AOF fsync covers it)."""
        if fsynced:
            added = await log_decisions_fsynced(self._fsynced, records)
        else:
            added = await log_decisions(self.store, records)
        if added is None:
            return False
        self.logged += added
        self.duplicates += len(records) - added
        if not fsynced and self._fsynced.waits:
            self._unconfirmed.extend(records)
            if not self._confirming:
                self._start_confirming()
        return True

    def _start_confirming(self) -> None:
        self._confirming = True
        self._writer.spawn(self._confirm_held(), name="vernier-decision-fsync")

    async def _confirm_held(self) -> None:
        """Group commit of the fsync: every decision held, in batches of ``confirm_batch``, sent
        again with ``WAITAOF``; a batch not fsync-ed in time goes to the spool."""
        try:
            while self._unconfirmed:
                batch = self._unconfirmed[: self.confirm_batch]
                del self._unconfirmed[: len(batch)]
                added: int | None = None
                try:
                    added = await log_decisions_fsynced(self._fsynced, batch)
                except Exception:  # a bug: spool them rather than lose them
                    log.exception("decision fsync confirmation failed")
                if added is None:
                    self.unfsynced += len(batch)
                    await self._spool(batch, queued_behind=False)
                elif self._fsynced.waits:
                    self.fsynced += len(batch)
                    self.restored += added
        finally:
            self._confirming = False

    async def _write_waiting(self) -> None:
        """Group commit: every call waiting to spool, in order, in one append (one fsync), so an
        outage costs a page one fsync, not its place in a queue of them."""
        try:
            while self._waiting:
                group: list[_Waiting] = []
                try:
                    async with self._order:
                        group, self._waiting = self._waiting, []  # all that came while waiting
                        await self._write_group(group)
                except Exception:  # a bug: these decisions are lost, the pages still served
                    log.exception("decision spool write failed")
                finally:
                    for waiting in group:
                        if not waiting.done.done():
                            self.failed += len(waiting.records)
                            waiting.done.set_result(False)
        finally:
            self._writing = False

    async def _write_group(self, group: list[_Waiting]) -> None:
        if not self._backlog:  # drained meanwhile: the calls queued behind it try the store
            behind = [w for w in group if w.queued_behind]
            if behind and await self._append([r for w in behind for r in w.records]):
                for waiting in behind:
                    waiting.done.set_result(True)
                group = [w for w in group if not w.queued_behind]
        records = [r for w in group for r in w.records]
        if not records:
            return
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
        for waiting in group:
            waiting.done.set_result(spooled)

    async def _replay_write(self, records: list[LoggedDecision]) -> bool:
        if not await self._append(records, fsynced=True):
            self._refused = True
            return False
        return True
