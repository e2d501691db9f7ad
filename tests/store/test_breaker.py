"""The circuit breaker as a pure state machine, stepped with a fake clock."""

from __future__ import annotations

import pytest

from proxy.store.breaker import BreakerState, CircuitBreaker

from .conftest import FakeClock


def make(
    clock: FakeClock, transitions: list[tuple[BreakerState, BreakerState]] | None = None
) -> CircuitBreaker:
    hook = (lambda old, new: transitions.append((old, new))) if transitions is not None else None
    return CircuitBreaker(
        failure_threshold=5, window_s=10.0, open_s=5.0, clock=clock, on_transition=hook
    )


def state(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call so mypy does not keep a narrowed property type between asserts."""
    return breaker.state


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()


def test_closed_until_threshold_failures_then_open() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(4):
        breaker.record_failure()
        clock.advance(1.0)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()


def test_failures_spread_beyond_the_window_never_open() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(50):  # one failure every 3 s: any 5 span 12 s > 10 s
        breaker.record_failure()
        clock.advance(3.0)
    assert state(breaker) is BreakerState.CLOSED


def test_five_failures_exactly_window_apart_open() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(5):
        breaker.record_failure()
        clock.advance(2.5)  # the 5th failure is 10.0 s after the 1st: still "within" the window
    assert state(breaker) is BreakerState.OPEN


def test_success_while_closed_does_not_forgive_failures() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(5):
        breaker.record_failure()
        breaker.record_success()  # a store failing every other call still trips
    assert state(breaker) is BreakerState.OPEN


def test_open_turns_half_open_after_open_s_and_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(4.999)
    assert not breaker.allow()
    clock.advance(0.001)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert [breaker.allow() for _ in range(100)] == [False] * 100


def test_probe_success_closes_and_clears_history() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(5.0)
    assert breaker.allow()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    for _ in range(4):
        breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED  # the failures before opening do not count again


def test_probe_failure_reopens_for_another_full_period() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(5.0)
    assert breaker.allow()
    clock.advance(0.05)
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    clock.advance(4.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()


def test_abandoned_probe_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(5.0)
    assert breaker.allow()
    breaker.record_abandoned()  # the probing request was cancelled by its client
    assert breaker.allow()


def test_unreported_probe_expires_after_open_s() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(5.0)
    assert breaker.allow()
    clock.advance(4.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()


def test_straggler_failure_while_open_does_not_extend_the_pause() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(4.0)
    breaker.record_failure()
    breaker.record_success()  # a late success while open is ignored too
    assert state(breaker) is BreakerState.OPEN
    clock.advance(1.0)
    assert state(breaker) is BreakerState.HALF_OPEN


def test_transition_hook_fires_once_per_change() -> None:
    clock = FakeClock()
    seen: list[tuple[BreakerState, BreakerState]] = []
    breaker = make(clock, seen)
    trip(breaker)
    for _ in range(10):
        breaker.allow()
        breaker.record_failure()
    clock.advance(5.0)
    breaker.allow()
    breaker.record_failure()
    clock.advance(5.0)
    breaker.allow()
    breaker.record_success()
    closed, opened, half = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
    assert seen == [
        (closed, opened),
        (opened, half),
        (half, opened),
        (opened, half),
        (half, closed),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_threshold": 0}, {"window_s": 0.0}, {"open_s": -1.0}],
)
def test_rejects_nonsense_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]
