"""The models the proxy decides with: the latest published snapshot of each bandit slot.

Every ``poll_s`` the registry asks the store for each slot's published version (one small read
per slot) and, when it changed, loads the snapshot off the event loop, checks it (checksum,
feature space, canary) and swaps it in; a snapshot that is refused leaves the last good model
live. Until a slot has a snapshot, or when its feature space changed with the rules, it decides
with a fresh model (uniform scores: exploration). The decision path only reads a dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from proxy.bandit.model import BanditModel
from proxy.bandit.snapshot import load_snapshot
from proxy.records.snapshot import SnapshotRefused
from proxy.rules.compiled import CompiledSlot, SlotLearner
from proxy.rules.engine import RulesSource
from proxy.store import models
from proxy.store.client import Store

log = logging.getLogger("vernier.bandit")


@dataclass(frozen=True, slots=True)
class LiveModel:
    model: BanditModel
    feature_space: str
    version: int  # 0: a fresh model, no snapshot yet

    @property
    def name(self) -> str:
        """``<feature space>/<version>``: logged with every decision it makes."""
        return f"{self.feature_space}/{self.version}"


class ModelRegistry:
    def __init__(self, store: Store | None, rules: RulesSource, *, poll_s: float = 2.0) -> None:
        self._store = store
        self._rules = rules
        self._poll_s = poll_s
        self._live: dict[str, LiveModel] = {}
        self.refused_total = 0

    def model_for(self, slot: CompiledSlot) -> LiveModel:
        """The slot's live model, a fresh one if it has none for its feature space."""
        learner = slot.learner
        assert learner is not None
        live = self._live.get(slot.id)
        if live is None or live.feature_space != learner.feature_space:
            live = LiveModel(BanditModel(learner.policy), learner.feature_space, 0)
            self._live[slot.id] = live
        return live

    async def refresh(self) -> None:
        """Load every snapshot newer than the live model of its slot (and make the fresh models
        of new slots now, off the request path: a VW workspace takes milliseconds to start)."""
        for slot in self._rules.current.ruleset.slots:
            learner = slot.learner
            if learner is None or not learner.bandit or learner.mode == "log-only":
                continue
            self.model_for(slot)
            if self._store is None:
                continue
            published = await models.latest_version(self._store, slot.id)
            live = self._live.get(slot.id)
            if (
                published is None
                or published.feature_space != learner.feature_space
                or (
                    live is not None
                    and live.feature_space == published.feature_space
                    and live.version >= published.version
                )
            ):
                continue
            await self._load(self._store, slot, learner)

    async def _load(self, store: Store, slot: CompiledSlot, learner: SlotLearner) -> None:
        try:
            snapshot = await models.fetch(store, slot.id)
            if snapshot is None:
                return
            model = await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: load_snapshot(
                    snapshot, learner.policy, learner.actions, feature_space=learner.feature_space
                ),
            )
        except SnapshotRefused as err:
            self.refused_total += 1
            log.error("model snapshot refused, the last good model stays: %s", err)
            return
        old = self._live.get(slot.id)
        self._live[slot.id] = LiveModel(model, snapshot.feature_space, snapshot.model_version)
        log.info(
            "slot %s decides with model %s/%d",
            slot.id,
            snapshot.feature_space,
            snapshot.model_version,
        )
        if old is not None:
            old.model.finish()

    async def poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)

    def close(self) -> None:
        for live in self._live.values():
            live.model.finish()
        self._live.clear()
