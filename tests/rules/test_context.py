"""The request context: field names, time zones, geo, utm, bounds and profile conversion."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.rules.context import (
    MAX_COOKIE_NAME_CHARS,
    MAX_COOKIES,
    MAX_VALUE_CHARS,
    SAFE_HEADERS,
    build_context,
)

BERLIN = ZoneInfo("Europe/Berlin")
CHROME_ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"
NOON_UTC = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday


def headers(**values: str) -> CIMultiDictProxy[str]:
    """Title-case names on the wire, as aiohttp delivers them: lookups must not care."""
    return CIMultiDictProxy(
        CIMultiDict({k.replace("_", "-").title(): v for k, v in values.items()})
    )


def build(**overrides: Any) -> dict[str, object]:
    args: dict[str, Any] = {
        "method": "GET",
        "host": "shop.example",
        "path": "/products/1",
        "query": {},
        "headers": headers(user_agent=CHROME_ANDROID),
        "cookies": {},
        "profile": {},
        "now": NOON_UTC,
        "time_zone": BERLIN,
        "geo_header": None,
        "own_hosts": frozenset({"shop.example"}),
        "landing": True,
        "page_type": "products",
    }
    args.update(overrides)
    return build_context(**args)


def test_minimal_request_has_exactly_the_base_fields() -> None:
    assert build() == {
        "device": "mobile",
        "browser": "chrome",
        "os": "android",
        "hour": 14,
        "weekday": "wed",
        "referrer.domain": "",
        "referrer.class": "direct",
        "header.user-agent": CHROME_ANDROID,
        "path": "/products/1",
        "landing": True,
    }


def test_client_hints_reach_the_device_fields() -> None:
    ctx = build(
        headers=headers(
            user_agent=CHROME_ANDROID, sec_ch_ua_mobile="?0", sec_ch_ua_platform='"Android"'
        )
    )
    assert (ctx["device"], ctx["os"]) == ("tablet", "android")
    assert ctx["header.sec-ch-ua-mobile"] == "?0"


# -- time zones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "hour", "weekday"),
    [
        # spring forward: Sunday 29 March 2026, 02:00 CET -> 03:00 CEST (01:00 UTC)
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), 1, "sun"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 3, "sun"),
        # fall back: Sunday 25 October 2026, 03:00 CEST -> 02:00 CET (01:00 UTC); 02:xx twice
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 2, "sun"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), 2, "sun"),
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), 3, "sun"),
        # the local date is not the UTC date
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), 0, "sun"),
        (datetime(2026, 7, 5, 22, 15, tzinfo=UTC), 0, "mon"),
        (datetime(2026, 1, 4, 23, 0, tzinfo=UTC), 0, "mon"),
        (datetime(2026, 1, 4, 22, 59, tzinfo=UTC), 23, "sun"),
    ],
)
def test_berlin_hour_and_weekday_across_dst(utc: datetime, hour: int, weekday: str) -> None:
    ctx = build(now=utc)
    assert (ctx["hour"], ctx["weekday"]) == (hour, weekday)


def test_now_in_another_offset_is_converted() -> None:
    new_york_evening = datetime(2026, 6, 10, 20, 0, tzinfo=timezone(timedelta(hours=-4)))
    ctx = build(now=new_york_evening)  # 00:00 UTC Thursday = 02:00 in Berlin
    assert (ctx["hour"], ctx["weekday"]) == (2, "thu")


def test_half_hour_zone() -> None:
    ctx = build(now=datetime(2026, 6, 10, 18, 29, tzinfo=UTC), time_zone=ZoneInfo("Asia/Kolkata"))
    assert (ctx["hour"], ctx["weekday"]) == (23, "wed")
    ctx = build(now=datetime(2026, 6, 10, 18, 30, tzinfo=UTC), time_zone=ZoneInfo("Asia/Kolkata"))
    assert (ctx["hour"], ctx["weekday"]) == (0, "thu")


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build(now=datetime(2026, 6, 10, 12, 0))


# -- geo ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("US", {"country": "US"}),
        ("us", {"country": "US"}),
        (" DE ", {"country": "DE"}),
        ("US-CA", {"country": "US", "region": "US-CA"}),
        ("GB-ENG", {"country": "GB", "region": "GB-ENG"}),
        ("FR-75", {"country": "FR", "region": "FR-75"}),
        ("T1", {"country": "T1"}),  # Cloudflare's Tor exit code: a value a rule may want
        ("XX", {}),  # unknown
        ("", {}),
        (None, {}),
        ("USA", {}),
        ("U", {}),
        ("US-", {}),
        ("US-CALIF", {}),
        ("US,CA", {}),
        ("💥", {}),
        ("ßß", {}),  # "ß".upper() == "SS": only ASCII letters count
        ("1A", {}),
    ],
)
def test_geo_header(value: str | None, expected: dict[str, str]) -> None:
    ctx = build(geo_header=value)
    assert {k: ctx[k] for k in ("country", "region") if k in ctx} == expected


# -- referrer and utm -----------------------------------------------------------------------------


def test_utm_fields_and_email_medium() -> None:
    query = {
        "utm_source": "Newsletter",
        "utm_medium": "Email",
        "utm_campaign": "spring-26",
        "utm_term": "pour over",
        "utm_content": "hero-link",
        "utm_other": "ignored",
    }
    ctx = build(query=query)
    assert {k: v for k, v in ctx.items() if k.startswith("utm.")} == {
        "utm.source": "Newsletter",
        "utm.medium": "Email",
        "utm.campaign": "spring-26",
        "utm.term": "pour over",
        "utm.content": "hero-link",
    }
    assert ctx["referrer.class"] == "email"  # no referrer, but the link was tagged


def test_utm_medium_email_overrides_a_referrer_but_not_internal_navigation() -> None:
    query = {"utm_medium": "email"}
    social = build(query=query, headers=headers(referer="https://t.co/x"))
    assert (social["referrer.domain"], social["referrer.class"]) == ("t.co", "email")
    internal = build(query=query, headers=headers(referer="https://shop.example/"))
    assert internal["referrer.class"] == "internal"


def test_absent_utm_fields_are_absent() -> None:
    ctx = build(query={"utm_source": "x"})
    assert ctx["utm.source"] == "x"
    assert "utm.medium" not in ctx


def test_referrer_from_the_request_host_is_internal() -> None:
    ctx = build(
        host="other.example:8080",
        own_hosts=frozenset(),
        headers=headers(referer="https://www.other.example/a"),
    )
    assert (ctx["referrer.domain"], ctx["referrer.class"]) == ("other.example", "internal")


def test_search_referrer() -> None:
    ctx = build(headers=headers(referer="https://www.google.de/"))
    assert (ctx["referrer.domain"], ctx["referrer.class"]) == ("google.de", "search")


# -- cookies and headers ----------------------------------------------------------------------------


def test_cookies_are_bounded_in_count_and_name_length() -> None:
    long_name = "n" * (MAX_COOKIE_NAME_CHARS + 1)
    cookies = {long_name: "dropped", "": "dropped"}
    cookies.update({f"c{i}": str(i) for i in range(MAX_COOKIES + 10)})
    ctx = build(cookies=cookies)
    exposed = {k: v for k, v in ctx.items() if k.startswith("cookie.")}
    assert len(exposed) == MAX_COOKIES
    assert exposed["cookie.c0"] == "0"
    assert f"cookie.c{MAX_COOKIES - 1}" in exposed
    assert f"cookie.c{MAX_COOKIES}" not in exposed
    assert f"cookie.{long_name}" not in ctx


def test_cookie_name_at_the_limit_and_long_value_is_cut() -> None:
    name = "n" * MAX_COOKIE_NAME_CHARS
    ctx = build(cookies={name: "v" * (MAX_VALUE_CHARS + 5), "plan": "pro"})
    assert ctx[f"cookie.{name}"] == "v" * MAX_VALUE_CHARS
    assert ctx["cookie.plan"] == "pro"


def test_only_safe_headers_are_exposed() -> None:
    wire = CIMultiDict(
        {
            "User-Agent": CHROME_ANDROID,
            "Accept-Language": "de-CH,de;q=0.9,en;q=0.8",
            "DNT": "1",
            "Sec-GPC": "1",
            "Sec-CH-UA": '"Chromium";v="131", "Not_A Brand";v="24"',
            "Sec-CH-UA-Platform-Version": '"14.0.0"',
            "Authorization": "Bearer secret",
            "Cookie": "session=secret",
            "X-Api-Key": "secret",
            "X-Forwarded-For": "203.0.113.9",
            "X-Shop-Segment": "wholesale",
        }
    )
    ctx = build(headers=CIMultiDictProxy(wire), extra_headers=("x-shop-segment",))
    exposed = {k: v for k, v in ctx.items() if k.startswith("header.")}
    assert exposed == {
        "header.user-agent": CHROME_ANDROID,
        "header.accept-language": "de-CH,de;q=0.9,en;q=0.8",
        "header.dnt": "1",
        "header.sec-gpc": "1",
        "header.sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24"',
        "header.sec-ch-ua-platform-version": '"14.0.0"',
        "header.x-shop-segment": "wholesale",
    }
    assert all(name == name.lower() for name in SAFE_HEADERS)
    assert not any("secret" in str(v) for v in ctx.values())


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [
        ("de-CH,de;q=0.9,en;q=0.8", "de"),
        ("en-US", "en"),
        ("EN", "en"),
        ("fr;q=0.5, de;q=0.9", "fr"),  # the first entry, as the spec says, not the highest q
        ("zh-Hant-TW", "zh"),
        ("pt_BR", "pt"),
        (" es ", "es"),
        ("*", None),
        ("", None),
        ("12-AB", None),
        (None, None),
    ],
)
def test_language(accept_language: str | None, language: str | None) -> None:
    wire = {"user_agent": CHROME_ANDROID}
    if accept_language is not None:
        wire["accept_language"] = accept_language
    assert build(headers=headers(**wire)).get("language") == language


# -- profile --------------------------------------------------------------------------------------


def test_profile_fields_are_converted_and_aliased() -> None:
    profile = {
        "visits_7d": "3",
        "engaged_s": "41.5",
        "engaged_ema": "1e-05",
        "conversion_value": "-2.25",
        "bot": "0",
        "clicks:hero": "2",
        "impressions:hero": "7",
        "max_scroll:products": "0.75",
        "max_scroll:blog": "1",
        "note": "1_000",
        "weird": "nan",
        "huge": "1e999",
        "spaced": " 7 ",
        "big": "9" * 30,
    }
    ctx = build(profile=profile, page_type="products")
    assert ctx["visits_7d"] == 3 and isinstance(ctx["visits_7d"], int)
    assert ctx["engaged_s"] == 41.5
    assert ctx["engaged_ema"] == 1e-05
    assert ctx["conversion_value"] == -2.25
    assert ctx["bot"] == 0
    assert ctx["clicks:hero"] == ctx["clicks.hero"] == 2
    assert ctx["impressions.hero"] == 7
    assert ctx["max_scroll"] == 0.75
    assert ctx["max_scroll.blog"] == 1
    assert (ctx["note"], ctx["weird"], ctx["huge"], ctx["spaced"]) == (
        "1_000",
        "nan",
        "1e999",
        " 7 ",
    )
    assert ctx["big"] == float("9" * 30)


def test_missing_profile_fields_are_absent_not_zero() -> None:
    ctx = build(profile={})
    assert not {"visits_7d", "engaged_s", "max_scroll", "clicks.hero"} & ctx.keys()
    ctx = build(profile={"max_scroll:blog": "0.5"}, page_type="products")
    assert "max_scroll" not in ctx


def test_request_fields_win_over_profile_fields() -> None:
    ctx = build(profile={"device": "desktop", "path": "/elsewhere", "visits": "4"})
    assert (ctx["device"], ctx["path"], ctx["visits"]) == ("mobile", "/products/1", 4)


# -- never raises ---------------------------------------------------------------------------------

_text = st.text(max_size=60)
_header_names = st.sampled_from(
    [*SAFE_HEADERS, "referer", "cookie", "authorization", "x-custom"]
) | st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=20)


@given(
    wire=st.lists(st.tuples(_header_names, st.text(max_size=200)), max_size=20),
    cookies=st.dictionaries(_text, _text, max_size=70),
    query=st.dictionaries(
        st.sampled_from(["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"])
        | _text,
        _text,
        max_size=10,
    ),
    profile=st.dictionaries(_text, _text, max_size=20),
    geo=st.none() | _text,
    page_type=_text,
)
def test_arbitrary_request_strings_never_raise(
    wire: list[tuple[str, str]],
    cookies: Mapping[str, str],
    query: Mapping[str, str],
    profile: Mapping[str, str],
    geo: str | None,
    page_type: str,
) -> None:
    ctx = build(
        headers=CIMultiDictProxy(CIMultiDict(wire)),
        cookies=cookies,
        query=query,
        profile=profile,
        geo_header=geo,
        page_type=page_type,
    )
    assert ctx["device"] in {"mobile", "tablet", "desktop", "bot"}
    assert ctx["referrer.class"] in {"search", "social", "email", "direct", "internal", "other"}
    assert sum(1 for k in ctx if k.startswith("cookie.")) <= MAX_COOKIES


def test_the_visitors_reported_zone_sets_hour_and_weekday() -> None:
    # noon UTC Wednesday is 21:00 in Tokyo, 14:00 in the configured Berlin
    ctx = build(profile={"tz": "Asia/Tokyo", "visits": "2"})
    assert (ctx["hour"], ctx["weekday"], ctx["tz"]) == (21, "wed", "Asia/Tokyo")
    late = build(now=datetime(2026, 6, 10, 15, 0, tzinfo=UTC), profile={"tz": "Asia/Tokyo"})
    assert (late["hour"], late["weekday"]) == (0, "thu")


def test_an_edge_zone_header_sets_the_clock_until_the_browser_reports_one() -> None:
    # a first page view: the edge's zone (New York, 08:00); the browser's own zone wins later
    first = build(zone_header=" America/New_York ")
    assert (first["hour"], first["weekday"], first["tz"]) == (8, "wed", "America/New_York")
    later = build(zone_header="America/New_York", profile={"tz": "Asia/Tokyo"})
    assert (later["hour"], later["tz"]) == (21, "Asia/Tokyo")
    # a reported zone this server does not know: the edge's again
    unknown = build(zone_header="America/New_York", profile={"tz": "Etc/Unknown"})
    assert (unknown["hour"], unknown["tz"]) == (8, "America/New_York")


@pytest.mark.parametrize("zone_header", ["", "Mars/Olympus", "localtime", "x" * 500])
def test_an_unknown_edge_zone_is_ignored(zone_header: str) -> None:
    ctx = build(zone_header=zone_header)
    assert (ctx["hour"], ctx["weekday"]) == (14, "wed")
    assert "tz" not in ctx


@pytest.mark.parametrize(
    "profile", [{}, {"visits": "1"}, {"tz": "Etc/Unknown"}, {"tz": "localtime"}]
)
def test_without_a_known_visitor_zone_the_configured_zone_is_used(profile: dict[str, str]) -> None:
    ctx = build(profile=profile)
    assert (ctx["hour"], ctx["weekday"]) == (14, "wed")
    assert "tz" not in ctx


def test_bytes_that_are_not_utf_8_become_replacement_characters() -> None:
    """aiohttp decodes a client's non-UTF-8 header bytes with surrogateescape; no log, JSON or
    VW line can hold those, so the context has U+FFFD in their place, keys and values alike."""
    latin1 = b"http://caf\xe9.example/x".decode("utf-8", "surrogateescape")
    ctx = build(
        headers=headers(user_agent=CHROME_ANDROID, referer=latin1),
        cookies={b"pl\xe4n".decode("utf-8", "surrogateescape"): "\udcff"},
    )
    assert ctx["referrer.domain"] == "caf\ufffd.example"
    assert ctx["cookie.pl\ufffdn"] == "\ufffd"
    assert all(str(k).encode() and (not isinstance(v, str) or v.encode()) for k, v in ctx.items())
    plain = build()
    assert build() == plain  # nothing to replace: the same context
