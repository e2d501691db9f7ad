"""The live view: window sums and the guardrail's control chart over per-minute counts."""

from __future__ import annotations

import math

import pytest

from proxy.records.slot_counts import Counts, SlotWindows
from proxy.results.live import guardrail_rows, minutes_chart, windows_table

NOW_MS = 1_000 * 60_000  # the start of minute 1000: the oldest bucket of a window weighs 1


def windows(b_clicks: float, conversions: float = 0.0) -> SlotWindows:
    per_minute = {
        "a": {999: Counts(300, 30, conversions), 1000: Counts(100, 10)},
        "b": {999: Counts(300, b_clicks), 1000: Counts(100, 0)},
    }
    return SlotWindows(per_minute)


def test_windows_table_sums_the_last_1_5_and_60_minutes() -> None:
    table = windows_table(("a", "b"), windows(9), NOW_MS)
    assert table["1m"]["a"]["impressions"] == 400  # minute 1000 and all of 999
    assert table["60m"]["a"]["ctr"] == pytest.approx(40 / 400)
    assert table["60m"]["b"]["clicks"] == 9


def test_a_variant_below_the_controls_lower_limit_is_flagged() -> None:
    (row,) = guardrail_rows("hero", "a", ("a", "b"), windows(9), NOW_MS, {})
    p = 40 / 400
    assert row["measure"] == "ctr" and row["control_rate"] == pytest.approx(p)
    assert row["limit"] == pytest.approx(p - 3 * math.sqrt(p * (1 - p) / 400))
    assert row["rate"] == pytest.approx(9 / 400) and row["state"] == "below"
    (same,) = guardrail_rows("hero", "a", ("a", "b"), windows(38), NOW_MS, {})
    assert same["state"] == "ok"


def test_conversions_make_the_measure_cvr_and_a_pause_wins() -> None:
    pauses = {"variant:hero:b": {"by": "guardrail", "why": "harm", "at_ms": 5, "wealth": 1e3}}
    (row,) = guardrail_rows("hero", "a", ("a", "b"), windows(9, 8), NOW_MS, pauses)
    assert row["measure"] == "cvr" and row["state"] == "paused"
    assert (row["paused_by"], row["why"]) == ("guardrail", "harm")
    assert row["details"] == {"wealth": 1e3}  # the numbers a pause record carries


def test_too_small_a_sample_waits() -> None:
    small = SlotWindows({"a": {1000: Counts(50, 5)}, "b": {1000: Counts(50, 0)}})
    (row,) = guardrail_rows("hero", "a", ("a", "b"), small, NOW_MS, {})
    assert row["state"] == "waiting"


def test_minutes_chart_has_the_last_60_minutes() -> None:
    chart = minutes_chart(("a", "b"), windows(9), NOW_MS)
    assert chart["x"][-1] == 999 * 60 and len(chart["x"]) == 60  # whole minutes only
    assert [s["values"][-2:] for s in chart["series"]] == [[0, 300], [0, 300]]
