"""A small circuit breaker for the store: stop paying a timeout per call while Redis is away.

Without it, every request would wait the full per-call timeout (50 ms) for a store that is down
or hung; with it, after ``failure_threshold`` failures within ``window_s`` the breaker *opens* and
calls are refused in microseconds for ``open_s``. Then it is *half-open*: exactly one probe call
goes through; success closes the breaker, failure opens it for another ``open_s``.

Failures are counted in a sliding window, and a success while closed does not reset the count: a
store that fails one call in three still costs every third page 50 ms, so it should trip too.

The breaker is pure: no I/O, no event loop, time comes from an injected ``clock`` (seconds,
monotonic), so its tests step a fake clock instead of sleeping. It is not thread-safe; one event
loop owns it.
"""

from __future__ import annotations

import collections
import enum
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    """Where the breaker is; the value is what logs and metrics show."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


TransitionHook = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    """Closed → open after N failures in a window; open → half-open after a pause; one probe.

    ``on_transition(old, new)`` is called once per state change, so callers can log per
    transition instead of per call.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        window_s: float = 10.0,
        open_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if window_s <= 0 or open_s <= 0:
            raise ValueError("window_s and open_s must be positive")
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.open_s = open_s
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        # only the last `failure_threshold` failure times matter for the window test
        self._failures: collections.deque[float] = collections.deque(maxlen=failure_threshold)
        self._opened_at = 0.0
        self._probe_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """The current state; an expired open period turns into half-open on read."""
        self._advance(self._clock())
        return self._state

    def allow(self) -> bool:
        """Whether a call may go to the store now.

        In half-open, only the first caller gets ``True`` (it becomes the probe). A probe whose
        outcome was never reported is given up after ``open_s``, so a lost report cannot wedge
        the breaker half-open forever.
        """
        now = self._clock()
        self._advance(now)
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            return False
        if self._probe_started is None or now - self._probe_started >= self.open_s:
            self._probe_started = now
            return True
        return False

    def record_success(self) -> None:
        """The store answered. Closes a half-open breaker; a late success while open is ignored."""
        self._advance(self._clock())
        if self._state is BreakerState.HALF_OPEN:
            self._failures.clear()
            self._probe_started = None
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """The store failed to answer (down, hung, refused, timed out)."""
        now = self._clock()
        self._advance(now)
        if self._state is BreakerState.HALF_OPEN:
            self._open(now)
        elif self._state is BreakerState.CLOSED:
            self._failures.append(now)
            if (
                len(self._failures) == self.failure_threshold
                and now - self._failures[0] <= self.window_s
            ):
                self._open(now)
        # OPEN: a straggler that started before the breaker opened; it must not extend the pause

    def record_abandoned(self) -> None:
        """The call ended without saying anything about the store (the caller was cancelled).

        Frees the half-open probe slot so the next caller can probe at once.
        """
        if self._state is BreakerState.HALF_OPEN:
            self._probe_started = None

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._probe_started = None
        self._failures.clear()
        self._set(BreakerState.OPEN)

    def _advance(self, now: float) -> None:
        if self._state is BreakerState.OPEN and now - self._opened_at >= self.open_s:
            self._set(BreakerState.HALF_OPEN)

    def _set(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is not new and self._on_transition is not None:
            self._on_transition(old, new)
