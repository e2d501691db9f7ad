"""A world file's visitors: seeded, revealing their context to the proxy, clicking by the table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from proxy.rules.context import build_context
from proxy.simulate.spec_world import (
    GEO_HEADER,
    ZONE_HEADER,
    SpecWorld,
    http_fields_missing,
    zone_showing,
)
from proxy.simulate.world_file import load_world

WORLDS = Path(__file__).resolve().parents[2] / "bench" / "worlds"
HELDOUT = WORLDS.parent / "worlds-heldout"


def world(name: str) -> SpecWorld:
    return SpecWorld(load_world(WORLDS / f"{name}.yaml"))


def test_the_same_seed_gives_the_same_visitors() -> None:
    w = world("device-referrer")
    assert list(w.visitors(100, seed=3)) == list(w.visitors(100, seed=3))
    assert list(w.visitors(100, seed=3)) != list(w.visitors(100, seed=4))


def test_the_proxy_reads_the_same_context_from_the_visitors_headers() -> None:
    """What the bench feeds the bandit is what build_context makes of the HTTP request."""
    for visitor in world("country").visitors(300, seed=1):
        before = datetime.now(UTC)
        headers = {k.lower(): v for k, v in visitor.headers.items()}
        now = datetime.now(UTC)
        headers["user-agent"] = visitor.user_agent
        if visitor.referer is not None:
            headers["referer"] = visitor.referer
        path, _, query = visitor.path.partition("?")
        seen = build_context(
            method="GET",
            host="127.0.0.1",
            path=path,
            query=dict(part.split("=") for part in query.split("&") if part),
            headers=headers,
            cookies={},
            profile={},
            now=now,
            time_zone=ZoneInfo("UTC"),
            geo_header=headers[GEO_HEADER.lower()],
            zone_header=headers[ZONE_HEADER.lower()],
            own_hosts=frozenset(),
            landing=True,
            page_type="page",
        )
        fields = ["device", "browser", "os", "country", "language", "referrer.class", "hour"]
        if before.hour != now.hour:  # the zone was chosen in the hour before this one
            fields.remove("hour")
        for field in fields:
            assert seen[field] == visitor.context[field], (field, visitor)


def test_clicks_follow_the_rates_and_the_oracle_is_the_best_variant() -> None:
    w = world("country")
    visitors = list(w.visitors(20_000, seed=2))
    us = [v for v in visitors if dict(v.key)["country"] == "US"]
    rate = sum(w.clicks(v, "a") for v in us) / len(us)
    assert rate == pytest.approx(0.10, abs=0.01)
    expected = w.expected_for(us[0], "b")
    assert (expected.oracle_variant, expected.oracle, expected.served) == ("a", 0.10, 0.03)


def test_worlds_on_the_weekday_or_the_profile_cannot_run_over_http() -> None:
    assert http_fields_missing(load_world(WORLDS / "hour.yaml")) == []
    assert http_fields_missing(load_world(HELDOUT / "weekday-profile.yaml")) == [
        "weekday",
        "purchases_30d",
    ]
    assert http_fields_missing(load_world(WORLDS / "profile.yaml")) == ["visits_7d"]
    assert http_fields_missing(load_world(WORLDS / "device-referrer.yaml")) == []


@pytest.mark.parametrize("utc_hour", [0, 5, 11, 12, 13, 23])
def test_a_zone_shows_every_hour_at_any_time_of_day(utc_hour: int) -> None:
    now = datetime(2026, 3, 29, utc_hour, 30, tzinfo=UTC)  # a DST change day in Europe
    for hour in range(24):
        zone = zone_showing(hour, now)
        assert now.astimezone(ZoneInfo(zone)).hour == hour, (hour, zone)
