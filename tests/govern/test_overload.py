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
def test_lag_sets_the_level(lag_s: float, level: Shed) -> None:
    gauge = LoadGauge(CONFIG, clock=Clock())
    gauge.record_lag(lag_s)
    assert gauge.level() is level


def test_the_worst_lag_of_the_window_counts_and_recovery_follows_the_window() -> None:
    clock = Clock()
    gauge = LoadGauge(CONFIG, clock=clock)
    gauge.record_lag(1.2)
    clock.now += 0.5
    gauge.record_lag(0.01)  # one quick sample does not end the episode
    assert gauge.level() is Shed.TAG
    clock.now += 0.6  # the bad sample left the window: back at once, no penalty period
    assert gauge.level() is Shed.NOTHING and gauge.lag_s() == pytest.approx(0.01)


def test_requests_in_flight_set_the_level_and_their_peak_is_remembered_for_a_window() -> None:
    clock = Clock()
    gauge = LoadGauge(CONFIG, clock=clock)
    for _ in range(4):
        gauge.started()
    assert gauge.level() is Shed.CHANGES
    for _ in range(4):
        gauge.started()
    assert gauge.level() is Shed.TAG
    for _ in range(8):
        gauge.finished()
    assert gauge.in_flight == 0 and gauge.level() is Shed.TAG  # the burst was a second ago
    clock.now += 1.01
    assert gauge.level() is Shed.NOTHING


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
        while gauge.lag_s() < blocked_s / 2:
            assert time.monotonic() < deadline, "the blocked loop's lag was never recorded"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await watcher
