"""The guardrail's decisions: below the control's lower 3-sigma limit with enough sample, or not."""

from __future__ import annotations

import math

import pytest

from proxy.govern.guardrail import breaches, choose_measure
from proxy.records.slot_counts import Counts, SlotWindows

MINUTE = 1000
NOW_MS = MINUTE * 60_000 + 30_000


def now(**variants: Counts) -> SlotWindows:
    """Every variant's counts in the current minute."""
    return SlotWindows({variant: {MINUTE: counts} for variant, counts in variants.items()})


def test_variant_below_the_controls_lower_limit_with_enough_sample_is_a_breach() -> None:
    windows = now(a=Counts(1000, 0, 100), b=Counts(300, 0, 6), c=Counts(300, 0, 15))
    found = breaches("hero", "a", ["a", "b", "c"], windows, NOW_MS)
    # LCL = 0.1 - 3 * sqrt(0.1 * 0.9 / 300) = 0.04804; b at 0.02 is below, c at 0.05 is not
    assert [(b.variant, b.measure) for b in found] == [("b", "cvr")]
    breach = found[0]
    assert breach.rate == pytest.approx(0.02)
    assert breach.limit == pytest.approx(0.1 - 3 * math.sqrt(0.09 / 300))
    assert breach.n == 300 and breach.control_rate == pytest.approx(0.1)
    assert breach.why == (
        "conversion rate 2.00% below the control's lower control limit 4.80% (n=300)"
    )


def test_not_enough_sample_is_never_a_breach() -> None:
    windows = now(a=Counts(1000, 0, 100), b=Counts(199, 0, 0))
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []
    assert [b.variant for b in breaches("hero", "a", ["a", "b"], windows, NOW_MS,
                                        min_impressions=150)] == ["b"]  # fmt: skip


def test_control_without_enough_sample_judges_nothing() -> None:
    windows = now(a=Counts(150, 0, 15), b=Counts(1000, 0, 0))
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []


def test_the_control_is_never_paused() -> None:
    # the control is the worst arm here; the others are judged against it, never the reverse
    windows = now(a=Counts(1000, 0, 5), b=Counts(1000, 0, 100), c=Counts(1000, 0, 90))
    assert breaches("hero", "a", ["a", "b", "c"], windows, NOW_MS) == []


def test_ctr_when_the_slot_has_no_conversions() -> None:
    windows = now(a=Counts(1000, 50, 0), b=Counts(400, 4, 0), c=Counts(400, 16, 0))
    found = breaches("hero", "a", ["a", "b", "c"], windows, NOW_MS)
    # LCL = 0.05 - 3 * sqrt(0.05 * 0.95 / 400) = 0.01731: b (1 %) is below, c (4 %) is not
    assert [(b.variant, b.measure) for b in found] == [("b", "ctr")]
    assert found[0].why.startswith("click-through rate 1.00% below the control's lower")


def test_any_conversion_makes_the_measure_cvr() -> None:
    assert choose_measure(Counts(10, 5, 1)) == "cvr"
    assert choose_measure(Counts(10, 5, 0)) == "ctr"
    assert choose_measure(Counts(10, 0, 0)) is None
    # b clicks far less, but conversions exist: judged on CVR, where b is as good as a
    windows = now(a=Counts(1000, 100, 30), b=Counts(1000, 10, 30))
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []
    assert [b.variant for b in breaches("hero", "a", ["a", "b"], windows, NOW_MS,
                                        measure="ctr")] == ["b"]  # fmt: skip


def test_no_clicks_and_no_conversions_judges_nothing() -> None:
    windows = now(a=Counts(1000, 0, 0), b=Counts(1000, 0, 0))
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []


def test_only_the_slots_current_variants_are_judged() -> None:
    windows = now(a=Counts(1000, 0, 100), old=Counts(1000, 0, 0))
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []


def test_evidence_before_a_pause_does_not_count_again() -> None:
    earlier = {MINUTE - 10: Counts(500, 0, 0)}  # b's bad minutes, before its pause
    windows = SlotWindows(
        {"a": {MINUTE: Counts(1000, 0, 100)}, "b": {**earlier, MINUTE: Counts(50, 0, 5)}},
        paused_at_ms={"b": (MINUTE - 5) * 60_000 + 1},
    )
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []
    unmarked = SlotWindows(windows.counts)
    assert [b.variant for b in breaches("hero", "a", ["a", "b"], unmarked, NOW_MS)] == ["b"]


def test_window_minutes_bounds_the_evidence() -> None:
    windows = SlotWindows(
        {
            "a": {MINUTE: Counts(1000, 0, 100)},
            "b": {MINUTE - 30: Counts(500, 0, 0), MINUTE: Counts(10, 0, 1)},
        }
    )
    assert [b.variant for b in breaches("hero", "a", ["a", "b"], windows, NOW_MS)] == ["b"]
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS, window_minutes=15) == []


def test_the_control_is_compared_over_the_minutes_the_variant_was_shown() -> None:
    """b is new: its impressions are all in this minute, whose conversions have not arrived yet
    for anyone. Against the control's whole hour (8.15 %, LCL 3.41 % at n=300) b's 2 % would be a
    breach; over the same minute the control converts 2 % as well."""
    windows = SlotWindows(
        {
            "a": {MINUTE - 30: Counts(1000, 0, 100), MINUTE: Counts(300, 0, 6)},
            "b": {MINUTE: Counts(300, 0, 6)},
        }
    )
    assert breaches("hero", "a", ["a", "b"], windows, NOW_MS) == []
    # and when the control did convert 10 % in that minute, b is judged against that
    matured = SlotWindows({**windows.counts, "a": {MINUTE: Counts(300, 0, 30)}})
    assert [b.variant for b in breaches("hero", "a", ["a", "b"], matured, NOW_MS)] == ["b"]
