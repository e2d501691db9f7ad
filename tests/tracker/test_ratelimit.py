"""The token-bucket limiter: rates, refills, refunds and bounded memory, on a stepped clock."""

from __future__ import annotations

import math

import pytest

from proxy.config.schema import IntakeConfig
from proxy.tracker.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def per_minute(events: float, clock: Clock, max_keys: int = 100) -> TokenBucketLimiter:
    return TokenBucketLimiter.per_minute(events, max_keys=max_keys, clock=clock)


def test_defaults_follow_reliability_section_6() -> None:
    defaults = IntakeConfig()
    assert (defaults.session_events_per_min, defaults.address_events_per_min) == (120, 1_200)


def test_a_minute_of_burst_then_the_average_rate() -> None:
    clock = Clock()
    limiter = per_minute(120, clock)
    assert limiter.allow("s", 50) and limiter.allow("s", 50)
    assert not limiter.allow("s", 50)  # 20 left
    assert limiter.allow("s", 20)
    assert not limiter.allow("s", 1)
    clock.now_s += 0.5  # 2 events per second
    assert limiter.allow("s", 1)
    assert not limiter.allow("s", 1)


def test_10000_events_a_minute_get_through_at_the_limit_only() -> None:
    clock = Clock()
    limiter = per_minute(120, clock)
    accepted = 0
    for _ in range(1000):  # 1000 batches of 10 in one minute
        accepted += 10 * limiter.allow("s", 10)
        clock.now_s += 0.06
    assert 120 + 110 <= accepted <= 120 + 120


def test_a_refusal_spends_nothing_and_says_when_to_retry() -> None:
    clock = Clock()
    limiter = per_minute(60, clock)
    assert limiter.allow("s", 55)
    assert not limiter.allow("s", 10)
    assert limiter.retry_after_s("s", 10) == pytest.approx(5.0)
    clock.now_s += 4.9
    assert not limiter.allow("s", 10)
    clock.now_s += 0.1
    assert limiter.allow("s", 10)
    assert limiter.retry_after_s("unknown", 10) == 0.0
    assert math.isinf(limiter.retry_after_s("s", 61))


def test_keys_are_independent() -> None:
    clock = Clock()
    limiter = per_minute(10, clock)
    assert limiter.allow("a", 10)
    assert not limiter.allow("a", 1)
    assert limiter.allow("b", 10)


def test_refund_gives_back_up_to_the_burst() -> None:
    clock = Clock()
    limiter = per_minute(10, clock)
    assert limiter.allow("a", 10)
    limiter.refund("a", 4)
    assert limiter.allow("a", 4)
    assert not limiter.allow("a", 1)
    limiter.refund("a", 100)
    assert limiter.allow("a", 10) and not limiter.allow("a", 1)
    limiter.refund("never-seen", 5)
    assert len(limiter) == 1


def test_idle_buckets_are_swept_without_changing_answers() -> None:
    clock = Clock()
    limiter = per_minute(60, clock)  # refills from empty in 60 s
    for i in range(50):
        assert limiter.allow(f"k{i}", 60)
    assert len(limiter) == 50
    clock.now_s += 59.0
    assert limiter.allow("fresh", 1)
    assert len(limiter) == 51  # none idle long enough yet
    clock.now_s += 1.0
    assert limiter.allow("k0", 60)  # full again, as a swept bucket would be
    assert len(limiter) == 2  # k1..k49 swept; "fresh" (used 1 s later) too young


def test_memory_is_bounded_by_max_keys() -> None:
    clock = Clock()
    limiter = per_minute(60, clock, max_keys=10)
    for i in range(1000):
        limiter.allow(f"k{i}", 60)
    assert len(limiter) == 10
    assert not limiter.allow("k999", 1)  # the most recent keys are kept
    assert limiter.allow("k0", 60)  # the oldest was evicted: fails open


def test_lru_keeps_the_key_in_use() -> None:
    clock = Clock()
    limiter = per_minute(60, clock, max_keys=3)
    limiter.allow("hot", 60)
    for i in range(10):
        limiter.allow(f"cold{i}", 1)
        assert not limiter.allow("hot", 1)  # touched every round, never evicted
    assert len(limiter) == 3


def test_a_clock_that_steps_back_refills_nothing() -> None:
    clock = Clock()
    limiter = per_minute(60, clock)
    assert limiter.allow("s", 60)
    clock.now_s -= 30
    assert not limiter.allow("s", 1)
    clock.now_s += 31
    assert limiter.allow("s", 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_per_s": 0, "burst": 1},
        {"rate_per_s": 1, "burst": 0},
        {"rate_per_s": 1, "burst": 1, "max_keys": 0},
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(**kwargs)  # type: ignore[arg-type]
