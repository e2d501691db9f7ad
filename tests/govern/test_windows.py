"""Windowed slot metrics: sliding sums, EMA and p-chart limits against hand-computed values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.govern.windows import ctr_ema, ema, lower_control_limit, metric_fields, window_counts
from proxy.records.slot_counts import Counts, SlotWindows

MINUTE = 1000  # the current minute
NOW_MS = MINUTE * 60_000 + 15_000  # a quarter into it: the oldest bucket of a window weighs 0.75

BUCKETS = {
    1000: Counts(10, 1, 0),
    999: Counts(20, 2, 1),
    996: Counts(30, 3, 0),
    995: Counts(40, 4, 2),
    994: Counts(50, 5, 5),
    940: Counts(100, 10, 0),  # 60 minutes back: the oldest bucket of the 60 m window
    939: Counts(200, 0, 0),  # beyond every window
}


def approx(counts: Counts, impressions: float, clicks: float, conversions: float) -> bool:
    return (
        math.isclose(counts.impressions, impressions)
        and math.isclose(counts.clicks, clicks)
        and math.isclose(counts.conversions, conversions)
    )


def test_one_minute_window_is_this_minute_and_the_rest_of_the_last() -> None:
    # 1000 whole + 999 x 0.75
    assert approx(window_counts(BUCKETS, NOW_MS, 1), 25, 2.5, 0.75)


def test_five_minute_window() -> None:
    # 1000, 999, 996 whole (997, 998 empty) + 995 x 0.75
    assert approx(window_counts(BUCKETS, NOW_MS, 5), 90, 9, 2.5)


def test_sixty_minute_window_weighs_the_bucket_an_hour_back() -> None:
    # 1000..994 whole = 150 / 15 / 8, + 940 x 0.75 = 75 / 7.5 / 0; 939 is out
    assert approx(window_counts(BUCKETS, NOW_MS, 60), 225, 22.5, 8)


def test_on_a_minute_boundary_the_window_is_whole_minutes() -> None:
    now_ms = MINUTE * 60_000
    assert approx(window_counts(BUCKETS, now_ms, 1), 30, 3, 1)  # 1000 (just begun) + 999
    assert approx(window_counts(BUCKETS, now_ms, 5), 100, 10, 3)  # 1000..995 (weight 1)


def test_buckets_up_to_after_minute_are_dropped() -> None:
    assert approx(window_counts(BUCKETS, NOW_MS, 5, after_minute=996), 30, 3, 1)
    assert approx(window_counts(BUCKETS, NOW_MS, 60, after_minute=1000), 0, 0, 0)


def test_window_needs_a_minute() -> None:
    with pytest.raises(ValueError):
        window_counts(BUCKETS, NOW_MS, 0)


def test_ema_seeds_with_the_first_value() -> None:
    assert ema([]) is None
    assert ema([0.5]) == 0.5
    assert ema([0.1, 0.0, 0.2]) == pytest.approx(0.3 * 0.2 + 0.7 * (0.3 * 0.0 + 0.7 * 0.1))
    assert ema([1.0, 0.0], alpha=0.5) == 0.5
    with pytest.raises(ValueError):
        ema([1.0], alpha=0.0)


def test_ctr_ema_over_the_last_sixty_buckets_oldest_first_skipping_empty_minutes() -> None:
    buckets = {
        940: Counts(10, 10, 0),  # 60 minutes back: outside the EMA's 60 buckets (941..1000)
        997: Counts(100, 10, 0),  # 0.1
        998: Counts(0, 0, 3),  # no impressions: skipped
        999: Counts(50, 0, 0),  # 0.0
        1000: Counts(20, 4, 0),  # 0.2
    }
    # 0.1 -> 0.3 * 0.0 + 0.7 * 0.1 = 0.07 -> 0.3 * 0.2 + 0.7 * 0.07 = 0.109
    assert ctr_ema(buckets, NOW_MS) == pytest.approx(0.109)
    assert ctr_ema({998: Counts(0, 0, 1)}, NOW_MS) is None


def test_lower_control_limit() -> None:
    assert lower_control_limit(0.1, 100) == pytest.approx(0.1 - 3 * 0.03)  # sqrt(.09/100)
    assert lower_control_limit(0.1, 400) == pytest.approx(0.055)
    assert lower_control_limit(0.05, 10) == 0.0  # would be negative
    assert lower_control_limit(0.0, 500) == 0.0
    assert lower_control_limit(1.7, 5) == 1.0  # a rate above 1 is clamped (no variance)
    with pytest.raises(ValueError):
        lower_control_limit(0.1, 0)


def test_metric_fields() -> None:
    windows = SlotWindows(
        {
            "a": BUCKETS,
            "b": {1000: Counts(0, 0, 2)},  # conversions only: no rates
        }
    )
    fields = metric_fields("hero", windows, NOW_MS)
    a = {k.removeprefix("metric.hero.a."): v for k, v in fields.items() if ".a." in k}
    assert a == pytest.approx(
        {
            "impressions_1m": 25,
            "clicks_1m": 2.5,
            "conversions_1m": 0.75,
            "ctr_1m": 0.1,
            "cvr_1m": 0.03,
            "impressions_5m": 90,
            "clicks_5m": 9,
            "conversions_5m": 2.5,
            "ctr_5m": 0.1,
            "cvr_5m": 2.5 / 90,
            "ctr_lcl_5m": 0.1 - 3 * math.sqrt(0.09 / 90),
            "impressions_60m": 225,
            "clicks_60m": 22.5,
            "conversions_60m": 8,
            "ctr_60m": 0.1,
            "cvr_60m": 8 / 225,
            "ctr_lcl_60m": 0.1 - 3 * math.sqrt(0.09 / 225),
            "ctr_ema": 0.1,  # every minute with impressions (994..1000) had CTR 0.1
        }
    )
    b = {k.removeprefix("metric.hero.b."): v for k, v in fields.items() if ".b." in k}
    assert b == {
        "impressions_1m": 0.0,
        "clicks_1m": 0.0,
        "conversions_1m": 2.0,
        "impressions_5m": 0.0,
        "clicks_5m": 0.0,
        "conversions_5m": 2.0,
        "impressions_60m": 0.0,
        "clicks_60m": 0.0,
        "conversions_60m": 2.0,
    }
    assert set(fields) == {f"metric.hero.a.{k}" for k in a} | {f"metric.hero.b.{k}" for k in b}


def test_no_buckets_no_fields() -> None:
    assert metric_fields("hero", SlotWindows(), NOW_MS) == {}


counts = st.builds(
    Counts,
    st.integers(0, 10_000).map(float),
    st.integers(0, 10_000).map(float),
    st.integers(0, 10_000).map(float),
)


@given(
    st.dictionaries(st.integers(MINUTE - 70, MINUTE + 2), counts, max_size=40),
    st.integers(0, 59_999),
)
def test_longer_windows_hold_more_and_limits_stay_under_the_rate(
    buckets: dict[int, Counts], offset_ms: int
) -> None:
    now_ms = MINUTE * 60_000 + offset_ms
    one, five, sixty = (window_counts(buckets, now_ms, n) for n in (1, 5, 60))
    for short, long in ((one, five), (five, sixty)):
        assert short.impressions <= long.impressions + 1e-9
        assert short.conversions <= long.conversions + 1e-9
    fields = metric_fields("hero", SlotWindows({"a": buckets}), now_ms)
    for name in ("5m", "60m"):
        if f"metric.hero.a.ctr_{name}" in fields:
            limit = fields[f"metric.hero.a.ctr_lcl_{name}"]
            assert 0.0 <= limit <= min(fields[f"metric.hero.a.ctr_{name}"], 1.0)
    if "metric.hero.a.ctr_ema" in fields:
        rates = [c.clicks / c.impressions for m, c in buckets.items()
                 if MINUTE - 60 < m <= MINUTE and c.impressions > 0]  # fmt: skip
        assert min(rates) - 1e-9 <= fields["metric.hero.a.ctr_ema"] <= max(rates) + 1e-9
