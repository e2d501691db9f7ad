"""Per-minute slot counts: the buckets the store keeps and the metrics arithmetic reads.

The store writes and reads one bucket per slot and minute (``received_ms // 60000``, see
:func:`minute_of`) with per-variant :class:`Counts` (:mod:`proxy.store.slot_metrics`); the
windows, rates and control limits over them are :mod:`proxy.govern.windows`. The bucket types live
here so that the store can hand them over without importing the governance that interprets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MINUTE_MS = 60_000
HISTORY_MINUTES = 60  # the longest window; the store reads this many minutes back (plus one)
MEASURES = ("impressions", "clicks", "conversions")


@dataclass(frozen=True, slots=True)
class Counts:
    """What one variant got in one bucket or window (floats: windows weigh their oldest bucket)."""

    impressions: float = 0.0
    clicks: float = 0.0
    conversions: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.impressions + other.impressions,
            self.clicks + other.clicks,
            self.conversions + other.conversions,
        )

    def scaled(self, weight: float) -> Counts:
        return Counts(self.impressions * weight, self.clicks * weight, self.conversions * weight)

    @property
    def ctr(self) -> float | None:
        return rate(self.clicks, self.impressions)

    @property
    def cvr(self) -> float | None:
        return rate(self.conversions, self.impressions)


@dataclass(frozen=True, slots=True)
class SlotWindows:
    """A slot's recent buckets: ``counts[variant][minute]``, and per variant the time of its last
    guardrail pause (``paused_at_ms``), from which the guardrail counts evidence anew."""

    counts: Mapping[str, Mapping[int, Counts]] = field(default_factory=dict)
    paused_at_ms: Mapping[str, int] = field(default_factory=dict)


def minute_of(ms: int) -> int:
    return ms // MINUTE_MS


def rate(successes: float, n: float) -> float | None:
    return successes / n if n > 0 else None
