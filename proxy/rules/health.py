"""How each rule and slot fares on live pages, and a circuit breaker for the ones that fail.

Outcomes per owner (a rule id or a slot id), counted per page view in scope:

- ``applied``: its operations changed the page;
- ``missed``: none of its selectors matched (the site changed under the rule; reported, not
  tripped: a page may legitimately lack the element);
- ``failed``: the rewrite raised, or spent more *CPU time* than the page budget, with this owner's
  operations in it. Wall-clock overruns are not failures: on a busy machine every page is slow,
  and blaming the rule switched slots off for minutes for the machine's load (issue #17).

``failures_to_trip`` failures within ``window_s`` open the owner's breaker: the owner is skipped
(the page is served without it) and the trip is logged once. After ``open_s`` the breaker is
half-open: the next page in scope is the probe. A probe that applies (or misses) closes the
breaker; a probe that fails opens it again for twice as long, up to ``max_open_s``, so a rule that
is really broken costs one page per period while a rule hit by a passing fault is back in seconds.
A probe whose outcome is never recorded (its page failed elsewhere) is given up after ``open_s``.

Counters are also totals since start, which ``vernier validate --live`` reads (via the store) to
name rules that stopped matching. Pure apart from the clock it is given; one per worker process.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from proxy.records.rule_outcomes import Outcome

log = logging.getLogger("vernier.rules")


@dataclass
class _Trip:
    """An open (or half-open) breaker: until when it stays open, and its probe if one is out."""

    until: float
    period_s: float
    probe_started: float | None = None


class RuleHealth:
    def __init__(
        self,
        *,
        failures_to_trip: int = 5,
        window_s: float = 60.0,
        open_s: float = 5.0,
        max_open_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures_to_trip < 1 or window_s <= 0 or open_s <= 0 or max_open_s < open_s:
            raise ValueError("rule breaker settings must be positive, max_open_s >= open_s")
        self.failures_to_trip = failures_to_trip
        self.window_s = window_s
        self.open_s = open_s
        self.max_open_s = max_open_s
        self._clock = clock
        self.totals: Counter[tuple[str, Outcome]] = Counter()
        self._unflushed: Counter[tuple[str, Outcome]] = Counter()
        self._recent_failures: dict[str, deque[float]] = {}
        self._trips: dict[str, _Trip] = {}

    def record(self, owner: str, outcome: Outcome) -> None:
        self.totals[owner, outcome] += 1
        self._unflushed[owner, outcome] += 1
        trip = self._trips.get(owner)
        if trip is not None:
            self._probed(owner, trip, outcome)
        elif outcome == "failed":
            self._failed(owner)

    def record_all(self, owners: Iterable[str], outcome: Outcome) -> None:
        for owner in set(owners):
            self.record(owner, outcome)

    def is_open(self, owner: str) -> bool:
        """Whether ``owner`` is skipped right now; ``False`` for the one probe of a half-open
        breaker (that page tries the owner again)."""
        trip = self._trips.get(owner)
        if trip is None:
            return False
        now = self._clock()
        if now < trip.until:
            return True
        if trip.probe_started is not None and now - trip.probe_started < self.open_s:
            return True  # a probe is out; wait for its outcome
        trip.probe_started = now
        return False

    def tripped(self) -> dict[str, float]:
        """Owners whose breaker is open, with the seconds left before the next probe."""
        now = self._clock()
        return {owner: t.until - now for owner, t in self._trips.items() if t.until > now}

    def take_unflushed(self) -> Counter[tuple[str, Outcome]]:
        """Counts since the last call (for publishing to the store), and reset them."""
        counts, self._unflushed = self._unflushed, Counter()
        return counts

    def take_unflushed_back(self, owner: str, outcome: Outcome, count: int) -> None:
        """Return counts a flush could not store, so the next flush includes them."""
        self._unflushed[owner, outcome] += count

    def _probed(self, owner: str, trip: _Trip, outcome: Outcome) -> None:
        if trip.probe_started is None:
            return  # a page that started before the breaker opened: it must not move it
        if outcome != "failed":
            del self._trips[owner]
            log.info("rule breaker closed: %s is applied again", owner)
            return
        period_s = min(trip.period_s * 2, self.max_open_s)
        self._trips[owner] = _Trip(self._clock() + period_s, period_s)
        log.warning("rule breaker probe failed: %s skipped for %.0f s more", owner, period_s)

    def _failed(self, owner: str) -> None:
        now = self._clock()
        recent = self._recent_failures.setdefault(owner, deque())
        recent.append(now)
        while recent and recent[0] < now - self.window_s:
            recent.popleft()
        if len(recent) >= self.failures_to_trip:
            self._trips[owner] = _Trip(now + self.open_s, self.open_s)
            recent.clear()
            log.error(
                "rule breaker opened: %s failed %d times in %.0f s; probed again in %.0f s",
                owner,
                self.failures_to_trip,
                self.window_s,
                self.open_s,
            )
