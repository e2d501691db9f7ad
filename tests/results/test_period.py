"""The period ``--since`` names (``proxy/results/period.py``): pure."""

from __future__ import annotations

import pytest

from proxy.errors import UsageError
from proxy.results.period import MAX_HOURS, period_of

NOW_MS = 1_765_000_000_000


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("7 days", "expected a number of hours or days like 24h or 7d, got '7 days'"),
        ("0d", "expected a number of hours or days"),
        (f"{MAX_HOURS + 1}h", f"at most {MAX_HOURS}h; use days beyond that"),
        ("91d", "results are kept 90 days"),
        ("1000000000d", "results are kept 90 days"),  # was 'expected a number'
    ],
)
def test_a_period_beyond_what_is_kept_says_so(since: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        period_of(since, NOW_MS, retention_days=90)


def test_a_period_of_days_ends_today() -> None:
    period = period_of("7d", NOW_MS, retention_days=90)
    assert period.kind == "d" and period.last - period.first == 6
