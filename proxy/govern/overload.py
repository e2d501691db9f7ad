"""The overload policy, in one place: what a worker stops doing when it cannot keep up.

Two signals, both of this worker's own state (docs/overload.md):

- **event-loop lag**: how late a timer that should fire every ``sample_ms`` wakes up. A loop that
  runs late makes every request on it wait, whatever the request is;
- **queueing**: requests in the pipeline at once (accepted, not yet answered).

The level is the worst signal over the last ``window_s`` (a second by default), so it rises within
one sample of the pressure and falls back as soon as a window passes without it: there is no
penalty period, and a busy *machine* that still lets the loop run on time sheds nothing.

What is shed, in a fixed order, never the page itself:

1. ``CHANGES``: the profile read, matching, decisions and rewriting; the page is the origin's bytes
   with the tracker's tag (visitors still count);
2. ``TAG``: the tag as well; the page is exactly the origin's bytes.

:class:`LoadGauge` is pure (fed samples, given a clock); :func:`watch_loop_lag` is the background
loop that feeds it; the pipeline asks :meth:`LoadGauge.level` once per request, after the origin
answered, and skips the level's :data:`SHED_STAGES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import deque
from collections.abc import Callable

from proxy.config.schema import OverloadConfig


class Shed(enum.IntEnum):
    """How much optional work is shed; the value orders the levels."""

    NOTHING = 0
    CHANGES = 1
    TAG = 2


# the after-origin stages each level skips (pipeline.py names them); decode and encode always run,
# so the client gets the origin's answer whatever is shed
SHED_STAGES: dict[Shed, frozenset[str]] = {
    Shed.NOTHING: frozenset(),
    Shed.CHANGES: frozenset({"profile", "match", "decide", "rewrite"}),
    Shed.TAG: frozenset({"profile", "match", "decide", "rewrite", "inject"}),
}


class LoadGauge:
    """This worker's load: recent event-loop lag and requests in flight, and the shed level."""

    def __init__(
        self, config: OverloadConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self._lags: deque[tuple[float, float]] = deque()  # (when, lag_s), newest last
        self.in_flight = 0
        self.peak_in_flight = 0  # over the current window, like the lag
        self._peaks: deque[tuple[float, int]] = deque()

    def record_lag(self, lag_s: float) -> None:
        now = self._clock()
        self._lags.append((now, max(lag_s, 0.0)))
        self._forget(now)

    def started(self) -> None:
        self.in_flight += 1
        now = self._clock()
        self._peaks.append((now, self.in_flight))
        self._forget(now)

    def finished(self) -> None:
        self.in_flight -= 1

    def lag_s(self) -> float:
        """The worst event-loop lag over the window (0 when no sample is recent)."""
        self._forget(self._clock())
        return max((lag for _, lag in self._lags), default=0.0)

    def queued(self) -> int:
        """The most requests in flight at once over the window, and now."""
        self._forget(self._clock())
        return max([self.in_flight, *(n for _, n in self._peaks)])

    def level(self) -> Shed:
        config = self.config
        lag_ms, queued = self.lag_s() * 1000.0, self.queued()
        if lag_ms >= config.shed_tag_lag_ms or queued >= config.shed_tag_in_flight:
            return Shed.TAG
        if lag_ms >= config.shed_changes_lag_ms or queued >= config.shed_changes_in_flight:
            return Shed.CHANGES
        return Shed.NOTHING

    def _forget(self, now: float) -> None:
        horizon = now - self.config.window_s
        while self._lags and self._lags[0][0] < horizon:
            self._lags.popleft()
        while self._peaks and self._peaks[0][0] < horizon:
            self._peaks.popleft()


async def watch_loop_lag(gauge: LoadGauge, stop: asyncio.Event) -> None:
    """Sample the event loop's lag every ``sample_ms`` until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    interval_s = gauge.config.sample_ms / 1000.0
    while not stop.is_set():
        expected = loop.time() + interval_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await stop.wait()
        gauge.record_lag(loop.time() - expected)
