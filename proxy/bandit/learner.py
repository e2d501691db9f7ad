"""The learner: decisions + tracker events → VW ``learn`` → published model snapshots.

One :class:`Learner` runs per store (in the proxy in the embedded mode, or ``vernier learn``).
Each round it reads a batch of the event stream, then the decision stream until it is caught up,
feeds both to the reward join (:class:`~proxy.bandit.join.JoinState`), and learns every example
whose reward window has passed: for a slot with ``policy: bandit`` in mode ``live`` or
``apprentice`` (the control served in apprentice mode is logged with ``p = 1``). Every joined
decision, learned or not (``log-only`` slots too), is appended to ``<data_dir>/decisions.jsonl``,
the log ``vernier evaluate`` reads.

**Versions.** A slot's published ``model_version`` counts its publications and only grows: each
publication is the previous one's version + 1, whatever the feature space, so a proxy knows a
snapshot is new when ``(feature_space, version)`` changed. The feature space says which model
line it belongs to: when the configuration changes a slot's feature space
(:func:`~proxy.bandit.policy_config.feature_space_hash`), a fresh model starts and its first
snapshot carries the next version; old weights are never loaded into a new feature space. A
decision logged under another feature space (its ``model_version`` is ``<feature space>/<n>``)
or with other actions than the slot's is logged but not learned.

**Checkpoints and delivery.** Both streams are read in the consumer group ``learner``;
entries are acknowledged only after a checkpoint holding their effect is stored: every
``snapshot_every_examples`` learned examples or ``snapshot_every_s`` seconds, and on stop, the
learner (1) snapshots the models that learned (in an executor thread), (2) stores the checkpoint
— the join state and those snapshots — (:mod:`proxy.store.learner_state`),
(3) publishes the snapshots (:func:`proxy.store.models.publish`), (4) acknowledges. A crash
anywhere re-reads the unacknowledged entries on the next start, after restoring the checkpoint;
the join is idempotent, so nothing is counted twice (decisions.jsonl, appended as examples are
made, may repeat a few records after a crash: ids are unique, readers can drop repeats). At start
a slot's model comes from the newest of its checkpointed and published snapshots that passes the
snapshot checks, else it starts fresh (logged; :mod:`proxy.bandit.slot_models`).

**One learner per store.** A lease (:mod:`proxy.store.lease`: 30 s, renewed while running)
keeps a second learner — another worker, or ``vernier learn`` next to an
embedded one — standing by instead of splitting the streams and publishing a rival version line.

**Store outages** never end the loop: calls fail open, the learner waits with a bounded backoff
(logged once per outage) and re-reads its unacknowledged entries when the store answers again.
Learning runs on the event loop in slices of :data:`LEARN_SLICE` examples (~60 µs each);
snapshots, checkpoints and file appends run in the default executor.

Everything the learner decides lives in the pure :class:`~proxy.bandit.learner_state.LearnerState`;
this module is the loop that feeds it from the store and the executor: the streams and their
unacknowledged entries are :class:`~proxy.bandit.learner_streams.LearnerStreams`, and where the
joined examples go besides the models (decisions.jsonl, the report, the guardrail's pauses) is
:class:`~proxy.bandit.example_sinks.ExampleSinks`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

from proxy.bandit import slot_models
from proxy.bandit.checkpoint import CheckpointRefused
from proxy.bandit.example_sinks import ExampleSinks
from proxy.bandit.learner_state import LearnerState
from proxy.bandit.learner_streams import LearnerStreams
from proxy.records.decision import DecisionRecord
from proxy.rules.compiled import RuleSet
from proxy.store import learner_state, models
from proxy.store.client import Store
from proxy.store.lease import Lease
from proxy.tasks import keep_stepping

log = logging.getLogger("vernier.learner")

DECISIONS_FILE = "decisions.jsonl"
LEARN_SLICE = 50  # examples learned between yields to the event loop


class RulesSource(Protocol):
    """What the learner needs of the live rules (``LiveRules``): the current engine."""

    @property
    def current(self) -> Any: ...  # a RuleEngine: ``.ruleset.slots``


class Learner:
    """Joins, learns and publishes; run one per store (see the module docstring).

    Counters: ``learned`` examples, ``logged`` records appended to decisions.jsonl,
    ``published`` snapshots, ``unknown_slot`` decisions of slots without a learner config,
    ``stale`` examples of another feature space or action set, ``refused`` snapshots that failed
    their checks at start, ``failures`` rounds the store did not answer, ``guardrail_pauses``
    variants the guardrail paused (:mod:`proxy.govern.guardrail`, judged on every joined
    example). ``state.counts`` has the join's own counters.
    """

    def __init__(
        self,
        store: Store,
        rules: RulesSource,
        data_dir: Path,
        *,
        snapshot_every_examples: int = 100,
        snapshot_every_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        settle_s: float = 2.0,
        count: int = 500,
        block_ms: int = 200,
        call_timeout_s: float = 2.0,
        retry_s: float = 0.5,
        max_retry_s: float = 5.0,
        lease_s: float = 30.0,
        max_pending: int = 100_000,
        results_retention_days: int = 90,
        examples_kept: int = 500,
    ) -> None:
        self.store = store
        self.rules = rules
        self.snapshot_every_examples = snapshot_every_examples
        self.snapshot_every_s = snapshot_every_s
        self.clock = clock
        self.call_timeout_s = call_timeout_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.core = LearnerState(max_pending=max_pending, settle_ms=round(settle_s * 1000))
        self.lease = Lease(
            store,
            store.keys.learner_lease_key(),
            self.owner,
            ttl_ms=round(lease_s * 1000),
            timeout_s=call_timeout_s,
        )
        self.sinks = ExampleSinks(
            store,
            Path(data_dir) / DECISIONS_FILE,
            results_ttl_s=results_retention_days * 86_400,
            examples_kept=examples_kept,
            timeout_s=call_timeout_s,
        )
        self.published = 0
        self.failures = 0
        self.streams = LearnerStreams(
            store, count=count, block_ms=block_ms, timeout_s=call_timeout_s
        )
        self._engine: object = None
        self._started = False
        self._last_commit = 0.0
        self._outage = False
        self._standby = False  # another learner holds the lease

    @property
    def state(self) -> Any:
        """The reward join (:class:`~proxy.bandit.join.JoinState`)."""
        return self.core.join

    @property
    def logged(self) -> int:
        """Records appended to decisions.jsonl."""
        return self.sinks.logged

    @property
    def learned(self) -> int:
        return self.core.learned

    @property
    def stale(self) -> int:
        return self.core.stale

    @property
    def unknown_slot(self) -> int:
        return self.core.unknown_slot

    @property
    def refused(self) -> int:
        return self.core.refused

    @property
    def guardrail_pauses(self) -> int:
        return self.core.guardrail_pauses

    @property
    def evicted(self) -> int:
        """Pending decisions dropped, oldest first, for the ``max_pending`` bound (never learned)."""
        return int(self.core.join.counts.evicted)

    @property
    def pending(self) -> int:
        """Decisions waiting for their reward window now."""
        return len(self.core.join)

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Learn until ``stop`` is set; then a last checkpoint, publication and acknowledgement."""
        try:
            await keep_stepping(
                self._round,
                stop,
                retry_s=self.retry_s,
                max_retry_s=self.max_retry_s,
                what="learner",
                on_failure=self._failed,
            )
            if self._started and await self._hold_lease() and not await self.commit():
                log.warning(
                    "learner: last checkpoint not stored; unacknowledged entries will be read again"
                )
        finally:
            await self.lease.release()
            self.core.close()

    async def _round(self) -> bool:
        answered = await self.step()
        if answered and self._outage:
            self._outage = False
            log.warning("learner: store answers again; resuming")
        return answered

    def _failed(self) -> None:
        self.failures += 1
        if not self._outage and not self._standby:
            self._outage = True
            log.warning(
                "learner: store unavailable; retrying every %.1f s at most", self.max_retry_s
            )

    async def step(self) -> bool:
        """One round; ``False`` when the store did not answer or another learner holds the lease."""
        if not await self._hold_lease():
            return False
        if not self._started and not await self._start():
            return False
        engine = self.rules.current
        if engine is not self._engine and not await self._sync(engine):
            return False
        read = await self.streams.read()
        if read is None:
            return False
        examples = self.core.absorb(
            read.decisions, read.events, now_ms=self._now_ms(), caught_up=read.caught_up
        )
        if examples:
            await self._learn(examples)
        if self._commit_due():
            return await self.commit()
        return True

    def _commit_due(self) -> bool:
        return self.core.commit_due(
            since_commit_s=time.monotonic() - self._last_commit,
            every_examples=self.snapshot_every_examples,
            every_s=self.snapshot_every_s,
            unacked=self.streams.unacked,
        )

    async def _learn(self, examples: list[DecisionRecord]) -> None:
        for start in range(0, len(examples), LEARN_SLICE):
            for record in examples[start : start + LEARN_SLICE]:
                why = self.core.learn(record)
                if why is not None:
                    log.debug("learner: example %s not learned: %s", record.id, why)
            await asyncio.sleep(0)
        for slot, restart in self.core.drift_restarts:
            drop = restart.drop
            log.warning(
                "learner: slot %s: rewards fell from %.4g to %.4g over its last %d examples; "
                "a fresh model starts (%d relearned)",
                slot, drop.before, drop.after, drop.seen - drop.at, restart.replayed,
            )  # fmt: skip
        self.core.drift_restarts.clear()
        now_ms = self._now_ms()
        await self.sinks.write_pauses(self.core.judge(examples, now_ms), now_ms)
        known = {slot.id: frozenset(slot.variants) for slot in self.rules.current.ruleset.slots}
        await self.sinks.fold_results(examples, known)
        await self.sinks.append(examples)
        # after the append: a refill reads these examples too
        await slot_models.choose_interactions(self.core, self.sinks.log_path)

    # -- checkpoint, publication, acknowledgement -----------------------------------------------

    async def commit(self) -> bool:
        """Snapshot what learned, store the checkpoint, publish, acknowledge; ``False`` if the
        store did not take the checkpoint (nothing is acknowledged then)."""
        loop = asyncio.get_running_loop()
        now_ms = self._now_ms()
        jobs = self.core.snapshot_jobs(now_ms)
        made = {slot: await loop.run_in_executor(None, job) for slot, job in jobs.items()}
        covered = self.streams.unacked_now()
        state = await loop.run_in_executor(None, self.core.join.to_bytes)
        data = self.core.checkpoint(made, state, now_ms)
        timeout_s = self.call_timeout_s * 2
        standing = orjson.dumps(self.core.guardrail_standing())
        if not await learner_state.save_checkpoint(
            self.store, data, timeout_s=timeout_s, guardrail=standing
        ):
            return False
        self._last_commit = time.monotonic()
        self.core.committed(made)
        for slot, snap in list(self.core.unpublished.items()):
            if await models.publish(self.store, snap):
                del self.core.unpublished[slot]
                self.published += 1
                log.info(
                    "learner: published %s %s/%d (%d examples)",
                    slot,
                    snap.feature_space,
                    snap.model_version,
                    snap.examples,
                )
        await self.streams.ack(covered)
        return True

    # -- start ----------------------------------------------------------------------------------

    async def _start(self) -> bool:
        """Create the groups, restore the checkpoint; ``False`` if the store did not answer."""
        if not await self.streams.open():
            return False
        found = await learner_state.load_checkpoint(self.store, timeout_s=self.call_timeout_s * 2)
        if found is None:
            return False
        if found.data is not None:
            try:
                for refused in self.core.restore(found.data):
                    log.error("learner: %s", refused)
            except CheckpointRefused as err:
                log.error(
                    "learner: checkpoint refused (%s); starting from the streams' pending entries",
                    err,
                )
        self.streams.rewind()
        self._started = True
        self._last_commit = time.monotonic()
        log.info("learner %s started: %d decisions awaiting rewards", self.owner, len(self.state))
        return True

    async def _sync(self, engine: Any) -> bool:
        """Models for the slots of ``engine``'s rule set (:func:`~proxy.bandit.slot_models.sync`)."""
        ruleset: RuleSet = engine.ruleset
        timeout_s = self.call_timeout_s * 2
        if not await slot_models.sync(self.store, self.core, ruleset, timeout_s=timeout_s):
            return False
        self._engine = engine
        return True

    # -- the lease ------------------------------------------------------------------------------

    async def _hold_lease(self) -> bool:
        """Take or renew the lease; on losing it, drop everything and stand by."""
        held = await self.lease.hold()
        if held is None:
            return False
        if held:
            if self._standby:
                self._standby = False
                log.info("learner %s: lease taken", self.owner)
            return True
        if not self._standby:  # normal beside another instance's learner; losing it is not
            self._standby = True
            if self._started:
                log.warning(
                    "learner %s: lost the lease to another learner; standing by", self.owner
                )
            else:
                log.info("learner %s: another learner holds the lease; standing by", self.owner)
        if self._started:  # another learner continues from our last checkpoint
            self.core.reset()
            self.streams.forget()
            self._engine = None
            self._started = False
        return False

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)
