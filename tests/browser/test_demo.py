"""The demo in real Chromium: scenario 4's in-page trigger, and the change budget holding over
20 reloads (issue #4 and #6 "done when"). The demo's own rules are used; the trigger's 15 s is
cut to 1.5 s so the test is quick (the rule is otherwise the demo's file)."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from proxy.demo.run import DEMO_RULES
from proxy.demo.shop import run_shop, shop_port
from tests.browser.test_tracker import stored_events
from tests.demo.test_scenarios import evening_zone
from tests.integration.test_rules_applied import DESKTOP, IPHONE
from tests.proxy_fixtures import StartProxy

VARIANT = re.compile(r'data-vernier-slot="hero" data-vernier-variant="(\w+)"')


@pytest.fixture
async def shop() -> AsyncIterator[str]:
    runner = await run_shop("127.0.0.1", 0)
    yield f"http://127.0.0.1:{shop_port(runner)}"
    await runner.cleanup()


@pytest.fixture
def demo_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for file in DEMO_RULES.glob("*.yaml"):
        (folder / file.name).write_text(file.read_text().replace("after_s: 15", "after_s: 1.5"))
    return folder


async def test_lingering_on_the_product_image_brings_the_reviews_forward(
    browser: Browser, shop: str, start_proxy: StartProxy, demo_rules: Path
) -> None:
    proxy = await start_proxy(shop, rules=str(demo_rules))
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(proxy + "/products/ethiopia-guji")
        assert await page.locator(".review-nudge").count() == 0
        await page.locator(".product-image").hover()
        nudge = page.locator("#product[data-vernier-variant=reviews-forward] .review-nudge")
        await nudge.wait_for(state="visible", timeout=10_000)
        events = await stored_events(
            context, proxy, lambda es: any(e["type"] == "trigger" for e in es)
        )
        [trigger] = [e for e in events if e["type"] == "trigger"]
        assert (trigger["slot"], trigger["variant"], trigger["trigger"]) == (
            "product-detail",
            "reviews-forward",
            "lingering",
        )
    finally:
        await context.close()


async def test_clicking_add_to_cart_first_cancels_the_trigger(
    browser: Browser, shop: str, start_proxy: StartProxy, demo_rules: Path
) -> None:
    proxy = await start_proxy(shop, rules=str(demo_rules))
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(proxy + "/products/ethiopia-guji")
        await page.locator("#qty").click()  # inside #add-to-cart: the visitor is buying
        await page.locator(".product-image").hover()
        await asyncio.sleep(3)  # twice the trigger's time: it would have fired by now
        assert await page.locator(".review-nudge").count() == 0
    finally:
        await context.close()


async def test_twenty_reloads_never_change_more_than_the_budget(
    browser: Browser, shop: str, start_proxy: StartProxy
) -> None:
    # evening: the hero's pin wants 'simple' for phones and the control for the rest; the
    # visitor's browser switches between the two on every reload
    proxy = await start_proxy(shop, rules=str(DEMO_RULES), **{"context.time_zone": evening_zone()})
    context = await browser.new_context()
    try:
        page = await context.new_page()
        shown = []
        for reload in range(20):
            phone = reload % 2 == 1  # Chromium's client hints would say desktop: override them
            await page.set_extra_http_headers(
                {
                    "User-Agent": IPHONE if phone else DESKTOP,
                    "Sec-CH-UA-Mobile": "?1" if phone else "?0",
                    "Sec-CH-UA-Platform": '"iOS"' if phone else '"Linux"',
                }
            )
            await page.goto(f"{proxy}/?reload={reload}")  # never from the browser cache
            mark = VARIANT.search(await page.content())
            assert mark is not None
            shown.append(mark[1])
    finally:
        await context.close()
    changes = sum(1 for before, after in itertools.pairwise(shown) if before != after)
    assert shown[0] == "a" and changes == 1, shown  # the demo's budget: one change per session
