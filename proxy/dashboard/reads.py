"""What the dashboard and ``vernier report`` read from the store, each in as few round trips as it
can: the results aggregates of some slots over a period (then the report, built off the event
loop), the pauses, the guardrail's standing and the per-minute windows of the live view."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from typing import Any

import orjson

from proxy.records.results_buckets import Period
from proxy.records.slot_counts import SlotWindows
from proxy.results.doubly_robust import ExampleSet
from proxy.results.report import SlotInfo, report
from proxy.store import control, learner_state
from proxy.store.client import Store
from proxy.store.joined_examples import read_examples
from proxy.store.results import read_slot
from proxy.store.slot_metrics import read_slot_windows

# How long one report's store reads may take, for the dashboard and `vernier report` alike: the
# results of a busy site on a busy machine, not a page view's budget (at 2 s the dashboard
# answered 503 while the store was merely slow)
STORE_READ_TIMEOUT_S = 10.0


async def read_report(
    store: Store,
    infos: Sequence[SlotInfo],
    period: Period,
    *,
    timeout_s: float | None = None,
    overview: bool = False,
    examples_limit: int = 0,
) -> dict[str, Any] | None:
    """The report (``docs/report-format.md``) of ``infos`` over ``period`` (with ``overview``,
    only the fields of :func:`~proxy.results.report.slot_overview`); ``None`` if the store
    cannot answer. Unless ``overview``, each bandit slot's most recent ``examples_limit``
    joined examples feed its doubly robust section (0: none read, the section is null). The
    statistics run in a thread: they must not hold up the event loop."""
    found = await asyncio.gather(
        *(read_slot(store, i.id, i.variants, period, timeout_s=timeout_s) for i in infos)
    )
    if any(buckets is None for buckets in found):
        return None
    pairs = [(info, buckets) for info, buckets in zip(infos, found, strict=True) if buckets]
    examples = await _examples(store, infos, period, 0 if overview else examples_limit, timeout_s)
    if examples is None:
        return None
    build = functools.partial(
        report,
        pairs,
        bucket=period.kind,
        first=period.first,
        last=period.last,
        now_ms=int(time.time() * 1000),
        overview=overview,
        examples=examples,
    )
    return await asyncio.get_running_loop().run_in_executor(None, build)


async def _examples(
    store: Store, infos: Sequence[SlotInfo], period: Period, limit: int, timeout_s: float | None
) -> dict[str, ExampleSet] | None:
    """Each bandit slot's joined examples decided in ``period`` (none with ``limit`` 0)."""
    bandits = [i.id for i in infos if i.policy == "bandit"] if limit > 0 else []
    found = await asyncio.gather(
        *(read_examples(store, slot, since_ms=period.start_ms, limit=limit, timeout_s=timeout_s)
          for slot in bandits)
    )  # fmt: skip
    if any(sample is None for sample in found):
        return None
    return {
        slot: ExampleSet(sample.records, limit, sample.limited)
        for slot, sample in zip(bandits, found, strict=True)
        if sample is not None
    }


def _record(value: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {"why": value}
    return parsed if isinstance(parsed, dict) else {"why": value}


async def read_pauses(store: Store) -> dict[str, dict[str, Any]] | None:
    """Control hash field (``slot:<id>``, ``rule:<id>``, ``variant:<slot>:<id>``) -> its record
    (``why``, ``by``, ``at_ms`` and whatever else the pauser wrote); ``None`` if unreachable."""
    fields = await control.read(store)
    if fields is None:
        return None
    return {name: _record(value) for name, value in fields.items()}


async def read_guardrail_standing(
    store: Store, slot: str, *, timeout_s: float | None = None
) -> list[dict[str, Any]] | None:
    """The guardrail's own evidence for ``slot``'s variants as the learner last checkpointed it
    (:meth:`~proxy.govern.guardrail.SlotGuardrail.standing`; empty before the learner's first
    checkpoint, or for an unguarded slot); ``None`` if the store cannot answer."""
    found = await learner_state.load_guardrail_standing(store, timeout_s=timeout_s or 2.0)
    if found is None:
        return None
    if found.data is None:
        return []
    try:
        per_slot = orjson.loads(found.data)
    except orjson.JSONDecodeError:
        return []
    rows = per_slot.get(slot, []) if isinstance(per_slot, dict) else []
    return [row for row in rows if isinstance(row, dict)]


async def read_windows(
    store: Store, slots: Sequence[str], now_ms: int, *, timeout_s: float | None = None
) -> dict[str, SlotWindows] | None:
    """Each slot's per-minute counts of the last hour; ``None`` if the store cannot answer."""
    found = await asyncio.gather(
        *(read_slot_windows(store, slot, now_ms, timeout_s=timeout_s) for slot in slots)
    )
    if any(windows is None for windows in found):
        return None
    return {slot: w for slot, w in zip(slots, found, strict=True) if w is not None}
