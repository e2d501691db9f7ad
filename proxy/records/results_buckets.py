"""The results aggregates' units, shared by the fold (a core), the store and the report.

A :class:`Tally` is what one stream record adds to one slot's hour; :class:`Buckets` is what the
store reads back for a report: per bucket (hour or UTC day) the summed ``<variant>|<measure>``
fields, and each variant's distinct visitors over the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HOUR_MS = 3_600_000
DAY_HOURS = 24


@dataclass(frozen=True, slots=True)
class Tally:
    """Add ``adds`` (``(field, amount)``) to ``slot``'s bucket ``hour``, once per ``member``;
    ``visitor`` (variant, visitor id) joins that variant's distinct visitors of the day."""

    slot: str
    hour: int
    member: str
    adds: tuple[tuple[str, float], ...]
    visitor: tuple[str, str] | None = None


# Measures only ever used as period totals (the learner's off-policy and CUPED sums): the store
# sums them over the period's buckets itself instead of returning each bucket's.
TOTAL_ONLY_PREFIXES = ("ips_", "cuped_")


@dataclass(frozen=True, slots=True)
class Buckets:
    """``sums[bucket][f"{variant}|{measure}"]`` and ``visitors[variant]`` of one slot; the
    store puts measures of :data:`TOTAL_ONLY_PREFIXES` in ``totals`` (summed over the period)."""

    sums: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    visitors: Mapping[str, int] = field(default_factory=dict)
    totals: Mapping[str, float] = field(default_factory=dict)

    def total(self, name: str) -> float:
        """``name``'s sum over the period, wherever it is kept."""
        return self.totals.get(name, 0.0) + sum(b.get(name, 0.0) for b in self.sums.values())


@dataclass(frozen=True, slots=True)
class Period:
    """Which buckets a report reads: ``kind`` ``h`` (hours) or ``d`` (UTC days), first..last."""

    kind: str
    first: int
    last: int

    @property
    def indices(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def start_ms(self) -> int:
        """When the period's first bucket begins (ms since the epoch)."""
        return self.first * HOUR_MS * (DAY_HOURS if self.kind == "d" else 1)

    def days(self) -> range:
        if self.kind == "d":
            return self.indices
        return range(day_of_hour(self.first), day_of_hour(self.last) + 1)


def hour_of(ms: int) -> int:
    return ms // HOUR_MS


def day_of_hour(hour: int) -> int:
    return hour // DAY_HOURS
