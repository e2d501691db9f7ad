"""Caches, validators and HEAD agree with what a visitor would get now (issue #14, the outside
audit): no shared cache keeps one visitor's variant, no validator or range brings back a stale or
foreign body, and every response for a page some rule or slot may change is private and
revalidated."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from proxy.govern.overload import Shed
from proxy.resources import LOAD
from tests.integration.cache_origin import (
    ASKED,
    LAST_MODIFIED,
    ORIGIN_ETAG,
    PAGE,
    create_cache_origin,
)
from tests.integration.test_conditional_requests import get
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import STARTED_APPS, StartProxy, serve_app

RULES = """
rules:
  - id: vip
    where: {paths: ["/p", "/r"]}
    when: "cookie.seg == 'vip'"
    then: [{op: set_text, selector: "#msg", value: "VIP offer"}]
  - id: filler
    where: {paths: ["/f"]}
    then: [{op: set_text, selector: "#msg", value: "Hello {{ device }} visitor"}]
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/p"]}
    control: a
    variants: {a: [], b: [{op: set_text, selector: ".t", value: "Hero B"}]}
    policy: split
    split: {b: 100}
  - id: lure
    selector: "#hero"
    where: {paths: ["/t"]}
    control: a
    variants: {a: [], c: [{op: set_text, selector: ".t", value: "Still there?"}]}
    triggers:
      - {id: idle, variant: c, after_s: 20}
"""
pytestmark = pytest.mark.rules_file("r.yaml", RULES)
CDN_FIELDS = (
    "CDN-Cache-Control",
    "Cloudflare-CDN-Cache-Control",
    "Surrogate-Control",
    "Fastly-Surrogate-Control",
)


@pytest.fixture
async def cache_origin() -> AsyncIterator[tuple[str, web.Application]]:
    app = create_cache_origin()
    async with serve_app(app) as url:
        yield url, app


@pytest.fixture
async def proxy(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> str:
    """The proxy in front of the caching origin, with this module's rules."""
    return await start_proxy(cache_origin[0], rules=str(rules_dir))


def visitor() -> aiohttp.ClientSession:
    """A browser: its cookies kept, a desktop user agent (bots are never in a split)."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"User-Agent": DESKTOP}
    )


async def test_a_personalised_page_keeps_no_field_a_cdn_would_cache_it_by(proxy: str) -> None:
    added = "&".join(f"add={name}:max-age=600" for name in CDN_FIELDS)
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/p?{added}")
    assert status == 200 and "Hero B" in body
    assert headers["Cache-Control"].startswith("private")
    assert not [name for name in CDN_FIELDS if name in headers]


def private_and_revalidated(headers: CIMultiDictProxy[str]) -> bool:
    directives = {d.strip() for d in headers.get("Cache-Control", "").split(",")}
    vary = {v.strip().lower() for value in headers.getall("Vary", ()) for v in value.split(",")}
    return (
        {"private", "no-cache"} <= directives
        and "cookie" in vary
        and not directives
        & {
            "public",
            "s-maxage=600",
            "max-age=60",
        }
    )


UNPERSONALISED = [
    pytest.param({}, id="when-false"),
    pytest.param({"Sec-GPC": "1"}, id="gpc"),
    pytest.param({"Cookie": "vernier_consent=0"}, id="consent-withdrawn"),
    pytest.param({"Range": "bytes=0-99"}, id="range"),
    pytest.param({"Range": "bytes=0-99", "Sec-GPC": "1"}, id="range-206"),
    pytest.param({"Range": "bytes=0-99", "If-Range": '"pg-v0"'}, id="failed-if-range"),
]


@pytest.mark.parametrize("asked", UNPERSONALISED)
async def test_every_response_for_a_page_in_scope_is_private_and_revalidated(
    asked: dict[str, str], proxy: str
) -> None:
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/r", **asked)
        assert status in (200, 206) and "VIP offer" not in body
        assert private_and_revalidated(headers), headers
        # out of scope, the origin's caching stands
        _, _, headers = await get(client, f"{proxy}/inj", **asked)
        assert "s-maxage=600" in headers["Cache-Control"]


async def test_an_asset_on_a_path_in_scope_keeps_the_origins_caching(proxy: str) -> None:
    """A rule's ``where`` names paths, not types: CSS on them is never changed, so a CDN may
    keep caching it for everyone."""
    asset = "add=Content-Type:text/css&add=CDN-Cache-Control:max-age%3D600"
    async with visitor() as client:
        status, _, headers = await get(client, f"{proxy}/p?{asset}")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=60, s-maxage=600"
    assert headers["CDN-Cache-Control"] == "max-age=600"
    assert "Cookie" not in headers.get("Vary", "")


async def test_a_page_in_scope_is_private_while_the_worker_sheds_load(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(
        cache_origin[0],
        rules=str(rules_dir),
        **{"overload.shed_changes_lag_ms": 100.0, "overload.shed_tag_lag_ms": 400.0},
    )
    load = STARTED_APPS[-1][LOAD]
    for _ in range(2000):
        load.record_lag(0.6)
    assert load.level() is Shed.TAG
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/p", Cookie="seg=vip")
    assert status == 200 and body.encode() == PAGE  # the origin's bytes
    assert private_and_revalidated(headers)


async def test_a_page_in_scope_is_private_when_its_rewrite_fails_and_its_breaker_opens(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> None:
    # a budget no rewrite meets: every page is the origin's with the tag, then the breakers open
    proxy = await start_proxy(cache_origin[0], rules=str(rules_dir), **{"html.budget_ms": 1e-6})
    async with visitor() as client:
        for _ in range(7):
            status, body, headers = await get(client, f"{proxy}/p", Cookie="seg=vip")
            assert status == 200 and "VIP offer" not in body
            assert private_and_revalidated(headers)


async def test_a_public_page_varies_on_the_fields_that_take_its_tracker_off(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy
) -> None:
    """Sec-GPC (and DNT) decide whether the page carries the tracker: a shared cache keyed
    without them served one visitor's copy to the other (an outside tester's CDN case)."""
    url, _ = cache_origin
    proxy = await start_proxy(url)
    async with visitor() as client:
        for opted_out in ({}, {"Sec-GPC": "1"}, {"DNT": "1"}):
            status, body, headers = await get(client, f"{proxy}/inj", **opted_out)
            assert status == 200 and ("/__vernier/t.js" in body) == (not opted_out)
            named = {v.strip().lower() for v in ",".join(headers.getall("Vary", ())).split(",")}
            assert {"sec-gpc", "dnt"} <= named, headers.getall("Vary", ())


async def test_under_required_consent_a_page_varies_on_the_cookie_too(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy
) -> None:
    """The consent cookie decides the tag (``pending`` without it): a shared cache must not
    hand one visitor's copy to another (the review)."""
    url, _ = cache_origin
    proxy = await start_proxy(url, **{"session.consent": "required"})
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/inj")
    assert status == 200 and 'data-vernier-consent="pending"' in body
    named = {v.strip().lower() for v in ",".join(headers.getall("Vary", ())).split(",")}
    assert {"sec-gpc", "dnt", "cookie"} <= named, headers.getall("Vary", ())


