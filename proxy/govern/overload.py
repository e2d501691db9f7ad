"""The overload policy, in one place: what a worker stops doing when it cannot keep up.

Two signals, both of this worker's own state (docs/overload.md):

- **event-loop lag**: how late a timer that should fire every ``sample_ms`` wakes up. A loop that
  runs late makes every request on it wait, whatever the request is;
- **queueing**: requests in the pipeline at once (accepted, not yet answered).

Both are sampled together every ``sample_ms``; the level follows the median sample of the last
``window_s`` (a second by default), so it rises once the pressure held for half a window and falls
back as soon as it no longer does: there is no penalty period, and a busy *machine* that still
lets the loop run on time sheds nothing.

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
    """This worker's load: event-loop lag and requests in flight, sampled together, and the level.

    The level follows the *median* sample of the window: pressure that holds for most of it. A
    single stall (a collection pause, the scheduler giving the core to another process for a few
    hundred milliseconds) delays what is queued at that moment, but throwing away the next second
    of personalisation would not get that time back; sustained lag means the worker is behind.
    """

    def __init__(
        self, config: OverloadConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self._samples: deque[tuple[float, float, int]] = deque()  # (when, lag_s, in_flight)
        self.in_flight = 0
        # level() is asked on every request; the samples in the window change only when one is
        # recorded or the oldest leaves it, so the level is worked out again only then
        self._level: Shed | None = None
        self._level_until_s = 0.0

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight -= 1

    def record_lag(self, lag_s: float) -> None:
        """One sample: how late the loop ran just now, and how many requests were in flight."""
        now = self._clock()
        self._samples.append((now, max(lag_s, 0.0), self.in_flight))
        horizon = now - self.config.window_s
        while self._samples[0][0] < horizon:
            self._samples.popleft()
        self._level = None

    def worst_lag_s(self) -> float:
        """The worst lag sampled over the window (for the metric; the level uses the median)."""
        return max((lag for _, lag, _ in self._recent()), default=0.0)

    def level(self) -> Shed:
        if self._level is not None and self._clock() <= self._level_until_s:
            return self._level
        recent = self._recent()
        # the same samples stay in the window until the oldest of them leaves it
        self._level_until_s = recent[0][0] + self.config.window_s if recent else float("inf")
        self._level = self._level_from(recent)
        return self._level

    def _level_from(self, recent: list[tuple[float, float, int]]) -> Shed:
        if not recent:
            return Shed.NOTHING
        lag_ms = _median([lag for _, lag, _ in recent]) * 1000.0
        queued = _median([float(n) for _, _, n in recent])
        config = self.config
        if lag_ms >= config.shed_tag_lag_ms or queued >= config.shed_tag_in_flight:
            return Shed.TAG
        if lag_ms >= config.shed_changes_lag_ms or queued >= config.shed_changes_in_flight:
            return Shed.CHANGES
        return Shed.NOTHING

    def _recent(self) -> list[tuple[float, float, int]]:
        horizon = self._clock() - self.config.window_s
        return [sample for sample in self._samples if sample[0] >= horizon]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


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
