"""The tracker in real headless Chromium, through the proxy, down to what the store holds.

A visitor loads a page, dwells on and clicks a personalised slot, scrolls, stays, navigates and
leaves; ``/__vernier/me`` must then show exactly those events, attributed to the slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext

from tests.proxy_fixtures import StartProxy, serve_app

FILLER = "".join(f"<p>Paragraph {i} of a long article.</p>" for i in range(200))
ARTICLE = f"""<!doctype html><html><head><meta charset="utf-8"><title>Article</title></head>
<body>
<section id="hero" data-vernier-slot="hero" data-vernier-variant="b"
         data-vernier-decision="d_0123456789" style="height:300px;background:#eee">
  <h1>Hero</h1><a id="cta" class="cta" href="#go">Go</a>
</section>
{FILLER}
<a id="next" href="/next">Next</a>
</body></html>"""
NEXT = (
    """<!doctype html><html><head><title>Next</title></head><body><p>Next page</p></body></html>"""
)
STRICT_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'"
SPA = """<!doctype html><html><head><title>SPA</title></head><body>
<button id="go" onclick="history.pushState({}, '', '/spa/second')">go</button></body></html>"""
BROKEN_STORAGE = """<!doctype html><html><head><title>Broken</title>
<script>
window.pageErrors = 0;
window.onerror = function () { window.pageErrors += 1; };
Storage.prototype.setItem = function () { throw new Error("storage is broken"); };
Storage.prototype.getItem = function () { throw new Error("storage is broken"); };
</script></head><body><p>x</p></body></html>"""


# The page's relative URLs name another origin (a CDN; here a closed loopback port)
BASED = ARTICLE.replace("<title>", '<base href="http://127.0.0.1:9/assets/"><title>')


def page_handler(body: str, headers: dict[str, str] | None = None) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="text/html", headers=headers or {})

    return handler


@pytest.fixture
async def site() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/article", page_handler(ARTICLE))
    app.router.add_get("/next", page_handler(NEXT))
    # CSP-clean markup (no inline style), so any violation would be the tracker's
    strict = ARTICLE.replace(' style="height:300px;background:#eee"', "")
    app.router.add_get("/strict", page_handler(strict, {"Content-Security-Policy": STRICT_CSP}))
    app.router.add_get("/spa", page_handler(SPA))
    app.router.add_get("/broken", page_handler(BROKEN_STORAGE))
    app.router.add_get("/based", page_handler(BASED))
    async with serve_app(app) as url:
        yield url


Events = list[dict[str, Any]]


def count(kind: str, at_least: int) -> Callable[[Events], bool]:
    return lambda events: sum(e["type"] == kind for e in events) >= at_least


async def stored_events(
    context: BrowserContext, proxy: str, done: Callable[[Events], bool]
) -> Events:
    """Poll ``/__vernier/me`` with the browser's cookies until ``done(events)`` (bounded)."""
    cookies = {c["name"]: c["value"] for c in await context.cookies(proxy)}
    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with asyncio.timeout(15):
            while True:
                async with client.get(proxy + "/__vernier/me") as response:
                    events = (await response.json())["recent_events"]
                if done(events):
                    return sorted(events, key=lambda e: e["ts"])
                await asyncio.sleep(0.2)


async def test_a_visit_is_stored_event_by_event(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    page = await context.new_page()
    await page.goto(proxy + "/article")
    await page.wait_for_function("typeof window.vernier === 'object'")
    await page.hover("#hero h1")
    await page.wait_for_timeout(1300)  # impression: ≥ 50 % visible for ≥ 1 s; hover dwell
    await page.click("#cta")
    await page.mouse.wheel(0, 100)
    await page.evaluate(
        "window.scrollTo(0, 0.8 * document.documentElement.scrollHeight - innerHeight)"
    )
    await page.wait_for_timeout(3000)  # dwell: engaged time while visible and active
    await page.mouse.move(10, 10)
    await page.click("#next")
    await page.wait_for_url("**/next")
    await page.close(run_before_unload=True)

    events = await stored_events(
        context, proxy, lambda evs: count("pageview", 2)(evs) and count("engaged", 1)(evs)
    )
    types = [e["type"] for e in events]
    assert types.count("pageview") == 2
    assert [e["url"] for e in events if e["type"] == "pageview"] == ["/article", "/next"]
    impression = next(e for e in events if e["type"] == "impression")
    assert (impression["slot"], impression["variant"], impression["decision"]) == (
        "hero",
        "b",
        "d_0123456789",
    )
    click = next(e for e in events if e["type"] == "click" and e.get("slot") == "hero")
    assert click["decision"] == "d_0123456789"
    assert "cta" in click["target"]
    depth = max(e["depth"] for e in events if e["type"] == "scroll")
    assert 0.75 <= depth <= 1.0
    hover = next(e for e in events if e["type"] == "hover")
    assert hover["slot"] == "hero" and hover["ms"] >= 1000
    engaged_ms = sum(e["ms"] for e in events if e["type"] == "engaged")
    assert 2500 <= engaged_ms <= 8000
    assert len({e["id"] for e in events}) == len(events)  # stored once each
    await context.close()


async def test_strict_csp_page_runs_the_tracker_without_violations(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context = await browser.new_context()
    page = await context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    await page.goto(proxy + "/strict")
    await page.wait_for_function("typeof window.vernier === 'object'")
    await page.close(run_before_unload=True)
    events = await stored_events(context, proxy, count("pageview", 1))
    assert events[0]["type"] == "pageview"
    assert not [m for m in messages if "Content Security Policy" in m]
    await context.close()


async def test_spa_navigation_is_a_second_page_view(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    """... and only the page load's first page view carries the visitor's time zone."""
    proxy = await start_proxy(site)
    context = await browser.new_context(timezone_id="Asia/Tokyo")
    page = await context.new_page()
    await page.goto(proxy + "/spa")
    await page.wait_for_function("typeof window.vernier === 'object'")
    await page.click("#go")
    await page.wait_for_url("**/spa/second")
    await page.close(run_before_unload=True)
    events = await stored_events(context, proxy, count("pageview", 2))
    views = [e for e in events if e["type"] == "pageview"]
    assert [v["url"] for v in views] == ["/spa", "/spa/second"]
    assert views[0]["page"] != views[1]["page"]
    assert [v.get("tz") for v in views] == ["Asia/Tokyo", None]
    await context.close()


async def test_tracker_errors_never_reach_the_page(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    proxy = await start_proxy(site)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(proxy + "/broken")
    await page.wait_for_function("typeof window.vernier === 'object'")
    await page.evaluate("window.vernier.track('purchase', {value: 3})")
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.pageErrors") == 0
    await context.close()


async def test_a_base_href_to_another_origin_does_not_take_the_tracker_there(
    browser: Browser, site: str, start_proxy: StartProxy
) -> None:
    """The tag goes in front of ``<base>``, and the tracker posts to the page's own origin."""
    proxy = await start_proxy(site)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(proxy + "/based")
    await page.wait_for_function("typeof window.vernier === 'object'")
    await page.close(run_before_unload=True)
    events = await stored_events(context, proxy, count("pageview", 1))
    assert [e["url"] for e in events if e["type"] == "pageview"] == ["/based"]
    await context.close()
