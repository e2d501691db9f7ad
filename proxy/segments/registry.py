"""The learned-segment model every proxy assigns with, polled from the store like bandit models.

Every ``poll_s`` the registry reads the published version (one small read) and, when it changed,
fetches and checks the model (``decode_model``: checksum, shapes, finite numbers; features this
version builds) before swapping it in; a refused model is logged, counted and the last good one
stays. :class:`ClusterContext` is the match stage's context field: it sets ``cluster`` from the
visitor's profile fields before the named segments are evaluated, so ``cluster == 'c3'`` works
in segment conditions, rules and pins, and the bandit's ``segments`` namespace sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from proxy.records.segment_model import SegmentModelRefused, decode_model
from proxy.request_view import RequestView
from proxy.rules.segments import CLUSTER_FIELD
from proxy.segments.assign import Assigner
from proxy.store import segment_models
from proxy.store.client import Store

log = logging.getLogger("vernier.segments")


class SegmentModels:
    """The live :class:`Assigner` (None until a model is published)."""

    def __init__(self, store: Store | None, *, poll_s: float = 10.0) -> None:
        self._store = store
        self._poll_s = poll_s
        self.current: Assigner | None = None
        self.refused_total = 0
        self.loaded_total = 0

    async def refresh(self) -> None:
        if self._store is None:
            return
        published = await segment_models.latest_version(self._store)
        live = self.current.model.version if self.current is not None else 0
        if published is None or published == live:
            return
        data = await segment_models.fetch(self._store)
        if data is None:
            return
        try:
            assigner = Assigner(decode_model(data))
        except (SegmentModelRefused, ValueError) as err:
            self.refused_total += 1
            log.error("segment model refused, the last good one stays: %s", err)
            return
        self.current = assigner
        self.loaded_total += 1
        log.info("assigning learned segments with model %d", assigner.model.version)

    async def poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)


class ClusterContext:
    """Adds ``cluster`` to a page's context (the match stage's ``context_fields``)."""

    def __init__(self, models: SegmentModels) -> None:
        self._models = models

    def add_to(self, context: dict[str, object], request: RequestView) -> None:
        assigner = self._models.current
        if assigner is None:
            return
        label = assigner.assign(context)
        if label is not None:
            context[CLUSTER_FIELD] = label
