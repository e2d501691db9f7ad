"""The dashboard's live view of a slot (pure): the last 1, 5 and 60 minutes, and the guardrail.

Input is what the proxies count per minute for the rules and the guardrail
(:class:`~proxy.records.slot_counts.SlotWindows`, read by
:func:`proxy.store.slot_metrics.read_slot_windows`) and the control hash's pauses; the window
arithmetic is :mod:`proxy.govern.windows`, the same the rules and the guardrail use, so the live
numbers are the ones they act on.

**Pauses and the control chart** (per variant other than the control). The guardrail itself
judges bandit slots off-policy from the learner's joined decisions (:mod:`proxy.govern.guardrail`;
its running evidence is in the learner's checkpoint, not here): what the dashboard shows of it is
its pause records, ``paused`` with who paused and why and any numbers the record carries. Beside
them, an early signal over the live counts: the p-chart of the last 60 minutes, the control's
rate as the centre line and ``lower_control_limit`` at the variant's sample as the limit (the
arithmetic of the rules' ``ctr_lcl`` fields); ``below`` when the variant's rate is under it with
at least :data:`MIN_IMPRESSIONS` impressions on both sides, else ``ok`` or ``waiting``. The
measure is conversion rate when the slot converted in the window, else click-through rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from proxy.govern.windows import WINDOWS, lower_control_limit, window_counts
from proxy.records.slot_counts import HISTORY_MINUTES, Counts, SlotWindows, minute_of

MIN_IMPRESSIONS = 200
GUARD_MINUTES = 60


def windows_table(
    variants: Sequence[str], windows: SlotWindows, now_ms: int
) -> dict[str, dict[str, dict[str, float | None]]]:
    """``window -> variant -> {impressions, clicks, conversions, ctr, cvr}`` for 1m, 5m, 60m."""
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    for name, minutes in WINDOWS.items():
        table[name] = {}
        for variant in variants:
            counts = window_counts(windows.counts.get(variant, {}), now_ms, minutes)
            table[name][variant] = {
                "impressions": counts.impressions,
                "clicks": counts.clicks,
                "conversions": counts.conversions,
                "ctr": counts.ctr,
                "cvr": counts.cvr,
            }
    return table


def minutes_chart(variants: Sequence[str], windows: SlotWindows, now_ms: int) -> dict[str, Any]:
    """Impressions per minute over the last 60 whole minutes, per variant (a chart spec, see
    ``charts``); the current minute is still filling, so it is left out."""
    now_minute = minute_of(now_ms)
    minutes = range(now_minute - HISTORY_MINUTES, now_minute)
    return {
        "id": "live",
        "title": "Impressions per minute, last 60 whole minutes",
        "unit": "count",
        "x": [minute * 60 for minute in minutes],
        "series": [
            {
                "label": variant,
                "values": [
                    windows.counts.get(variant, {}).get(minute, Counts()).impressions
                    for minute in minutes
                ],
            }
            for variant in variants
        ],
    }


def _pause_of(
    pauses: Mapping[str, Mapping[str, Any]], slot: str, variant: str
) -> Mapping[str, Any] | None:
    return pauses.get(f"variant:{slot}:{variant}")


def guardrail_rows(
    slot: str,
    control: str,
    variants: Sequence[str],
    windows: SlotWindows,
    now_ms: int,
    pauses: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Per variant other than the control: its pause record if any, and its 60-minute rate
    against the control's lower control limit; state ``paused``, ``below``, ``ok`` or
    ``waiting`` (for a sample)."""
    totals = {v: window_counts(windows.counts.get(v, {}), now_ms, GUARD_MINUTES) for v in variants}
    overall = sum(totals.values(), Counts())
    measure = "cvr" if overall.conversions > 0 else "ctr"
    reference = totals.get(control, Counts())
    centre = getattr(reference, measure)
    rows = []
    for variant in variants:
        if variant == control:
            continue
        counts = totals[variant]
        rate = getattr(counts, measure)
        limit = None
        if centre is not None and counts.impressions > 0:
            limit = lower_control_limit(centre, counts.impressions)
        enough = min(counts.impressions, reference.impressions) >= MIN_IMPRESSIONS
        pause = _pause_of(pauses, slot, variant)
        if pause is not None:
            state = "paused"
        elif not enough or rate is None or limit is None:
            state = "waiting"
        else:
            state = "below" if rate < limit else "ok"
        rows.append(
            {
                "variant": variant,
                "measure": measure,
                "impressions": counts.impressions,
                "rate": rate,
                "control_rate": centre,
                "limit": limit,
                "state": state,
                "paused_by": None if pause is None else pause.get("by"),
                "why": None if pause is None else pause.get("why"),
                "details": {}
                if pause is None
                else {k: v for k, v in pause.items() if k not in ("by", "why", "at_ms")},
            }
        )
    return rows
