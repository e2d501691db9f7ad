"""Caches, validators and HEAD agree with what a visitor would get now (issue #14, the outside
audit): no shared cache keeps one visitor's variant, no validator or range brings back a stale or
foreign body, and every response for a page some rule or slot may change is private and
revalidated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.integration.cache_origin import create_cache_origin
from tests.integration.test_conditional_requests import get
from tests.integration.test_rules_applied import DESKTOP
from tests.proxy_fixtures import StartProxy, serve_app

RULES = """
rules:
  - id: vip
    where: {paths: ["/p", "/r"]}
    when: "cookie.seg == 'vip'"
    then: [{op: set_text, selector: "#msg", value: "VIP offer"}]
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/p"]}
    control: a
    variants: {a: [], b: [{op: set_text, selector: ".t", value: "Hero B"}]}
    policy: split
    split: {b: 100}
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


def visitor() -> aiohttp.ClientSession:
    """A browser: its cookies kept, a desktop user agent (bots are never in a split)."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"User-Agent": DESKTOP}
    )


async def test_a_personalised_page_keeps_no_field_a_cdn_would_cache_it_by(
    cache_origin: tuple[str, web.Application], start_proxy: StartProxy, rules_dir: Path
) -> None:
    proxy = await start_proxy(cache_origin[0], rules=str(rules_dir))
    added = "&".join(f"add={name}:max-age=600" for name in CDN_FIELDS)
    async with visitor() as client:
        status, body, headers = await get(client, f"{proxy}/p?{added}")
    assert status == 200 and "Hero B" in body
    assert headers["Cache-Control"].startswith("private")
    assert not [name for name in CDN_FIELDS if name in headers]