async def test_a_revalidated_page_keeps_the_csp_that_lets_its_tracker_run(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> None:
    """The origin repeats its CSP on a 304 (nginx's ``add_header ... always``); relayed, it
    would replace the stored policy carrying the tracker's nonce, and the next load would block
    the tracker. The 304 of a page Vernier sent with the tracker carries no CSP."""
    url, _ = cache_origin
    proxy = await start_proxy(url, rules=str(rules_dir))
    page = f"{proxy}/inj?add=Content-Security-Policy:script-src 'nonce-abc123' 'strict-dynamic'"
    async with visitor() as client:
        status, body, headers = await get(client, page, **{"Sec-Fetch-Dest": "document"})
        assert status == 200 and "/__vernier/t.js" in body
        nonce = re.search(r"'nonce-([^']+)'", headers["Content-Security-Policy"].replace(
            "'nonce-abc123'", ""))  # fmt: skip
        assert nonce is not None and f'nonce="{nonce.group(1)}"' in body
        ours = {"If-None-Match": headers["ETag"], "Sec-Fetch-Dest": "document"}
        status, _, headers = await get(client, page, **ours)
        assert status == 304 and "Content-Security-Policy" not in headers


@pytest.mark.parametrize(
    "navigation", [{"Sec-Fetch-Dest": "document"}, {"Accept": "text/html,*/*;q=0.8"}]
)
async def test_a_page_held_from_before_vernier_is_sent_again_with_the_tracker(
    navigation: dict[str, str],
    cache_origin: tuple[str, web.Application],
    start_proxy: StartProxy,
    rules_dir: Path,
) -> None:
    """A browser's copy from before Vernier (the origin's tag and date, no tracker): a 304
    would keep it, without the tracker, for good. A navigation forwards only Vernier's own
    validators; anything else (a script's fetch, an image) keeps the origin's 304s."""
    url, app = cache_origin
    proxy = await start_proxy(url, rules=str(rules_dir))
    held = {"If-None-Match": ORIGIN_ETAG, "If-Modified-Since": LAST_MODIFIED}
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/inj", **navigation, **held)
        assert status == 200 and "/__vernier/t.js" in body
        assert app[ASKED][-1] == {}  # neither the origin's tag nor its date reached it
        assert "Last-Modified" not in headers  # the origin's date names the origin's bytes
        ours = {"If-None-Match": headers["ETag"]}
        status, _, headers = await get(client, f"{proxy}/inj", **navigation, **ours)
        assert status == 304 and "Last-Modified" not in headers  # nor the 304 of this 200
        fetched = {"Sec-Fetch-Dest": "empty", "Accept": "*/*", **held}
        assert (await get(client, f"{proxy}/inj", **fetched))[0] == 304
        # a visitor who opted out gets the origin's bytes anyway: its copy is current
        assert (await get(client, f"{proxy}/inj", **navigation, **held, **{"Sec-GPC": "1"}))[
            0
        ] == 304


async def test_an_injected_page_after_a_tracker_upgrade_is_never_validated_by_its_date(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> None:
    url, app = cache_origin
    proxy = await start_proxy(url, rules=str(rules_dir))
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/inj")
        assert status == 200 and "/__vernier/t.js" in body
        assert headers["ETag"].startswith('W/"pg-v1-vn') and "Last-Modified" not in headers
        # what a browser holds from before the tracker changed: an old digest, and the date
        held = {"If-None-Match": 'W/"pg-v1-vn0ld0ld0ld0"', "If-Modified-Since": LAST_MODIFIED}
        status, body, headers = await get(client, f"{proxy}/inj", **held)
    assert status == 200 and "/__vernier/t.js" in body
    assert app[ASKED][-1] == {}  # neither the dropped tag nor the date reached the origin


@pytest.mark.parametrize(
    "asked",
    [
        pytest.param({"Range": "bytes=0-99"}, id="range"),
        pytest.param({"Range": "bytes=100-", "If-Range": LAST_MODIFIED}, id="resumed-by-date"),
        pytest.param({"Range": "bytes=100-", "If-Range": '"pg-v1"'}, id="resumed-by-tag"),
    ],
)
async def test_a_range_of_a_page_vernier_changes_is_answered_whole(
    asked: dict[str, str], proxy: str
) -> None:
    async with visitor() as client:
        _, whole, headers = await get(client, f"{proxy}/inj")
        assert "Accept-Ranges" not in headers and "Last-Modified" not in headers
        status, body, headers = await get(client, f"{proxy}/inj", **asked)
    assert (status, body) == (200, whole)  # never the origin's part of another body
    assert "Content-Range" not in headers and "Accept-Ranges" not in headers


async def test_a_range_of_a_page_vernier_leaves_alone_is_the_origins_part(proxy: str) -> None:
    async with visitor() as client:  # an opted-out visitor gets the origin's bytes
        status, body, headers = await get(
            client, f"{proxy}/inj", Range="bytes=0-99", **{"Sec-GPC": "1"}
        )
    assert (status, body.encode()) == (206, PAGE[:100])
    assert headers["Content-Range"] == f"bytes 0-99/{len(PAGE)}"


async def test_each_tracker_state_of_a_page_has_its_own_validator(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(
        cache_origin[0], rules=str(rules_dir), **{"session.consent": "required"}
    )
    page = f"{proxy}/inj"
    given, gpc = {"Cookie": "vernier_consent=1"}, {"Sec-GPC": "1"}
    async with visitor() as client:
        _, pending_body, headers = await get(client, page)
        pending = headers["ETag"]
        _, active_body, headers = await get(client, page, **given)
        active = headers["ETag"]
        _, absent_body, headers = await get(client, page, **gpc)
        absent = headers["ETag"]
        assert len({pending, active, absent}) == 3 and absent_body.encode() == PAGE
        assert "/__vernier/t.js" in pending_body and "/__vernier/t.js" in active_body
        # each state's own tag is still answered 304 in that state
        assert (await get(client, page, **{"If-None-Match": pending}))[0] == 304
        assert (await get(client, page, **given, **{"If-None-Match": active}))[0] == 304
        assert (await get(client, page, **gpc, **{"If-None-Match": absent}))[0] == 304
        # after consent, the tag of the waiting tracker gets the running one
        status, body, headers = await get(client, page, **given, **{"If-None-Match": pending})
        assert (status, body, headers["ETag"]) == (200, active_body, active)
        # after an opt-out, the tracker's tag gets the page without it; and back again
        status, body, _ = await get(client, page, **gpc, **{"If-None-Match": active})
        assert (status, body.encode()) == (200, PAGE)
        status, body, _ = await get(client, page, **given, **{"If-None-Match": absent})
        assert (status, body) == (200, active_body)


async def head(client: aiohttp.ClientSession, url: str) -> CIMultiDictProxy[str]:
    async with client.head(url) as response:
        assert await response.read() == b""
        return response.headers


async def test_head_of_a_slot_page_reports_the_get_the_visitor_would_get(proxy: str) -> None:
    async with visitor() as client:
        assert "Set-Cookie" in await head(client, f"{proxy}/p")  # ids, as a GET would
        first = await head(client, f"{proxy}/p")  # nothing held yet: stable, private
        assert first["ETag"] == (await head(client, f"{proxy}/p"))["ETag"]
        assert private_and_revalidated(first)
        await get(client, f"{proxy}/p")  # the first page view: ids, a held variant
        _, body, got = await get(client, f"{proxy}/p")
        assert "Hero B" in body
        for _ in range(2):
            headed = await head(client, f"{proxy}/p")
            assert headed["ETag"] == got["ETag"]
            assert headed["Content-Length"] == got["Content-Length"]
            assert "Set-Cookie" not in headed  # no new ids, nothing held
    jar = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(cookie_jar=jar) as stranger:  # never any ids: stable too
        tags = {(await head(stranger, f"{proxy}/p"))["ETag"] for _ in range(2)}
    assert len(tags) == 1


async def test_a_page_offering_a_trigger_revalidates_and_its_head_agrees(proxy: str) -> None:
    """The trigger's template carries a decision id of its own: it follows from the slot's, so
    the page a returning visitor is shown again is the same page (one ETag, a 304, HEAD's tag)."""
    async with visitor() as client:
        await get(client, f"{proxy}/t")  # the first page view: ids, the control held
        _, body, got = await get(client, f"{proxy}/t")
        assert "data-vernier-trigger" in body
        status, again, headers = await get(client, f"{proxy}/t")
        assert (status, again, headers["ETag"]) == (200, body, got["ETag"])
        status, _, _ = await get(client, f"{proxy}/t", **{"If-None-Match": got["ETag"]})
        assert status == 304
        headed = await head(client, f"{proxy}/t")
        assert (headed["ETag"], headed["Content-Length"]) == (got["ETag"], got["Content-Length"])
    plain = {"Accept-Encoding": "identity"}  # lengths of gzip would differ with the ids
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as stranger:
        # a visitor with no ids: its HEAD offers the trigger too, as long as its first GET
        async with stranger.head(f"{proxy}/t", headers=plain) as response:
            length = response.headers["Content-Length"]
        _, body, got = await get(stranger, f"{proxy}/t", **plain)
    assert "data-vernier-trigger" in body
    assert length == got["Content-Length"] == str(len(body.encode()))


async def test_a_placeholder_in_a_rule_without_conditions_is_filled(proxy: str) -> None:
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/f")
    assert status == 200 and "Hello desktop visitor" in body and "{{" not in body
    assert private_and_revalidated(headers)


@pytest.mark.parametrize(
    ("origin_says", "served"),
    [
        ("public, max-age=60, immutable", "private, no-cache"),
        ("no-store", "private, no-cache, no-store"),
    ],
)
async def test_a_personalised_page_is_revalidated_whatever_the_origins_freshness(
    origin_says: str, served: str, proxy: str
) -> None:
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/p?cc={origin_says}", Cookie="seg=vip")
    assert status == 200 and "VIP offer" in body
    assert headers["Cache-Control"] == served


@pytest.mark.parametrize("path", ["/inj", "/p"])
async def test_a_304_varies_as_the_200_it_validates(path: str, proxy: str) -> None:
    async with visitor() as client:
        gzip_only = {"Accept-Encoding": "gzip"}
        status, _, headers = await get(client, proxy + path, **gzip_only)
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        varies = headers.getall("Vary")
        asked = {**gzip_only, "If-None-Match": headers["ETag"]}
        status, _, headers = await get(client, proxy + path, **asked)
    assert status == 304 and headers.getall("Vary") == varies


async def test_a_page_that_sets_a_cookie_is_never_answered_304_without_it(proxy: str) -> None:
    """The origin never saw the client's conditions (Vernier owns the validator of a page in
    scope): a cookie it sets on every answer (a rotated CSRF token) must reach the client, so
    the page comes whole, for a visitor who gets the tracker and for one who does not."""
    page = f"{proxy}/r?add=Set-Cookie:csrf=fresh"
    for signal in ({}, {"Sec-GPC": "1"}):
        async with visitor() as client:
            status, _, headers = await get(client, page, **signal)
            assert status == 200 and "csrf=fresh" in headers.getall("Set-Cookie")
            again = {"If-None-Match": headers["ETag"], **signal}
            status, _, headers = await get(client, page, **again)
            assert status == 200 and "csrf=fresh" in headers.getall("Set-Cookie")
