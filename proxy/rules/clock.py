"""Whose clock ``hour`` and ``weekday`` read: the visitor's, once the tracker has reported their
time zone, else the configured zone of the server (issue #12 item 6).

An evening visitor in Tokyo is an evening visitor, whatever zone the proxy runs in. The tracker
sends the browser's IANA zone name with a page view (``Intl.DateTimeFormat().resolvedOptions()
.timeZone``), the collector keeps only names this module knows (:func:`visitor_zone`), the profile
keeps the last one as ``tz``, and the context of every later page computes its local time in it
(:func:`local_time`). A first page view has no profile yet: it reads the zone in the configured
trusted header (``context.time_zone_header``, set by an edge from its geo lookup) when there is
one this module knows, else the configured zone.

Pure, no I/O after the first call: the set of zone names is read once from the time zone database
that :mod:`zoneinfo` uses (the system's, or the ``tzdata`` package).
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_ZONE_CHARS = 64  # the event contract's ``max_zone_chars``; IANA names are at most 32

# names in the database that are not a place's zone: ``localtime`` is the *server's* zone
# (Debian links it to /etc/localtime), ``Factory`` a placeholder, ``posixrules`` an old default
_NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_A_PLACE


def known_zone(name: str) -> bool:
    """Whether ``name`` is a zone of the database (canonical or a backward link such as
    ``Asia/Calcutta``, which browsers still report)."""
    return len(name) <= MAX_ZONE_CHARS and name in _zone_names()


@functools.lru_cache(maxsize=1024)
def visitor_zone(name: str) -> ZoneInfo | None:
    """The zone ``name`` names, or ``None`` if it is not one (never raises)."""
    if not known_zone(name):
        return None
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None  # listed but unreadable: a broken database is not the visitor's fault


def local_time(now: datetime, zone: ZoneInfo) -> tuple[int, str]:
    """``(hour 0..23, weekday mon..sun)`` of the aware instant ``now`` on a wall clock in ``zone``
    (its UTC offset at that instant, so daylight saving time is followed)."""
    if now.tzinfo is None:
        raise ValueError("local_time: `now` must be timezone-aware")
    local = now.astimezone(zone)
    return local.hour, WEEKDAYS[local.weekday()]


def clock_value_problem(name: str, value: object) -> str | None:
    """What is wrong with ``value`` for the context field ``name`` as a caller sets it (``vernier
    preview --set``, the decision API's ``context``), or None: ``hour`` is a whole number 0-23
    and ``weekday`` one of mon..sun, as the context builds them; other fields are not checked."""
    if name == "hour" and not (type(value) is int and 0 <= value <= 23):
        return f"hour takes a whole number 0-23, got {value!r}"
    if name == "weekday" and value not in WEEKDAYS:
        return f"weekday takes one of {', '.join(WEEKDAYS)}, got {value!r}"
    return None
