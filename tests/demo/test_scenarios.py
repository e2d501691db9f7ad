"""The five scenarios of ``rules/README.md``, end to end in the demo: the demo shop behind
the proxy with the demo's own rules, visitors whose profiles come from real tracker beacons
(through the collector, the stream and the profile consumer), then the page they get.

The in-page trigger of scenario 4 needs a browser: ``tests/browser/test_demo_trigger.py``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.demo.run import DEMO_RULES
from proxy.demo.shop import run_shop, shop_port
from tests.integration.test_rules_applied import DESKTOP, IPHONE
from tests.proxy_fixtures import StartProxy

_ids = itertools.count()


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"e_scenario{next(_ids):06d}", "type": kind, "ts": 1_732_250_000_000, **fields}


@pytest.fixture
async def shop() -> AsyncIterator[str]:
    runner = await run_shop("127.0.0.1", 0)
    yield f"http://127.0.0.1:{shop_port(runner)}"
    await runner.cleanup()


def evening_zone() -> str:
    """A fixed-offset zone in which it is 20:xx now (Etc/GMT-N is UTC+N)."""
    offset = (20 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


class Visitor:
    def __init__(self, proxy: str, user_agent: str = DESKTOP) -> None:
        self.proxy = proxy
        self.headers = {"User-Agent": user_agent}
        self.client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.pages = itertools.count()

    async def page(self, path: str) -> str:
        async with self.client.get(self.proxy + path, headers=self.headers) as response:
            assert response.status == 200
            return await response.text()

    async def beacon(self, *events: dict[str, Any]) -> None:
        body = orjson.dumps({"v": 1, "page": f"p_view{next(self.pages):06d}", "events": events})
        async with self.client.post(
            self.proxy + "/__vernier/e", data=body, headers={"Content-Type": "text/plain"}
        ) as response:
            assert response.status == 202, await response.text()

    async def new_session(self) -> None:
        self.client.cookie_jar.clear(lambda cookie: cookie.key == "vernier_sid")

    async def profile_until(self, field: str, value: str) -> dict[str, str]:
        async with asyncio.timeout(10):
            while True:
                async with self.client.get(self.proxy + "/__vernier/me") as response:
                    profile: dict[str, str] = (await response.json())["profile"]
                if profile.get(field) == value:
                    return profile
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.client.close()


async def test_the_engaged_reader_gets_a_different_call_to_action(
    shop: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(shop, rules=str(DEMO_RULES))
    reader = Visitor(proxy)
    try:
        first = await reader.page("/")
        assert "Shop the collection</a>" in first
        await reader.beacon(
            event("pageview", url="/"), event("scroll", depth=0.8), event("engaged", ms=31_000)
        )
        await reader.profile_until("engaged_s", "31")
        again = await reader.page("/")
    finally:
        await reader.close()
    assert 'href="/products?category=coffee">Continue where you left off</a>' in again
    skimmer = Visitor(proxy)
    try:
        await skimmer.page("/")
        await skimmer.beacon(
            event("pageview", url="/"), event("scroll", depth=0.3), event("engaged", ms=45_000)
        )
        await skimmer.profile_until("engaged_s", "45")
        assert "Shop the collection</a>" in await skimmer.page("/")  # engaged, but did not read on
    finally:
        await skimmer.close()


async def test_a_mobile_visitor_in_the_evening_gets_the_simple_hero(
    shop: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(shop, rules=str(DEMO_RULES), **{"context.time_zone": evening_zone()})
    phone, laptop = Visitor(proxy, IPHONE), Visitor(proxy, DESKTOP)
    try:
        mobile, desktop = await phone.page("/"), await laptop.page("/")
    finally:
        await phone.close()
        await laptop.close()
    assert '<h1 class="hero-title">Tonight\'s brew, sorted</h1>' in mobile
    assert 'data-vernier-slot="hero" data-vernier-variant="simple"' in mobile
    assert 'src="/static/cup.svg"' in mobile
    assert 'data-vernier-slot="hero" data-vernier-variant="a"' in desktop
    assert "Better coffee, one slow pour at a time" in desktop


async def test_a_loyal_returning_buyer_gets_the_loyalty_offer(
    shop: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(shop, rules=str(DEMO_RULES))
    regular = Visitor(proxy)
    try:
        for visit in range(3):
            if visit:
                await regular.new_session()
            await regular.page("/")
            await regular.beacon(event("pageview", url="/"), event("engaged", ms=420_000))
            await regular.profile_until("visits", str(visit + 1))
        before = await regular.page("/")
        assert "Free shipping on orders over $50" in before  # 21 minutes, 3 visits, no purchase
        await regular.beacon(
            event("pageview", url="/confirmation"),
            event("conversion", name="purchase", value=37.0, currency="USD"),
        )
        await regular.profile_until("purchases_30d", "1")
        after = await regular.page("/")
    finally:
        await regular.close()
    assert "Thanks for coming back" in after and 'class="promo promo-loyal"' in after


async def test_a_window_shopper_is_in_the_segment_and_gets_its_picks_until_they_buy(
    shop: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(shop, rules=str(DEMO_RULES))
    shopper = Visitor(proxy)
    try:
        first = await shopper.page("/")
        assert '<h2 class="section-title">Featured this week</h2>' in first
        await shopper.beacon(event("pageview", url="/"))
        for sku in ("house-blend", "ethiopia-guji", "gooseneck-kettle"):
            await shopper.page(f"/products/{sku}")
            await shopper.beacon(
                event("pageview", url=f"/products/{sku}"), event("engaged", ms=40_000)
            )
        profile = await shopper.profile_until("pageviews", "4")
        assert float(profile["interest:products"]) >= 0.5  # 3 of 4 views, 2 engaged minutes
        browsing = await shopper.page("/")
        await shopper.beacon(
            event("pageview", url="/checkout/done"),
            event("conversion", name="purchase", value=18.0, currency="USD"),
        )
        await shopper.profile_until("purchases_30d", "1")
        bought = await shopper.page("/")
    finally:
        await shopper.close()
    assert '<h2 class="section-title">Still deciding? Our three most-reviewed</h2>' in browsing
    assert '<p class="featured-note">Every bag comes with a free brew guide' in browsing
    # a purchase puts them in `buyer`, which the window-shopper segment excludes
    assert '<h2 class="section-title">Featured this week</h2>' in bought
    assert "featured-note" not in bought
