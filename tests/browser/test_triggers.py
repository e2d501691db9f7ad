"""In-page triggers in real headless Chromium, through the proxy, down to what the store holds.

The origin's pages already hold what Vernier renders for a slot with triggers (the markup
contract in ``tracker_js/README.md``): the slot's element and, right after it, a
``<template data-vernier-trigger …>`` with the variant's element. t.js sees a template and imports
``/__vernier/triggers.js``, which applies the variant when the visitor's behaviour says so.

Each negative case ("does not fire") is bounded by a *control* trigger on a second slot whose
condition is strictly longer than the one under test: once the control has fired, the tested
one would have fired too, so no test sleeps for a guessed time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, Request

from tests.browser.test_tracker import Events, page_handler, stored_events
from tests.proxy_fixtures import StartProxy, serve_app

TRIGGERS_JS = Path(__file__).resolve().parents[2] / "proxy/tracker/static/triggers.js"
TRIGGERS_PATH = "/__vernier/triggers.js"
FILLER = "".join(f"<p>Paragraph {i} of a long product page.</p>" for i in range(300))


def slot(slot_id: str, variant: str, decision: str, text: str) -> str:
    return (
        f'<section data-vernier-slot="{slot_id}" data-vernier-variant="{variant}"'
        f' data-vernier-decision="{decision}" style="height:120px"><h2>{text}</h2></section>'
    )


def trigger_template(
    trigger: str, slot_id: str, variant: str, decision: str, when: dict[str, Any], text: str
) -> str:
    """What the server renders right after the slot's element (double-quoted, HTML-escaped)."""
    attrs = json.dumps(when).replace('"', "&quot;")
    return (
        f'<template data-vernier-trigger="{trigger}" data-vernier-slot="{slot_id}"'
        f' data-vernier-variant="{variant}" data-vernier-decision="{decision}"'
        f' data-vernier-when="{attrs}">{slot(slot_id, variant, decision, text)}</template>'
    )


def product_page(hero_when: dict[str, Any], control_when: dict[str, Any]) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Mug</title>
<script type="application/json" id="vernier-config">{{"flush_ms": 1000}}</script></head>
<body>
{slot("hero", "a", "d_hero_a", "Our mug")}
{trigger_template("linger", "hero", "c", "d_hero_c", hero_when, "Still deciding? 10 % off")}
<div class="product-image" style="width:300px;height:200px;background:#ccc"><span>mug</span></div>
<button id="add-to-cart" style="margin:20px">Add to cart</button>
{slot("side", "a", "d_side_a", "Related")}
{trigger_template("control", "side", "b", "d_side_b", control_when, "Control")}
{FILLER}
</body></html>"""


# dwell: 1.5 s of visible time unless scrolled to 25 %; its control: 2.5 s, unconditionally
DWELL = product_page({"after_ms": 1500, "max_scroll": 0.25}, {"after_ms": 2500})
# hover: 1 s over the image unless add-to-cart was clicked; its control: 2 s over the image
HOVER = product_page(
    {"after_ms": 1000, "hover": ".product-image", "without_click": "#add-to-cart"},
    {"after_ms": 2000, "hover": ".product-image"},
)

# scripts only by the nonce the proxy adds to its own element: the module t.js imports inherits it
NONCE_ONLY = "default-src 'none'; script-src 'none'; connect-src 'self'; style-src 'unsafe-inline'"


@pytest.fixture
async def site() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/dwell", page_handler(DWELL))
    app.router.add_get("/hover", page_handler(HOVER))
    app.router.add_get("/strict", page_handler(DWELL, {"Content-Security-Policy": NONCE_ONLY}))
    async with serve_app(app) as url:
        yield url


def decision_of(slot_id: str) -> str:
    return f"document.querySelector('section[data-vernier-slot={slot_id}]').dataset.vernierDecision"


async def applied(page: Page, slot_id: str, decision: str) -> None:
    """Wait for the slot's element to carry ``decision`` (a selector: no eval, fine under CSP).

    ``section``: the slot's template carries the same attributes.
    """
    selector = f"section[data-vernier-slot={slot_id}][data-vernier-decision={decision}]"
    await page.locator(selector).wait_for(state="attached", timeout=10_000)


async def open_page(
    browser: Browser, proxy: str
) -> tuple[BrowserContext, Page, asyncio.Future[str]]:
    """A visitor's tab; the future resolves to the URL t.js imports the triggers module from
    (the proxy serves it, checked here: JavaScript, immutable for its version)."""
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    version = hashlib.sha256(TRIGGERS_JS.read_bytes()).hexdigest()[:12]
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy}{TRIGGERS_PATH}?v={version}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/javascript")
            assert "immutable" in response.headers["Cache-Control"]
    page = await context.new_page()
    imported: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_request(request: Request) -> None:
        if TRIGGERS_PATH in request.url and not imported.done():
            imported.set_result(request.url)

    page.on("request", on_request)
    return context, page, imported


async def module_started(page: Page, imported: asyncio.Future[str]) -> None:
    """Wait until the triggers module runs in the tracker: t.js has asked for it, and importing
    the same URL here settles only after t.js's own import has (same module, earlier waiter)."""
    url = await asyncio.wait_for(imported, 10)
    await page.evaluate("url => import(url).then(() => true)", url)


