"""One warning line per kind of trouble per interval, however many requests hit it.

An origin that answers 500 to every request would otherwise write one warning per request:
the operator needs to hear of it, not to have the log flooded (and the disk filled) while the
origin is down. :class:`LogLimit` lets the first line of a key through, then at most one per
``interval_s``, and that line says how many were held back since the last one. The clock is
passed in, so tests step it instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Seen:
    logged_at_s: float
    suppressed: int = 0


@dataclass(slots=True)
class LogLimit:
    """Decides, per key, whether a log line is written now and how many it stands for."""

    interval_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Hashable, _Seen] = field(default_factory=dict)

    def admit(self, key: Hashable) -> int | None:
        """``None``: hold this line back. Otherwise write it, noting the returned count of
        lines held back for ``key`` since the last one written (0 for none)."""
        now_s = self.clock()
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = _Seen(now_s)
            return 0
        if now_s - seen.logged_at_s < self.interval_s:
            seen.suppressed += 1
            return None
        suppressed = seen.suppressed
        seen.logged_at_s, seen.suppressed = now_s, 0
        return suppressed


def held_back(count: int) -> str:
    """The suffix of a line that stands for ``count`` others."""
    if not count:
        return ""
    return f" ({count} more like it since the last such line)"
