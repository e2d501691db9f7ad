"""A split experiment among a world file's visitors, in process and seeded: the known-answer
checks of the results report (issue #13, item 6).

Each visitor draws a context from the world (:mod:`proxy.simulate.world_file`), is assigned a
variant by the proxy's own split (:func:`proxy.rules.split.assign`, hashed per visitor), sees it,
and clicks with the world's hidden rate for that context and variant. Decisions, impressions and
clicks become the records the proxy logs, folded by the results consumer's pure core
(:mod:`proxy.results.fold`), deduplicated by member as the store does, and reported by
:func:`proxy.results.report.slot_report` — everything but the HTTP and the store, so hundreds of
seeds run in seconds. ``served`` weights that differ from ``configured`` ones plant a broken
split (an assignment bug) that the sample-ratio check must flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from proxy.records.decision import LoggedDecision
from proxy.records.event_record import EventRecord
from proxy.records.events import Click, Impression
from proxy.records.results_buckets import HOUR_MS, Tally
from proxy.results.fold import fold_decision, fold_event, summed
from proxy.results.report import SlotInfo, slot_report
from proxy.rules.split import assign, split_probabilities
from proxy.simulate.world_file import WorldSpec

SLOT = "hero"
DAYS = 7


def run_split(
    world: WorldSpec,
    seed: int,
    visitors: int,
    configured: Mapping[str, float],
    served: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The report of one seeded run (``docs/report-format.md``, one slot)."""
    rng = np.random.default_rng(seed)
    split = split_probabilities(served or configured, world.variants)
    contexts = world.contexts()
    drawn = rng.choice(len(contexts), size=visitors, p=[p for _, p in contexts])
    clicks = rng.random(visitors)
    rates = [world.rates(context) for context, _ in contexts]
    known = {SLOT: frozenset(world.variants)}
    actions = tuple(v for v, _ in split)
    pmf = tuple(p for _, p in split)
    step_ms = DAYS * 24 * HOUR_MS // visitors
    tallies: list[Tally] = []
    for i in range(visitors):
        visitor, ts_ms = f"s{seed}v{i}", i * step_ms
        variant, p = assign(split, visitor, SLOT, f"seed-{seed}")
        decision = LoggedDecision(
            id=f"d{i}", slot=SLOT, actions=actions, chosen=variant, p=p, pmf=pmf,
            reason="split", ts_ms=ts_ms, session=visitor, visitor=visitor,
        )  # fmt: skip
        tallies += fold_decision(decision, known)
        events: list[Impression | Click] = [
            Impression(id=f"i{i}", ts=ts_ms, slot=SLOT, variant=variant, decision=decision.id)
        ]
        if clicks[i] < rates[drawn[i]][variant]:
            events.append(
                Click(id=f"c{i}", ts=ts_ms, target="#hero a", slot=SLOT, variant=variant,
                      decision=decision.id)
            )  # fmt: skip
        for event in events:
            record = EventRecord(
                event=event, page=f"p{i}", session=visitor, visitor=visitor, received_ms=ts_ms
            )
            tallies += fold_event(record, {}, known)
    info = SlotInfo(SLOT, "split", world.control, world.variants, dict(configured))
    return slot_report(info, summed(tallies))


def significant_winner(slot: Mapping[str, Any], alpha: float = 0.05) -> bool:
    """Whether any variant differs from the control after Holm's correction."""
    return any(v["p_holm"] is not None and v["p_holm"] < alpha for v in slot["variants"])
