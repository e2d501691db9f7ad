"""Windowed slot metrics for rule conditions, read in the background (never per request).

Rules and pins may compare ``metric.<slot>.<variant>.<measure>_<window>`` fields (see
:func:`proxy.govern.windows.metric_fields`), e.g. "the hero's current variant has a 5-minute CTR
under 2 % with at least 200 impressions". The slots named by any condition are re-read every
``poll_s`` (one store call each) and their fields cached; ``metric.<slot>.current.*`` resolves to
the variant the visitor last saw (the ``vernier_seen`` cookie), per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping

from proxy.govern.windows import metric_fields
from proxy.rules.compiled import RuleSet
from proxy.rules.conditions import fields_used
from proxy.rules.engine import RulesSource
from proxy.store.client import Store
from proxy.store.slot_metrics import read_slot_windows

PREFIX = "metric."


def slots_named(ruleset: RuleSet) -> frozenset[str]:
    """Slots whose metrics some rule or pin condition reads, or whose bandit waits for evidence."""
    conditions = [rule.when for rule in ruleset.rules if rule.when is not None]
    conditions += [pin.when for slot in ruleset.slots for pin in slot.pins]
    named = {
        name.split(".")[1]
        for node in conditions
        for name in fields_used(node)
        if name.startswith(PREFIX) and name.count(".") >= 3
    }
    waiting = {slot.id for slot in ruleset.slots if slot.limits.min_impressions > 0}
    return frozenset(named | waiting)


def has_evidence(fields: Mapping[str, float], slot: str, variants: Iterable[str], n: int) -> bool:
    """Whether every variant of ``slot`` had ``n`` impressions in the last hour."""
    return all(fields.get(f"{PREFIX}{slot}.{v}.impressions_60m", 0.0) >= n for v in variants)


def with_current(fields: Mapping[str, float], shown: Iterable[tuple[str, str]]) -> dict[str, float]:
    """``metric.<slot>.current.*`` for each (slot, variant the visitor saw)."""
    current: dict[str, float] = {}
    for slot, variant in shown:
        own = f"{PREFIX}{slot}.{variant}."
        alias = f"{PREFIX}{slot}.current."
        current.update({alias + k[len(own) :]: v for k, v in fields.items() if k.startswith(own)})
    return current


class MetricCache:
    def __init__(self, store: Store, rules: RulesSource, *, poll_s: float = 1.0) -> None:
        self._store = store
        self._rules = rules
        self._poll_s = poll_s
        self.fields: dict[str, float] = {}
        self.slots: frozenset[str] = frozenset()

    async def refresh(self) -> None:
        self.slots = slots_named(self._rules.current.ruleset)
        fields: dict[str, float] = {}
        now_ms = int(time.time() * 1000)
        for slot in sorted(self.slots):
            # a background read: a second, not the request path's 50 ms
            windows = await read_slot_windows(self._store, slot, now_ms, timeout_s=1.0)
            if windows is None:  # the store cannot answer: keep what was read last
                fields.update(
                    {k: v for k, v in self.fields.items() if k.startswith(f"{PREFIX}{slot}.")}
                )
                continue
            fields.update(metric_fields(slot, windows, now_ms))
        self.fields = fields

    async def poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)
