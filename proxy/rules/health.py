"""How each rule and slot fares on live pages, and a circuit breaker for the ones that fail.

Outcomes per owner (a rule id or a slot id), counted per page view in scope:

- ``applied``: its operations changed the page;
- ``missed``: none of its selectors matched (the site changed under the rule; reported, not
  tripped: a page may legitimately lack the element);
- ``failed``: the rewrite raised or ran past its time budget with this owner's operations in it.

``failures_to_trip`` failures within ``window_s`` open the owner's breaker for ``open_s``: the
owner is skipped (the page is served without it) and the trip is logged once. Counters are also
totals since start, which ``vernier validate --live`` reads (via the store) to name rules that
stopped matching. Pure apart from the clock it is given; one per worker process.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable

from proxy.records.rule_outcomes import Outcome

log = logging.getLogger("vernier.rules")


class RuleHealth:
    def __init__(
        self,
        *,
        failures_to_trip: int = 5,
        window_s: float = 60.0,
        open_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_trip = failures_to_trip
        self.window_s = window_s
        self.open_s = open_s
        self._clock = clock
        self.totals: Counter[tuple[str, Outcome]] = Counter()
        self._unflushed: Counter[tuple[str, Outcome]] = Counter()
        self._recent_failures: dict[str, deque[float]] = {}
        self._open_until: dict[str, float] = {}

    def record(self, owner: str, outcome: Outcome) -> None:
        self.totals[owner, outcome] += 1
        self._unflushed[owner, outcome] += 1
        if outcome == "failed":
            self._failed(owner)

    def record_all(self, owners: Iterable[str], outcome: Outcome) -> None:
        for owner in set(owners):
            self.record(owner, outcome)

    def is_open(self, owner: str) -> bool:
        """Whether ``owner`` is tripped (skipped) right now."""
        until = self._open_until.get(owner)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._open_until[owner]
        log.info("rule breaker closed: %s is applied again", owner)
        return False

    def tripped(self) -> dict[str, float]:
        """Owners whose breaker is open, with the seconds left."""
        now = self._clock()
        return {owner: until - now for owner, until in self._open_until.items() if until > now}

    def take_unflushed(self) -> Counter[tuple[str, Outcome]]:
        """Counts since the last call (for publishing to the store), and reset them."""
        counts, self._unflushed = self._unflushed, Counter()
        return counts

    def take_unflushed_back(self, owner: str, outcome: Outcome, count: int) -> None:
        """Return counts a flush could not store, so the next flush includes them."""
        self._unflushed[owner, outcome] += count

    def _failed(self, owner: str) -> None:
        now = self._clock()
        recent = self._recent_failures.setdefault(owner, deque())
        recent.append(now)
        while recent and recent[0] < now - self.window_s:
            recent.popleft()
        if len(recent) >= self.failures_to_trip and owner not in self._open_until:
            self._open_until[owner] = now + self.open_s
            recent.clear()
            log.error(
                "rule breaker opened: %s failed %d times in %.0f s; skipped for %.0f s",
                owner,
                self.failures_to_trip,
                self.window_s,
                self.open_s,
            )
