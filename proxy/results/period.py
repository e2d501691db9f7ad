"""The period a report covers, from ``--since`` (``vernier report``) or ``?since=`` (the dashboard)."""

from __future__ import annotations

import re

from proxy.errors import UsageError
from proxy.records.results_buckets import DAY_HOURS, Period, hour_of

_SINCE = re.compile(r"^([1-9][0-9]{0,17})([hd])$")  # the bounds below say what is too long
MAX_HOURS = 72


def period_of(since: str, now_ms: int, retention_days: int) -> Period:
    """The buckets ``--since`` covers; :class:`UsageError` naming the problem otherwise."""
    found = _SINCE.match(since)
    if found is None:
        raise UsageError(
            f"--since: expected a number of hours or days like 24h or 7d, got {since!r}"
        )
    amount, unit = int(found[1]), found[2]
    hour = hour_of(now_ms)
    if unit == "h":
        if amount > MAX_HOURS:
            raise UsageError(f"--since: at most {MAX_HOURS}h; use days beyond that")
        return Period("h", hour - amount + 1, hour)
    if amount > retention_days:
        raise UsageError(
            f"--since: results are kept {retention_days} days (results.retention_days)"
        )
    day = hour // DAY_HOURS
    return Period("d", day - amount + 1, day)