def of_type(events: Events, kind: str) -> Events:
    return [e for e in events if e["type"] == kind]


def has(kind: str, **fields: str) -> Callable[[Events], bool]:
    return lambda events: any(
        all(e.get(k) == v for k, v in fields.items()) for e in of_type(events, kind)
    )


async def test_dwell_trigger_applies_the_variant_and_its_impression_counts(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context, page, _ = await open_page(browser, proxy)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(proxy + "/dwell")
    await applied(page, "hero", "d_hero_c")
    hero = page.locator("section[data-vernier-slot=hero]")  # (the templates carry it too)
    assert await hero.count() == 1
    assert await hero.inner_text() == "Still deciding? 10 % off"
    assert await page.locator("template[data-vernier-trigger=linger]").count() == 0

    # the new element is observed like any slot: in view for 1 s, its impression (flush_ms 1 s)
    events = await stored_events(context, proxy, has("impression", decision="d_hero_c"))
    (trigger,) = [e for e in of_type(events, "trigger") if e["trigger"] == "linger"]
    assert {k: trigger[k] for k in ("slot", "variant", "decision")} == {
        "slot": "hero",
        "variant": "c",
        "decision": "d_hero_c",
    }
    impressions = [e for e in of_type(events, "impression") if e["slot"] == "hero"]
    assert [e["decision"] for e in impressions][-1:] == ["d_hero_c"]  # (after d_hero_a's, if any)
    new_impression = impressions[-1]
    assert new_impression["variant"] == "c" and new_impression["ts"] >= trigger["ts"] + 1000
    assert errors == []
    await context.close()


async def test_dwell_trigger_does_not_fire_after_scrolling_past_max_scroll(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context, page, imported = await open_page(browser, proxy)
    await page.goto(proxy + "/dwell")
    await page.evaluate("window.scrollTo(0, 0.4 * document.documentElement.scrollHeight)")
    await module_started(page, imported)
    await applied(page, "side", "d_side_b")
    # 2.5 s of visible time have passed, 1.5 s would have fired the hero's trigger
    assert await page.evaluate(decision_of("hero")) == "d_hero_a"
    # (and the selector `applied` waits with does not see into the template)
    assert await page.locator("section[data-vernier-decision=d_hero_c]").count() == 0
    assert await page.locator("template[data-vernier-trigger=linger]").count() == 1
    events = await stored_events(context, proxy, has("trigger", trigger="control"))
    assert [e["trigger"] for e in of_type(events, "trigger")] == ["control"]
    await context.close()


async def test_hover_trigger_fires_after_lingering_on_the_image(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context, page, imported = await open_page(browser, proxy)
    await page.goto(proxy + "/hover")
    await module_started(page, imported)
    await page.mouse.move(900, 650)  # away from the image: visible time alone does not count
    await page.hover(".product-image span")
    await applied(page, "hero", "d_hero_c")
    events = await stored_events(context, proxy, has("trigger", trigger="linger"))
    trigger = next(e for e in of_type(events, "trigger") if e["trigger"] == "linger")
    assert (trigger["slot"], trigger["variant"], trigger["decision"]) == ("hero", "c", "d_hero_c")
    await context.close()


async def test_hover_trigger_does_not_fire_after_add_to_cart_was_clicked(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context, page, imported = await open_page(browser, proxy)
    await page.goto(proxy + "/hover")
    await module_started(page, imported)
    await page.click("#add-to-cart")
    await page.hover(".product-image")
    await applied(page, "side", "d_side_b")
    # 2 s over the image have passed, 1 s would have fired the hero's trigger
    assert await page.evaluate(decision_of("hero")) == "d_hero_a"
    events = await stored_events(context, proxy, has("trigger", trigger="control"))
    assert [e["trigger"] for e in of_type(events, "trigger")] == ["control"]
    await context.close()


async def test_a_nonce_only_policy_lets_the_triggers_module_run(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context, page, _ = await open_page(browser, proxy)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    await page.goto(proxy + "/strict")
    await applied(page, "hero", "d_hero_c")
    assert not [m for m in messages if "Content Security Policy" in m]
    await context.close()
