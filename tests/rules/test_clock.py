"""The visitor's clock: which names are zones, and the local hour and weekday across daylight
saving changes. Expected values are the IANA rules as published (tzdata), not this code's output."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proxy.rules.clock import known_zone, local_time, visitor_zone


@pytest.mark.parametrize(
    "name",
    ["Asia/Tokyo", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC", "Asia/Calcutta"],
)
def test_zone_names_browsers_report_are_known(name: str) -> None:
    assert known_zone(name)
    assert visitor_zone(name) is not None


@pytest.mark.parametrize(
    "name",
    [
        "localtime",  # the server's own zone, never a visitor's
        "Factory",
        "posixrules",
        "Etc/Unknown",  # what a browser says when it cannot tell
        "Mars/Olympus_Mons",
        "asia/tokyo",  # names are case-sensitive
        "../../etc/passwd",
        "/etc/localtime",
        "",
        "A" * 65,
    ],
)
def test_other_names_are_not_zones(name: str) -> None:
    assert not known_zone(name)
    assert visitor_zone(name) is None


@pytest.mark.parametrize(
    ("zone", "utc", "expected"),
    [
        # New York springs forward Sunday 8 March 2026 at 02:00 EST = 07:00 UTC
        ("America/New_York", datetime(2026, 3, 8, 6, 59, tzinfo=UTC), (1, "sun")),
        ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=UTC), (3, "sun")),
        # and falls back Sunday 1 November 2026 at 02:00 EDT = 06:00 UTC: 01:xx twice
        ("America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC), (1, "sun")),
        ("America/New_York", datetime(2026, 11, 1, 6, 30, tzinfo=UTC), (1, "sun")),
        # Sydney leaves daylight time Sunday 5 April 2026 at 03:00 AEDT = 16:00 UTC on the 4th
        ("Australia/Sydney", datetime(2026, 4, 4, 15, 59, tzinfo=UTC), (2, "sun")),
        ("Australia/Sydney", datetime(2026, 4, 4, 16, 0, tzinfo=UTC), (2, "sun")),
        ("Australia/Sydney", datetime(2026, 4, 4, 13, 59, tzinfo=UTC), (0, "sun")),
        ("Australia/Sydney", datetime(2026, 4, 4, 12, 59, tzinfo=UTC), (23, "sat")),
        # a quarter-hour offset (+05:45, no DST): 18:15 UTC Friday is midnight Saturday
        ("Asia/Kathmandu", datetime(2026, 6, 12, 18, 14, tzinfo=UTC), (23, "fri")),
        ("Asia/Kathmandu", datetime(2026, 6, 12, 18, 15, tzinfo=UTC), (0, "sat")),
        # across the date line: Kiritimati (+14) is a day ahead of Honolulu (-10)
        ("Pacific/Kiritimati", datetime(2026, 6, 12, 10, 0, tzinfo=UTC), (0, "sat")),
        ("Pacific/Honolulu", datetime(2026, 6, 12, 10, 0, tzinfo=UTC), (0, "fri")),
    ],
)
def test_local_hour_and_weekday(zone: str, utc: datetime, expected: tuple[int, str]) -> None:
    found = visitor_zone(zone)
    assert found is not None
    assert local_time(utc, found) == expected


def test_naive_now_is_a_programming_error() -> None:
    zone = visitor_zone("UTC")
    assert zone is not None
    with pytest.raises(ValueError, match="timezone-aware"):
        local_time(datetime(2026, 6, 10, 12, 0), zone)
