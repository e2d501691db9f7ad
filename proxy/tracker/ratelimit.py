"""Token buckets keyed by string (a session id, a client address), in bounded memory.

Beacons are cheap to send and each one becomes stream entries, so one session or one address must
not be able to flood the store (docs/reliability.md EV-08; the config keys
``intake.session_events_per_min`` and ``intake.address_events_per_min``, by default §6's 120 and
1,200). A bucket holds up to ``burst`` tokens, refills at ``rate_per_s`` and a batch costs one token
per event: a page can send a minute's worth at once, then keeps the average.

**Per worker process.** Each worker keeps its own buckets and limits independently, so with ``N``
workers a client that spreads its connections can get up to ``N`` times the nominal rate. That is
acceptable: the limit is a flood guard for the store, not a quota anyone is billed by; ``N`` is
small (one per core); a browser keeps its beacons on one keep-alive connection, so a real visitor
meets one worker's limit; and a shared limiter would cost a Redis round trip on every beacon and
fail in exactly the outage the local spool exists for.

**Bounded memory.** Buckets live in an LRU of at most ``max_keys``. A bucket idle for
``burst / rate_per_s`` seconds is full again, which is what a missing bucket means, so those are
dropped as they are met (oldest first, amortised O(1) per call) with no change in behaviour. Only
when more than ``max_keys`` keys are active within one refill period is a live bucket evicted;
its key then starts full again. That fails open for the evicted key, which is the right side to fail
on for a flood guard: the per-address limiter still holds, and a flood wide enough to evict must
come from ``max_keys`` distinct keys at once.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class _Bucket:
    __slots__ = ("tokens", "updated_s")

    def __init__(self, tokens: float, updated_s: float) -> None:
        self.tokens = tokens
        self.updated_s = updated_s


class TokenBucketLimiter:
    """``allow(key, cost)`` spends ``cost`` tokens of ``key``'s bucket if it holds them.

    ``clock`` is a monotonic clock in seconds (injected so tests can step time); a refused call
    spends nothing, so a client that backs off as ``retry_after_s`` says is let through.
    """

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst <= 0 or max_keys < 1:
            raise ValueError("rate_per_s, burst and max_keys must be positive")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._idle_full_s = burst / rate_per_s
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def per_minute(
        cls,
        events_per_min: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> TokenBucketLimiter:
        """A minute's worth as the burst, refilled evenly over the minute."""
        return cls(
            rate_per_s=events_per_min / 60.0, burst=events_per_min, max_keys=max_keys, clock=clock
        )

    def allow(self, key: str, cost: float = 1.0) -> bool:
        now = self._clock()
        bucket = self._refilled(key, now)
        if bucket.tokens < cost:
            return False
        bucket.tokens -= cost
        return True

    def refund(self, key: str, cost: float = 1.0) -> None:
        """Give back what :meth:`allow` spent on a batch a later check refused."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + cost)

    def retry_after_s(self, key: str, cost: float = 1.0) -> float:
        """Seconds until ``allow(key, cost)`` would succeed (``inf`` if ``cost`` > ``burst``)."""
        if cost > self.burst:
            return math.inf
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        now = self._clock()
        tokens = min(self.burst, bucket.tokens + (now - bucket.updated_s) * self.rate_per_s)
        return max(0.0, (cost - tokens) / self.rate_per_s)

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str, now: float) -> _Bucket:
        buckets = self._buckets
        self._sweep(now)
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
            bucket = buckets[key] = _Bucket(self.burst, now)
            return bucket
        buckets.move_to_end(key)
        elapsed = now - bucket.updated_s
        if elapsed > 0:  # a clock that steps back refills nothing rather than draining
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate_per_s)
            bucket.updated_s = now
        return bucket

    def _sweep(self, now: float) -> None:
        # LRU order is last-use order, so the first bucket not yet idle long enough ends the sweep
        buckets = self._buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if now - oldest.updated_s < self._idle_full_s:
                return
            buckets.popitem(last=False)
