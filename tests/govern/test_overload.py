"""The overload policy alone: levels from lag and queueing, and recovery as soon as a window
passes without pressure (a stepped clock, no sleeps)."""

from __future__ import annotations

import asyncio
import time

import pytest

from proxy.config.schema import OverloadConfig
from proxy.govern.overload import SHED_STAGES, LoadGauge, Shed, watch_loop_lag

CONFIG = OverloadConfig(
    shed_changes_lag_ms=250,
    shed_tag_lag_ms=1000,
    shed_changes_in_flight=4,
    shed_tag_in_flight=8,
    window_s=1.0,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("lag_s", "level"),
    [(0.0, Shed.NOTHING), (0.249, Shed.NOTHING), (0.25, Shed.CHANGES), (1.5, Shed.TAG)],
)
def test_sustained_lag_sets_the_level(lag_s: float, level: Shed) -> None:
    gauge = LoadGauge(CONFIG, clock=Clock())
    for _ in range(3):
        gauge.record_lag(lag_s)
    assert gauge.level() is level


def test_one_stall_is_not_overload_but_lag_over_half_the_window_is() -> None:
    clock = Clock()
    gauge = LoadGauge(CONFIG, clock=clock)
    for lag_s in (0.01, 0.01, 2.0, 0.01, 0.01):  # one stall among quick samples
        gauge.record_lag(lag_s)
        clock.now += 0.1
    assert gauge.level() is Shed.NOTHING and gauge.worst_lag_s() == pytest.approx(2.0)
    for _ in range(6):
        gauge.record_lag(0.4)
        clock.now += 0.1
    assert gauge.level() is Shed.CHANGES


def test_recovery_follows_the_window_with_no_penalty() -> None:
    clock = Clock()
    gauge = LoadGauge(CONFIG, clock=clock)
    for _ in range(10):
        gauge.record_lag(1.2)
        clock.now += 0.05
    assert gauge.level() is Shed.TAG
    clock.now += 1.0  # the pressure is gone: a window later, nothing is shed
    gauge.record_lag(0.001)
    assert gauge.level() is Shed.NOTHING and gauge.worst_lag_s() == pytest.approx(0.001)


def test_requests_in_flight_set_the_level() -> None:
    clock = Clock()
    gauge = LoadGauge(CONFIG, clock=clock)
    for expected, started in ((Shed.CHANGES, 4), (Shed.TAG, 4)):
        for _ in range(started):
            gauge.started()
        clock.now += 1.01  # a window later: only the new samples count
        for _ in range(3):
            gauge.record_lag(0.0)
        assert gauge.level() is expected
    for _ in range(8):
        gauge.finished()
    clock.now += 1.01
    gauge.record_lag(0.0)
    assert gauge.in_flight == 0 and gauge.level() is Shed.NOTHING


def test_the_order_of_shedding_never_drops_the_page() -> None:
    assert SHED_STAGES[Shed.NOTHING] < SHED_STAGES[Shed.CHANGES] < SHED_STAGES[Shed.TAG]
    assert SHED_STAGES[Shed.TAG] - SHED_STAGES[Shed.CHANGES] == {"inject"}
    for always in ("gate", "decode", "encode"):
        assert always not in SHED_STAGES[Shed.TAG]


async def test_a_blocked_event_loop_is_measured() -> None:
    gauge = LoadGauge(OverloadConfig(sample_ms=10, window_s=60))
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_loop_lag(gauge, stop))
    try:
        await asyncio.sleep(0)  # the watcher armed its timer
        blocked_s = 0.3
        time.sleep(blocked_s)  # a request hogging the loop
        deadline = time.monotonic() + 10.0
        while gauge.worst_lag_s() < blocked_s / 2:
            assert time.monotonic() < deadline, "the blocked loop's lag was never recorded"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await watcher


def test_the_level_follows_samples_leaving_the_window_without_a_new_one() -> None:
    clock = Clock()
    gauge = LoadGauge(CONFIG, clock=clock)
    gauge.record_lag(1.5)
    gauge.record_lag(1.5)
    clock.now += 0.5
    gauge.record_lag(0.0)
    assert gauge.level() is Shed.TAG and gauge.level() is Shed.TAG  # asked again: the same
    clock.now += 0.5  # the two stalls are exactly a window old: still in it
    assert gauge.level() is Shed.TAG
    clock.now += 0.01  # now they have left it, though nothing new was recorded
    assert gauge.level() is Shed.NOTHING
    gauge.record_lag(1.5)
    gauge.record_lag(1.5)
    assert gauge.level() is Shed.TAG  # a new sample is seen at once
