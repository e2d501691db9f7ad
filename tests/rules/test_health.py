"""Per-rule outcomes and the breaker that skips a rule that keeps failing."""

from __future__ import annotations

import logging

import pytest

from proxy.rules.health import RuleHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_within_the_window_trip_and_a_probe_closes_the_breaker_within_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    health = RuleHealth(failures_to_trip=3, window_s=60, open_s=5, clock=clock)
    for _ in range(2):
        health.record("r", "failed")
    assert not health.is_open("r")
    clock.now += 61  # the first two fall out of the window
    health.record("r", "failed")
    assert not health.is_open("r")
    with caplog.at_level(logging.ERROR, "vernier.rules"):
        health.record("r", "failed")
        health.record("r", "failed")
    assert health.is_open("r") and not health.is_open("other")
    assert "rule breaker opened: r failed 3 times" in caplog.text
    assert health.tripped() == {"r": pytest.approx(5)}
    clock.now += 5
    assert not health.is_open("r")  # this page is the probe
    assert health.is_open("r")  # the others wait for its outcome
    health.record("r", "applied")
    assert not health.is_open("r") and health.tripped() == {}


def test_a_failed_probe_doubles_the_pause_up_to_the_cap() -> None:
    clock = Clock()
    health = RuleHealth(failures_to_trip=1, open_s=5, max_open_s=12, clock=clock)
    health.record("r", "failed")
    pauses = []
    for _ in range(4):
        pauses.append(health.tripped()["r"])
        clock.now += pauses[-1]
        assert not health.is_open("r")
        health.record("r", "failed")
    assert pauses == [5, 10, 12, 12]


def test_late_outcomes_and_lost_probes_do_not_wedge_the_breaker() -> None:
    clock = Clock()
    health = RuleHealth(failures_to_trip=1, open_s=5, clock=clock)
    health.record("r", "failed")
    health.record("r", "failed")  # a page that started before the trip: no longer pause
    health.record("r", "applied")  # nor does it close the breaker
    assert health.tripped() == {"r": pytest.approx(5)}
    clock.now += 5
    assert not health.is_open("r")  # a probe whose page never reports (its conditions failed)
    clock.now += 5
    assert not health.is_open("r")  # given up: the next page probes
    health.record("r", "missed")
    assert health.tripped() == {} and not health.is_open("r")


def test_misses_are_counted_never_tripped() -> None:
    health = RuleHealth(failures_to_trip=1)
    for _ in range(100):
        health.record("r", "missed")
    health.record_all(["a", "a", "b"], "applied")
    assert not health.is_open("r")
    assert health.totals["r", "missed"] == 100 and health.totals["a", "applied"] == 1
    assert health.take_unflushed()["r", "missed"] == 100
    assert not health.take_unflushed()  # taken once
